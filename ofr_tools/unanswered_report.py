"""The user questions the bot could not answer, grouped by similar wording.

A user message counts as unanswered when the NLU gave it the intent
``nlu_fallback`` or ``out_of_scope``, when the bot's reply to it ran one of
the fallback actions (``FALLBACK_ACTIONS``), or when the user gave the answer a 👎
(the ``feedback`` slot, bot/services/feedback.py). Messages are grouped per language
(the ``language`` slot once the message was read) and by similar wording. The
report shows no sender ids and no time finer than a day, and masks e-mail
addresses, phone numbers and long digit runs.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import Any, Dict, Iterable, List, Optional

from ofr.feedback import MATCH_SECONDS

FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
# data/rules/fallback.yml answers nlu_fallback with action_did_you_mean (which falls
# back to utter_rephrase when no topic is likely enough) and out_of_scope
# with utter_out_of_scope; config.yml's core fallback is action_default_fallback
# (which utters utter_default when a domain defines it).
FALLBACK_ACTIONS = frozenset(
    {
        "utter_rephrase",
        "action_did_you_mean",
        "utter_out_of_scope",
        "action_default_fallback",
        "utter_default",
        "action_two_stage_fallback",
    }
)
DEFAULT_LANGUAGE = "de"
LANGUAGE_NAMES = {"de": "German", "en": "English"}
SIMILARITY = 0.8
MAX_VARIANTS = 2
MAX_TEXT = 200

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits, at most two separators apart: "+49 30 1234", "(030) 12", "12.03.1985".
DIGITS = re.compile(r"(?<!\w)[+(]?\d(?:[ ()/.-]{0,2}\d)*")
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def mask(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers and long numbers replaced."""
    text = " ".join(EMAIL.sub("<email>", text).split())
    text = DIGITS.sub(mask_digits, text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def mask_digits(match: re.Match) -> str:
    """Five digits or more: a phone number if dialled like one (+, 0), else a number."""
    found = match.group()
    digits = sum(c.isdigit() for c in found)
    if digits < 5:
        return found
    dialled = found[0] in "+(0" and "." not in found
    return "<phone>" if dialled and digits >= 6 else "<number>"


def grouping_key(text: str) -> str:
    """Case-folded, umlauts and accents folded, punctuation and extra spaces gone."""
    text = text.casefold().translate(UMLAUTS)
    text = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    text = re.sub(r"[^\w<>]+", " ", text).replace("_", " ")
    return " ".join(text.split())


def similar(a: str, b: str) -> bool:
    """Near-duplicate wordings: close as strings, or the same words in any order."""
    if a == b:
        return True
    words_a, words_b = set(a.split()), set(b.split())
    if words_a and words_b:
        overlap = len(words_a & words_b) / len(words_a | words_b)
        if overlap >= SIMILARITY:
            return True
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= SIMILARITY


@dataclass(frozen=True)
class Unanswered:
    """One unanswered user message, already masked; nothing identifies the user."""

    text: str
    language: str
    day: date
    thumbs_down: bool = False


@dataclass
class Group:
    """Messages with similar wording in one language."""

    language: str
    keys: List[str]
    count: int = 0
    thumbs_down: int = 0  # of them answered, but the user said it did not help
    last_seen: Optional[date] = None
    wordings: Counter = field(default_factory=Counter)

    @property
    def text(self) -> str:
        return self._ranked()[0]

    @property
    def variants(self) -> List[str]:
        seen = {grouping_key(self.text)}
        variants: List[str] = []
        for wording in self._ranked()[1:]:
            if grouping_key(wording) not in seen and len(variants) < MAX_VARIANTS:
                seen.add(grouping_key(wording))
                variants.append(wording)
        return variants

    def _ranked(self) -> List[str]:
        return sorted(self.wordings, key=lambda w: (-self.wordings[w], w))


def _language(value: Any) -> str:
    return str(value).strip().lower()[:2] if value else DEFAULT_LANGUAGE


def find_unanswered(
    conversations: Iterable[Iterable[Dict[str, Any]]], start: float, end: float
) -> List[Unanswered]:
    """The unanswered user messages sent in [start, end) (epoch seconds).

    ``conversations`` yields each conversation's Rasa events (dicts) in order.
    """
    return [
        Unanswered(
            mask(turn.text),
            turn.language or DEFAULT_LANGUAGE,
            date.fromtimestamp(turn.timestamp),
            thumbs_down=turn.thumbs_down and not turn.fallback,
        )
        for events in conversations
        for turn in _turns(events)
        if turn.unanswered and start <= turn.timestamp < end
    ]


@dataclass
class _Turn:
    """A user message and what the bot did about it."""

    text: str
    timestamp: float
    fallback_intent: bool
    language: Optional[str] = None
    fallback_action: bool = False
    thumbs_down: bool = False
    answers: List[float] = field(default_factory=list)  # the bot messages' times

    @property
    def fallback(self) -> bool:
        return self.fallback_intent or self.fallback_action

    @property
    def unanswered(self) -> bool:
        return self.fallback or self.thumbs_down


def _turns(events: Iterable[Dict[str, Any]]) -> List[_Turn]:
    """The conversation's user messages (button payloads left out).

    A message's language is the ``language`` slot once the message was read
    (``action_extract_slots`` applies the detected language), before the reply.
    A 👎 names the bot message it was given to; it marks that message's turn.
    """
    language = DEFAULT_LANGUAGE
    turns: List[_Turn] = []
    turn: Optional[_Turn] = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if turn:
                turn.language = turn.language or language
            text = (event.get("text") or "").strip()
            parse_data = event.get("parse_data") or {}
            intent = (parse_data.get("intent") or {}).get("name")
            turn = None
            if text and not text.startswith("/"):
                turn = _Turn(
                    text, event.get("timestamp") or 0, intent in FALLBACK_INTENTS
                )
                turns.append(turn)
        elif kind == "bot" and turn:
            turn.answers.append(float(event.get("timestamp") or 0))
        elif kind == "slot" and event.get("name") == "language":
            language = _language(event.get("value"))
        elif kind == "slot" and event.get("name") == "feedback":
            _mark_thumbs_down(turns, event.get("value"))
        elif kind in ("restart", "reset_slots"):
            language = DEFAULT_LANGUAGE
        elif kind == "action" and turn:
            name = event.get("name")
            if name == "action_extract_slots":
                continue  # the detected language is set right after this event
            turn.language = turn.language or language
            if name == "action_listen":
                turn = None
            elif name in FALLBACK_ACTIONS:
                turn.fallback_action = True
    if turn:
        turn.language = turn.language or language
    return turns


def _mark_thumbs_down(turns: List[_Turn], vote: Any) -> None:
    if not isinstance(vote, dict) or vote.get("helpful") is not False:
        return
    try:
        at = float(vote.get("at") or "")
    except (TypeError, ValueError):
        return
    for turn in reversed(turns):
        if any(abs(answer - at) <= MATCH_SECONDS for answer in turn.answers):
            turn.thumbs_down = True
            return


def group(messages: Iterable[Unanswered]) -> List[Group]:
    """Similar wordings together; by language, then count desc, then last seen."""
    by_wording: Dict[tuple, List[Unanswered]] = {}
    for message in messages:
        by_wording.setdefault(
            (message.language, grouping_key(message.text)), []
        ).append(message)
    # Most frequent wordings first; a wording joins the first group (same language)
    # with a similar wording in it.
    ordered = sorted(by_wording.items(), key=lambda item: (-len(item[1]), item[0]))
    groups: List[Group] = []
    for (language, key), items in ordered:
        target = next(
            (
                g
                for g in groups
                if g.language == language and any(similar(k, key) for k in g.keys)
            ),
            None,
        )
        if target is None:
            target = Group(language, [])
            groups.append(target)
        target.keys.append(key)
        target.count += len(items)
        target.thumbs_down += sum(1 for item in items if item.thumbs_down)
        for item in items:
            target.wordings[item.text] += 1
            if target.last_seen is None or item.day > target.last_seen:
                target.last_seen = item.day
    return sorted(
        groups,
        key=lambda g: (
            _language_rank(g.language),
            -g.count,
            -(g.last_seen or date.min).toordinal(),
            g.text,
        ),
    )


def _language_rank(language: str) -> tuple:
    order = list(LANGUAGE_NAMES)
    return (order.index(language), "") if language in order else (len(order), language)


def language_name(language: str) -> str:
    return f"{LANGUAGE_NAMES.get(language, language)} ({language})"


def render(groups: List[Group], fmt: str, period: str) -> str:
    """The report as ``text``, ``markdown`` or ``csv``."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["language", "count", "not_helpful", "last_seen", "question", "variants"]
        )
        for g in groups:
            writer.writerow(
                [
                    g.language,
                    g.count,
                    g.thumbs_down,
                    g.last_seen,
                    g.text,
                    " | ".join(g.variants),
                ]
            )
        return out.getvalue()
    languages = sorted({g.language for g in groups}, key=_language_rank)
    lines: List[str] = []
    if fmt == "markdown":
        lines.append(f"# Unanswered questions, {period}")
        if not groups:
            lines += ["", "None."]
        for language in languages:
            mine = [g for g in groups if g.language == language]
            lines += [
                "",
                f"## {language_name(language)}: {_summary(mine)}",
                "",
                "| Count | 👎 | Last seen | Question | Variants |",
                "|---:|---:|---|---|---|",
            ]
            for g in mine:
                variants = "; ".join(_md(v) for v in g.variants)
                lines.append(
                    f"| {g.count} | {g.thumbs_down} | {g.last_seen} | {_md(g.text)} "
                    f"| {variants} |"
                )
        return "\n".join(lines) + "\n"
    lines.append(f"Unanswered questions, {period}")
    if not groups:
        lines.append("None.")
    for language in languages:
        mine = [g for g in groups if g.language == language]
        lines += [
            "",
            f"{language_name(language)}: {_summary(mine)}",
            f"  {'count':>5}  {'last seen':<10}  question",
        ]
        for g in mine:
            down = f"  (👎 {g.thumbs_down})" if g.thumbs_down else ""
            lines.append(f"  {g.count:>5}  {g.last_seen}  {g.text}{down}")
            for variant in g.variants:
                lines.append(f"  {'':>5}  {'':<10}    also: {variant}")
    return "\n".join(lines) + "\n"


def _summary(groups: List[Group]) -> str:
    count = sum(g.count for g in groups)
    return (
        f"{count} message{'' if count == 1 else 's'}, "
        f"{len(groups)} group{'' if len(groups) == 1 else 's'}"
    )


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
