"""Conversations as staff review them: read from the tracker store, turn by turn,
masked, with why a turn needs a look.

The store is the one the running bot writes (``open_store`` of
bot/storage/conversations.py, the endpoints file in ``$OFR_VAR_DIR`` or the
project), with the counts of messages the rate limits refused beside it
(bot/storage/rate_limited.py): they never reach the conversation itself. Unlike the tools' reader, the review also reads the bot's messages (what
the user saw, and the answer a 👍 / 👎 was given to).

Nothing here shows or keeps a sender id: a conversation is named by an HMAC of its
sender id with a secret of this console (``staff_secrets`` in staff.db), and every
text (the user's, the bot's, entity and slot values) is masked as the inbox masks
it (e-mail addresses, phone numbers, long numbers). Summaries of all stored
conversations are kept in this process only, and re-read for the conversations
that changed since (SQL stores: their last event id; Redis: at most every few
seconds), so the list stays fast on a large store: a request asks an SQL store only
for its newest event id and whether each known conversation's last event is still
there (purge and erasure delete whole conversations), never to count or group all
events; the sorted rows and the turns that need review are kept until they change.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from itertools import groupby
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

import sqlalchemy as sa

from bot.storage.event_rows import event_of_row
from console.accounts import METADATA
from ofr.messages import message
from ofr_tools.unanswered_report import (
    DIGITS,
    EMAIL,
    FALLBACK_ACTIONS,
    FALLBACK_INTENTS,
    mask_digits,
)

# Why a turn needs a look, in the words staff read.
REASONS = {
    "did_you_mean": "did you mean",
    "fallback": "fallback",
    "thumbs_down": "👎",
    "handover": "handover",
    "language_switch": "language switch",
    "low_confidence": "low confidence",
    "action_error": "action error",
    "rate_limit": "rate limit",
}
DEFAULT_THRESHOLD = 0.6
# Event types the review reads (SQL ``type_name``).
TYPES = ("user", "bot", "slot", "action", "restart", "reset_slots")
MASKED = ("<email>", "<phone>", "<number>")
ANY_DIGIT = re.compile(r"\d")  # what every match of DIGITS has
KEY_LENGTH = 32  # hex characters of the HMAC: 128 bits
REDIS_SECONDS = 10.0  # how long the summaries of a Redis store are kept
CHUNK = 400  # conversations read per query
MARKER_CHUNK = 900  # event ids per query where no array can be passed
FULL_SECONDS = 60.0  # SQL: every conversation's marker read again after this
FREEZE_AFTER = 1000  # summaries read at once that are kept out of full collections

SECRETS = sa.Table(
    "staff_secrets",
    METADATA,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)
REVIEWED = sa.Table(
    "staff_reviewed_turns",
    METADATA,
    sa.Column("conversation", sa.String(64), primary_key=True),
    sa.Column("turn", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
)
# The intent staff said a turn should have had ("should have been"): the save form
# of the same conversation starts from it, so nobody has to choose it twice.
CORRECTED = sa.Table(
    "staff_corrected_turns",
    METADATA,
    sa.Column("conversation", sa.String(64), primary_key=True),
    sa.Column("turn", sa.Integer, primary_key=True),
    sa.Column("intent", sa.String(100), nullable=False),
)


# ---------------------------------------------------------------- masking, ids


def mask_all(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers and long numbers replaced, as
    the inbox masks (ofr_tools/unanswered_report.py), without shortening it.

    The patterns are tried only on texts that can match them (an "@", a digit):
    trying them at every position of every text was most of the time it took to
    read a large store."""
    if "@" in text:
        text = EMAIL.sub("<email>", text)
    if ANY_DIGIT.search(text):
        text = DIGITS.sub(mask_digits, text)
    return text


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def secret(engine: sa.engine.Engine) -> bytes:
    """This console's secret for conversation keys (made once, kept in staff.db)."""
    METADATA.create_all(engine, tables=[SECRETS])
    with engine.begin() as connection:
        found = connection.execute(
            sa.select(SECRETS.c.value).where(SECRETS.c.name == "conversations")
        ).scalar()
        if found is None:
            found = secrets.token_hex(32)
            connection.execute(
                sa.insert(SECRETS).values(name="conversations", value=found)
            )
    return bytes.fromhex(found)


def conversation_key(key: bytes, sender_id: str) -> str:
    """The opaque name of a conversation in URLs and in staff.db."""
    digest = hmac.new(key, sender_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:KEY_LENGTH]


def is_key(value: str) -> bool:
    return len(value) == KEY_LENGTH and all(c in "0123456789abcdef" for c in value)


# ---------------------------------------------------------------- reviewed turns


def reviewed(engine: sa.engine.Engine) -> Set[Tuple[str, int]]:
    METADATA.create_all(engine, tables=[REVIEWED])
    with engine.connect() as connection:
        return {
            (row.conversation, row.turn)
            for row in connection.execute(
                sa.select(REVIEWED.c.conversation, REVIEWED.c.turn)
            )
        }


def reviewed_in(engine: sa.engine.Engine, conversation: str) -> Dict[int, Any]:
    """turn → the row (who, when) for one conversation."""
    return {row.turn: row for row in _turn_rows(engine, REVIEWED, conversation)}


def mark_reviewed(
    engine: sa.engine.Engine, conversation: str, turn: int, name: str
) -> None:
    _set_turn_row(engine, REVIEWED, conversation, turn, at=time.time(), name=name)


def corrections_in(engine: sa.engine.Engine, conversation: str) -> Dict[int, str]:
    """turn → the intent staff said it should have had, for one conversation."""
    return {row.turn: row.intent for row in _turn_rows(engine, CORRECTED, conversation)}


def correct_turn(
    engine: sa.engine.Engine, conversation: str, turn: int, intent: str
) -> None:
    _set_turn_row(engine, CORRECTED, conversation, turn, intent=intent)


def _turn_rows(engine: sa.engine.Engine, table: sa.Table, conversation: str) -> List:
    """The rows of one conversation in a table keyed by conversation and turn."""
    METADATA.create_all(engine, tables=[table])
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(table).where(table.c.conversation == conversation)
            )
        )


def _set_turn_row(
    engine: sa.engine.Engine,
    table: sa.Table,
    conversation: str,
    turn: int,
    **values: Any,
) -> None:
    """The turn's row in such a table, replaced by one with ``values``."""
    METADATA.create_all(engine, tables=[table])
    with engine.begin() as connection:
        connection.execute(
            sa.delete(table).where(
                table.c.conversation == conversation, table.c.turn == turn
            )
        )
        connection.execute(
            sa.insert(table).values(conversation=conversation, turn=turn, **values)
        )


# ---------------------------------------------------------------- turns


@dataclass
class BotMessage:
    text: str
    buttons: List[Tuple[str, str]] = field(default_factory=list)  # title, payload
    attachments: List[str] = field(default_factory=list)
    answer: Optional[str] = None  # the response or custom action
    staff_answer: bool = False
    timestamp: float = 0.0
    vote: Optional[bool] = None  # 👍 True, 👎 False


@dataclass
class Turn:
    """A user message and what the bot did about it; every text masked."""

    number: int
    timestamp: float
    text: str  # what the user typed (or the button's title / payload)
    payload: Optional[str] = None  # what Rasa got instead, when it differs
    follow_up: Optional[str] = None  # the rule that read a typed text
    button: bool = False  # a pressed button, nothing typed
    intent: Optional[str] = None
    confidence: Optional[float] = None
    runner_up: Optional[str] = None
    runner_up_confidence: Optional[float] = None
    entities: List[Tuple[str, str]] = field(default_factory=list)
    language: Optional[str] = None
    event_filter: Optional[str] = None
    actions: List[str] = field(default_factory=list)
    bot: List[BotMessage] = field(default_factory=list)
    reasons: List[str] = field(default_factory=list)  # keys of REASONS
    vote: Optional[bool] = None
    # The text with its entities marked up as a test story writes it, masked
    # (None: nothing typed, or what Rasa read differs from what was typed).
    marked: Optional[str] = None
    # What the bot did, in order: ("action", name, None) and ("slot", name, value)
    # for slots with a plain value (masked), for stories saved from it.
    dialogue: List[Tuple[str, str, Any]] = field(default_factory=list)
    # Messages the rate limits refused after this turn (never stored, not shown).
    refused: int = 0

    def why(self, threshold: float) -> List[str]:
        """The reasons, with low confidence for this threshold."""
        found = list(self.reasons)
        if self.low_confidence(threshold):
            found.append("low_confidence")
        return found

    def low_confidence(self, threshold: float) -> bool:
        return (
            not self.button
            and self.payload is None
            and self.confidence is not None
            and self.confidence < threshold
            and self.intent not in FALLBACK_INTENTS
        )

    @property
    def example_text(self) -> Optional[str]:
        """The text that can become a training example (None: nothing typed)."""
        if self.button or not self.text:
            return None
        return self.text

    def _reason(self, key: str) -> None:
        if key not in self.reasons:
            self.reasons.append(key)


@dataclass
class Conversation:
    key: str
    channel: str
    turns: List[Turn]
    opening: List[BotMessage]  # bot messages before the first user message

    @property
    def languages(self) -> List[str]:
        found: List[str] = []
        for turn in self.turns:
            if turn.language and turn.language not in found:
                found.append(turn.language)
        return found


def _language(value: Any) -> Optional[str]:
    return str(value).strip().lower()[:2] if value else None


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        parts = [
            f"{k}: {_value_text(v)}" for k, v in value.items() if v not in (None, [])
        ]
        return ", ".join(parts)
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value)
    return str(value)


def _filter_text(value: Any) -> str:
    """The event filter as staff read it. Its period is dates the bot computed
    (shown as they are: masked, "2022-01-01" became "<number>"); the rest may hold
    the user's words and is masked."""
    if not isinstance(value, dict):
        return mask_all(_value_text(value))
    period = value.get("period")
    rest = mask_all(_value_text({k: v for k, v in value.items() if k != "period"}))
    if not isinstance(period, dict):
        return rest
    dates = [str(period.get(k) or "")[:10] for k in ("start", "end")]
    shown = mask_all(str(period.get("label") or "")) or "period"
    if all(DATE.fullmatch(d) for d in dates):
        shown += f" ({dates[0]} to {dates[1]})"
    return f"period: {shown}" + (f", {rest}" if rest else "")


def _unavailable_texts() -> Set[str]:
    found = set()
    for language in ("en", "de"):
        try:
            found.add(" ".join(message("action_unavailable", language).split()))
        except Exception:  # noqa: BLE001 - a broken messages file: no such reason
            continue
    return found


def read_turns(events: Iterable[Dict[str, Any]]) -> Tuple[List[Turn], List[BotMessage]]:
    """The turns of a conversation (its events in order) and the bot's messages
    before the first user message."""
    unavailable = {mask_all(text) for text in _unavailable_texts()}
    turns: List[Turn] = []
    opening: List[BotMessage] = []
    turn: Optional[Turn] = None
    language: Optional[str] = None  # the language slot
    before: Optional[str] = None  # the language before the current turn
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if turn is not None and turn.language is None:
                turn.language = language
            turn = _user_turn(len(turns), event)
            turns.append(turn)
            before = language
        elif kind == "bot":
            bot = _bot_message(event)
            if turn is None:
                opening.append(bot)
                continue
            turn.bot.append(bot)
            if " ".join(bot.text.split()) in unavailable:
                turn._reason("action_error")
            if bot.staff_answer:
                turn._reason("handover")
        elif kind == "slot":
            name, value = event.get("name"), event.get("value")
            if name == "language":
                language = _language(value)
                if (
                    turn is not None
                    and turn.number > 0
                    and before
                    and language
                    and language != before
                ):
                    turn._reason("language_switch")
            elif name == "feedback" and isinstance(value, dict):
                _vote(turns, value)
            elif name == "event_filter" and turn is not None and value:
                turn.event_filter = _filter_text(value)
            if turn is not None and _plain(value):
                shown = mask_all(value) if isinstance(value, str) else value
                turn.dialogue.append(("slot", str(name), shown))
        elif kind == "action" and turn is not None:
            name = str(event.get("name") or "")
            if name in ("action_listen", "action_extract_slots", ""):
                if name == "action_listen":
                    turn.language = turn.language or language
                continue
            turn.actions.append(name)
            turn.dialogue.append(("action", name, None))
            if name == "action_did_you_mean":
                turn._reason("did_you_mean")
            elif name in FALLBACK_ACTIONS:
                turn._reason("fallback")
            elif name == "action_offer_handover":
                turn._reason("handover")
            elif name == "action_switch_language":
                turn._reason("language_switch")
        elif kind in ("restart", "reset_slots"):
            language = None
    if turn is not None and turn.language is None:
        turn.language = language
    for turn in turns:
        if turn.intent in FALLBACK_INTENTS and "did_you_mean" not in turn.reasons:
            turn._reason("fallback")
    return turns, opening


def _user_turn(number: int, event: Dict[str, Any]) -> Turn:
    text = str(event.get("text") or "")
    metadata = event.get("metadata") or {}
    typed = metadata.get("ofr_typed") if isinstance(metadata, dict) else None
    follow_up = metadata.get("ofr_follow_up") if isinstance(metadata, dict) else None
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    ranking = [
        r
        for r in parse.get("intent_ranking") or []
        if isinstance(r, dict) and r.get("name") != intent.get("name")
    ]
    if isinstance(typed, str) and typed.strip():
        shown, payload = typed, text
    elif text.startswith("/"):
        shown, payload = text, None
    else:
        shown, payload = text, None
    turn = Turn(
        number,
        float(event.get("timestamp") or 0),
        _short(mask_all(shown), 2000),
        payload=_short(mask_all(payload), 300)
        if payload and payload != shown
        else None,
        follow_up=str(follow_up) if follow_up else None,
        button=not typed and text.startswith("/"),
        intent=intent.get("name"),
        confidence=_number(intent.get("confidence")),
        runner_up=ranking[0].get("name") if ranking else None,
        runner_up_confidence=_number(ranking[0].get("confidence")) if ranking else None,
        entities=[
            (str(e.get("entity")), mask_all(_value_text(e.get("value"))))
            for e in parse.get("entities") or event.get("entities") or []
            if isinstance(e, dict)
        ],
    )
    if payload is None and not turn.button and text.strip():
        turn.marked = _marked(text, parse.get("entities") or event.get("entities"))
    return turn


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _marked(text: str, entities: Any) -> str:
    """``text`` with Rasa's markup for the entities found in it by position
    (``[Hamburg](city)``, or with the value when it differs), then masked."""
    spans = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict):
            continue
        start, end = entity.get("start"), entity.get("end")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        if 0 <= start < end <= len(text) and entity.get("entity"):
            spans.append((start, end, str(entity["entity"]), entity.get("value")))
    out, at = [], 0
    for start, end, name, value in sorted(spans):
        if start < at:
            continue  # overlapping: the first one stays
        words = text[start:end]
        if value == words or value is None:
            mark = f"[{words}]({name})"
        else:
            found = json.dumps({"entity": name, "value": value}, ensure_ascii=False)
            mark = f"[{words}]{found}"
        out += [text[at:start], mark]
        at = end
    return mask_all("".join(out) + text[at:])


def _number(value: Any) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bot_message(event: Dict[str, Any]) -> BotMessage:
    data = event.get("data") or {}
    metadata = event.get("metadata") or {}
    buttons = [
        (mask_all(str(b.get("title") or "")), mask_all(str(b.get("payload") or "")))
        for b in (data.get("buttons") or data.get("quick_replies") or [])
        if isinstance(b, dict)
    ]
    attachments = [
        kind for kind in ("image", "attachment", "custom", "elements") if data.get(kind)
    ]
    answer = metadata.get("ofr_answer") or metadata.get("utter_action")
    return BotMessage(
        mask_all(str(event.get("text") or "")),
        buttons,
        attachments,
        str(answer) if answer else None,
        bool(metadata.get("ofr_staff_answer")),
        float(event.get("timestamp") or 0),
    )


def _vote(turns: List[Turn], value: Dict[str, Any]) -> None:
    """A 👍 / 👎 (the ``feedback`` slot) on the bot message it names."""
    try:
        at = float(value.get("at") or "")
    except (TypeError, ValueError):
        return
    helpful = value.get("helpful")
    if not isinstance(helpful, bool):
        return
    target: Optional[Turn] = None
    for turn in reversed(turns):
        for bot in turn.bot:
            if abs(bot.timestamp - at) <= 1e-5:
                bot.vote = helpful
                target = turn
        if target is not None:
            break
    if target is None:  # no bot messages read: the last turn before the answer
        target = next((t for t in reversed(turns) if t.timestamp <= at), None)
    if target is None:
        return
    target.vote = helpful
    if not helpful:
        target._reason("thumbs_down")


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Summary:
    """One row of the conversations list."""

    key: str
    channel: str
    languages: Tuple[str, ...]
    turns: int
    first_question: str
    first_at: float
    last_at: float
    flagged: Tuple[Tuple[int, Tuple[str, ...]], ...]  # turn → reasons
    confidences: Tuple[Tuple[int, float], ...]  # turns low confidence may flag
    # Per turn, for the insights: when, the intent, the reasons, 👍 / 👎.
    moments: Tuple[Tuple[float, str, Tuple[str, ...], Optional[bool]], ...] = ()

    def why(
        self, threshold: float, done: Set[Tuple[str, int]]
    ) -> List[Tuple[int, List[str]]]:
        """The turns that still need a look and why, for this threshold."""
        found: Dict[int, List[str]] = {n: list(r) for n, r in self.flagged}
        for number, confidence in self.confidences:
            if confidence < threshold:
                found.setdefault(number, []).append("low_confidence")
        return [
            (number, reasons)
            for number, reasons in sorted(found.items())
            if (self.key, number) not in done
        ]


# ---------------------------------------------------------------- rate limits


def _turn_before(times: List[float], moment: float) -> int:
    """The turn a refusal at ``moment`` followed (the first, if it came before
    any stored turn)."""
    return max(0, bisect_right(times, moment) - 1)


def with_refusals(row: Summary, episodes: Iterable[Any]) -> Summary:
    """``row`` with "rate limit" on the turns after which messages were refused
    (bot/storage/rate_limited.py); the row itself when none were."""
    if not row.turns:
        return row
    flagged = {number: list(reasons) for number, reasons in row.flagged}
    times = [moment[0] for moment in row.moments]
    found = False
    for episode in episodes:
        reasons = flagged.setdefault(_turn_before(times, episode.first_at), [])
        if "rate_limit" not in reasons:
            reasons.append("rate_limit")
        found = True
    if not found:
        return row
    return replace(
        row, flagged=tuple((n, tuple(r)) for n, r in sorted(flagged.items()))
    )


def add_refusals(turns: List[Turn], episodes: Iterable[Any]) -> None:
    """Mark the turns after which messages were refused, with how many."""
    if not turns:
        return
    times = [turn.timestamp for turn in turns]
    for episode in episodes:
        turn = turns[_turn_before(times, episode.first_at)]
        turn._reason("rate_limit")
        turn.refused += episode.messages


def channel_of(sender_id: str, events: List[Dict[str, Any]]) -> str:
    channel, separator, _ = sender_id.partition(":")
    if separator and channel in ("telegram", "socketio", "rest"):
        return channel
    for event in events:
        if event.get("event") == "user" and event.get("input_channel"):
            return str(event["input_channel"])
    return "other"


def summarise(key: str, sender_id: str, events: List[Dict[str, Any]]) -> Summary:
    turns, _ = read_turns(events)
    first = next((t for t in turns if not t.button), turns[0] if turns else None)
    languages: List[str] = []
    for turn in turns:
        if turn.language and turn.language not in languages:
            languages.append(turn.language)
    return Summary(
        key,
        channel_of(sender_id, events),
        tuple(languages),
        len(turns),
        _short(first.text) if first else "",
        turns[0].timestamp if turns else 0.0,
        turns[-1].timestamp if turns else 0.0,
        tuple((t.number, tuple(t.reasons)) for t in turns if t.reasons),
        tuple(
            (t.number, t.confidence)
            for t in turns
            if t.confidence is not None and t.confidence < 1.0 and t.low_confidence(1.0)
        ),
        tuple((t.timestamp, t.intent or "", tuple(t.reasons), t.vote) for t in turns),
    )


class ConversationIndex:
    """Summaries of every stored conversation, re-read when they change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store: Any = None
        self.store_marker: Optional[Tuple[str, float]] = None
        self.summaries: Dict[str, Tuple[Any, Summary]] = {}  # sender → marker, row
        self.senders: Dict[str, str] = {}  # key → sender (in memory only)
        self.read_at = 0.0
        self.last_id: Optional[int] = None  # SQL: the last event id read
        self.full_at = 0.0
        self.version = 0  # one more whenever a summary is kept or dropped
        self.sorted: Tuple[int, List[Summary]] = (-1, [])
        self.flags: Tuple[Any, Dict[str, List[Tuple[int, List[str]]]]] = (None, {})

    def _open(self, endpoints: Path) -> Any:
        from bot.storage.conversations import open_store

        marker = (
            str(endpoints),
            endpoints.stat().st_mtime if endpoints.is_file() else 0,
        )
        if self.store is None or marker != self.store_marker:
            self.store = open_store(endpoints)  # StoreUnavailable says why not
            self.store_marker = marker
            self.summaries, self.senders = {}, {}
            self.last_id = None
            self.version += 1
        return self.store

    def all(self, endpoints: Path, key: bytes) -> List[Summary]:
        """Every stored conversation with a user message, newest first."""
        with self.lock:
            store = self._open(endpoints)
            if hasattr(store, "engine"):
                self._refresh_sql(store, key)
            elif time.monotonic() - self.read_at > REDIS_SECONDS or not self.summaries:
                self._refresh_redis(store, key)
            self.read_at = time.monotonic()
            return list(self._sorted())

    def _sorted(self) -> List[Summary]:
        if self.sorted[0] != self.version:
            rows = [row for _, row in self.summaries.values() if row.turns]
            rows.sort(key=lambda r: r.last_at, reverse=True)
            self.sorted = (self.version, rows)
        return self.sorted[1]

    def needing_review(
        self, threshold: float, done: Set[Tuple[str, int]]
    ) -> Dict[str, List[Tuple[int, List[str]]]]:
        """key → the turns that need a look and why (``Summary.why``), for the
        summaries as ``all`` last read them; only rows with such turns are named."""
        with self.lock:
            wanted = (self.version, threshold, frozenset(done))
            if self.flags[0] != wanted:
                found = {row.key: row.why(threshold, done) for row in self._sorted()}
                self.flags = (wanted, {key: why for key, why in found.items() if why})
            return self.flags[1]

    def sender(self, endpoints: Path, key: bytes, conversation: str) -> Optional[str]:
        if conversation not in self.senders:
            self.all(endpoints, key)
        return self.senders.get(conversation)

    def events(self, endpoints: Path, sender_id: str) -> List[Dict[str, Any]]:
        """Every event of one conversation that the review reads."""
        with self.lock:
            store = self._open(endpoints)
        if hasattr(store, "engine"):
            for _, events in _sql_events(store, [sender_id]):
                return events
            return []
        stored = store.red.get(store.prefix + sender_id)
        try:
            return list(json.loads(stored).get("events") or []) if stored else []
        except ValueError:
            return []

    def refusals(
        self, endpoints: Path, key: bytes, var_dir: Path
    ) -> Dict[str, List[Any]]:
        """Conversation name → its episodes of rate-limited messages (few rows:
        read at each request), from the store beside the conversations."""
        from bot.storage.rate_limited import refusal_store_for

        with self.lock:
            store = self._open(endpoints)
        return {
            conversation_key(key, sender): episodes
            for sender, episodes in refusal_store_for(store, var_dir).episodes().items()
        }

    def beside(self, endpoints: Path) -> Any:
        """The opened store, for the bot's tables beside the conversations
        (``engine_beside`` finds the SQL engine in it)."""
        with self.lock:
            return self._open(endpoints)

    def _keep(self, key: bytes, sender: str, marker: Any, events: List[Dict]) -> None:
        name = conversation_key(key, sender)
        self.summaries[sender] = (marker, summarise(name, sender, events))
        self.senders[name] = sender
        self.version += 1

    def _drop(self, sender: str) -> None:
        del self.summaries[sender]
        self.version += 1

    def _markers_gone(self, connection: Any, store: Any) -> bool:
        """True when a known conversation's last event is no longer stored: a
        purge or an erasure deleted it (both delete whole conversations)."""
        markers = [marker for marker, _ in self.summaries.values()]
        return _stored(connection, store.table, markers) != len(markers)

    def _refresh_sql(self, store: Any, key: bytes) -> None:
        """Re-read the conversations with events newer than the last read; all
        markers (each conversation's last event id) again when one of them is
        gone (erasure, purge) and once a minute."""
        events = store.table.c
        with store.engine.connect() as connection:
            top = connection.execute(sa.select(sa.func.max(events.id))).scalar() or 0
            recent = time.monotonic() - self.full_at < FULL_SECONDS
            if (
                self.last_id is not None
                and recent
                and top >= self.last_id
                and not self._markers_gone(connection, store)
            ):
                if top == self.last_id:
                    return
                new = connection.execute(
                    sa.select(events.sender_id, sa.func.max(events.id))
                    .where(events.id > self.last_id)
                    .group_by(events.sender_id)
                ).all()
                self.last_id = top
                self._read_sql(store, key, {row[0]: row[1] for row in new})
                return
            markers = dict(
                connection.execute(
                    sa.select(events.sender_id, sa.func.max(events.id)).group_by(
                        events.sender_id
                    )
                ).all()
            )
        for sender in list(self.summaries):
            if sender not in markers:
                self._drop(sender)
        self.senders = {
            name: sender for name, sender in self.senders.items() if sender in markers
        }
        self.last_id, self.full_at = top, time.monotonic()
        self._read_sql(store, key, markers)

    def _read_sql(self, store: Any, key: bytes, markers: Dict[str, Any]) -> None:
        """Summarise the conversations whose marker changed."""
        changed = [
            sender
            for sender, marker in markers.items()
            if self.summaries.get(sender, (None,))[0] != marker
        ]
        for start in range(0, len(changed), CHUNK):
            for sender, events in _sql_events(store, changed[start : start + CHUNK]):
                self._keep(key, sender, markers[sender], events)
        if len(changed) >= FREEZE_AFTER:
            _spare_from_collection()

    def _refresh_redis(self, store: Any, key: bytes) -> None:
        found: Set[str] = set()
        read = 0
        for redis_key, events in store._dialogues():
            name = redis_key.decode() if isinstance(redis_key, bytes) else redis_key
            sender = name[len(store.prefix) :]
            found.add(sender)
            marker = (len(events), events[-1].get("timestamp") if events else 0)
            if self.summaries.get(sender, (None,))[0] != marker:
                self._keep(key, sender, marker, events)
                read += 1
        for sender in list(self.summaries):
            if sender not in found:
                self._drop(sender)
        self.senders = {n: s for n, s in self.senders.items() if s in found}
        if read >= FREEZE_AFTER:
            _spare_from_collection()


def _spare_from_collection() -> None:
    """Keep the summaries just read out of Python's full garbage collections.

    Thousands of summaries are long-lived objects that every full collection
    walks: with 10,000 conversations that took 100–150 ms in one request out of
    ten. Frozen objects are still freed when nothing refers to them (summaries
    hold no reference cycles), so a summary read again later costs no memory."""
    gc.collect()
    gc.freeze()


def _stored(connection: Any, table: sa.Table, ids: List[int]) -> int:
    """How many of the event ``ids`` are in ``table``: one parameter on SQLite
    (a JSON array) and PostgreSQL (an array), since thousands of bound values cost
    more than the lookups; chunks of them elsewhere."""
    if not ids:
        return 0
    dialect = connection.dialect.name
    if dialect == "sqlite":
        query = sa.text(
            "SELECT count(*) FROM json_each(:ids) WHERE EXISTS "
            f'(SELECT 1 FROM "{table.name}" WHERE id = value)'
        )
        return connection.execute(query, {"ids": json.dumps(ids)}).scalar()
    if dialect == "postgresql":
        query = sa.text(
            f'SELECT count(*) FROM "{table.name}" WHERE id = ANY(CAST(:ids AS bigint[]))'
        )
        array = "{" + ",".join(str(int(i)) for i in ids) + "}"
        return connection.execute(query, {"ids": array}).scalar()
    return sum(
        connection.execute(
            sa.select(sa.func.count()).where(
                table.c.id.in_(ids[start : start + MARKER_CHUNK])
            )
        ).scalar()
        for start in range(0, len(ids), MARKER_CHUNK)
    )


def _sql_events(
    store: Any, senders: List[str]
) -> Iterator[Tuple[str, List[Dict[str, Any]]]]:
    table = store.table
    query = (
        sa.select(
            table.c.sender_id,
            table.c.type_name,
            table.c.timestamp,
            table.c.action_name,
            table.c.data,
        )
        .where(table.c.sender_id.in_(senders), table.c.type_name.in_(TYPES))
        .order_by(table.c.sender_id, table.c.id)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query)
        for sender, group in groupby(rows, key=lambda row: row.sender_id):
            yield sender, [event_of_row(row) for row in group]
