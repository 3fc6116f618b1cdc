"""Many made-up but realistic conversations, written to a tracker store the way the
bot writes them, for benchmarks of the pages that read the store.

Each conversation is a session as Rasa 3.6 logs it (``action_session_start``,
``session_started``, the language slot, ``action_listen``), then 2–12 turns: the
user's message with Rasa's parse data (a ten-intent ranking), the featurization
record the policies add, ``action_extract_slots``, the language slot, the answer's
action and its bot message, ``action_listen``. User texts are the project's own
training examples (EN or DE), answers the domain's responses. Some turns are a
did-you-mean, an out-of-scope fallback, a handover offer or get a 👎, so the
console's needs-review filter has hits. Rows come from
``bot.storage.tracker_store.event_row`` (the rows the bot's SQL store writes) and
are inserted many at a time, so 10,000 conversations take seconds, not minutes.
"""

from __future__ import annotations

import random
import re
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = (("socketio", 0.5), ("telegram", 0.3), ("rest", 0.2))
LANGUAGES = (("de", 0.55), ("en", 0.45))
# Per turn: how often it goes wrong in each way the review looks for.
DID_YOU_MEAN, OUT_OF_SCOPE, HANDOVER, THUMBS_DOWN = 0.04, 0.015, 0.01, 0.02
ACTIONS = {
    "ask_events": "action_search_events",
    "more_events": "action_more_events",
    "ask_event_details": "action_event_details",
    "ask_past_events": "action_past_events",
    "inform_event_filter": "action_search_events",
    "subscribe_events": "action_subscribe_events",
    "switch_language": "action_switch_language",
}
# Intents a conversation is not made of (they end or change it).
LEFT_OUT = {"delete_my_data", "confirm_delete", "keep_conversation", "ask_human"}
MARKUP = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def _examples() -> Dict[str, Dict[str, List[str]]]:
    """language → intent → the training examples, entity markup removed."""
    found: Dict[str, Dict[str, List[str]]] = {}
    for language in ("en", "de"):
        texts: Dict[str, List[str]] = {}
        for path in sorted((ROOT / "data" / "nlu" / language).glob("*.yml")):
            for block in yaml.safe_load(path.read_text(encoding="utf-8")).get(
                "nlu", []
            ):
                if "intent" not in block or block["intent"] in LEFT_OUT:
                    continue
                lines = str(block.get("examples") or "").splitlines()
                texts.setdefault(block["intent"], []).extend(
                    MARKUP.sub(r"\1", line.strip()[2:])
                    for line in lines
                    if line.strip().startswith("- ")
                )
        found[language] = {k: v for k, v in texts.items() if v}
    return found


def _answers() -> Dict[str, Dict[str, str]]:
    """response name → language → its first text."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    found: Dict[str, Dict[str, str]] = {}
    for name, variations in domain.get("responses", {}).items():
        for variation in variations:
            for condition in variation.get("condition") or []:
                if condition.get("name") == "language" and variation.get("text"):
                    found.setdefault(name, {}).setdefault(
                        condition["value"], variation["text"]
                    )
    return found


def _pick(rng: random.Random, weighted: Sequence[Tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


class ConversationMaker:
    """Rasa events for made-up conversations, the same for the same seed."""

    def __init__(self, seed: int = 31) -> None:
        self.rng = random.Random(seed)
        self.examples = _examples()
        self.answers = _answers()
        self.intents = sorted(
            set(self.examples["en"]) & set(self.examples["de"]) - {"out_of_scope"}
        )

    def sender(self, channel: str) -> str:
        rng = self.rng
        if channel == "telegram":
            return f"telegram:{rng.randint(10**8, 10**10)}"
        return f"{channel}:{uuid.UUID(int=rng.getrandbits(128)).hex}"

    def events(self, sender: str, start: float) -> List[Any]:
        """One session of 2–12 turns from ``start`` (epoch seconds)."""
        from rasa.shared.core.events import (
            ActionExecuted,
            SessionStarted,
            SlotSet,
        )

        rng = self.rng
        channel = sender.split(":")[0]
        language = _pick(rng, LANGUAGES)
        events: List[Any] = [
            ActionExecuted("action_session_start", timestamp=start),
            SessionStarted(timestamp=start),
            SlotSet("language", language, timestamp=start),
            ActionExecuted("action_listen", timestamp=start),
        ]
        at = start
        for _ in range(rng.randint(2, 12)):
            at += rng.uniform(8, 120)
            events += self._turn(channel, language, at)
        return events

    def _turn(self, channel: str, language: str, at: float) -> List[Any]:
        from rasa.shared.core.events import (
            ActionExecuted,
            BotUttered,
            DefinePrevUserUtteredFeaturization,
            SlotSet,
            UserUttered,
        )

        rng = self.rng
        roll = rng.random()
        intent = rng.choice(self.intents)
        text = rng.choice(self.examples[language][intent])
        confidence = rng.betavariate(8, 1.2)
        buttons: List[Dict[str, str]] = []
        if roll < DID_YOU_MEAN:
            shown, intent, confidence = text, "nlu_fallback", rng.uniform(0.2, 0.45)
            action, answer = "action_did_you_mean", self._did_you_mean(language)
            buttons = [
                {"title": name.replace("_", " "), "payload": f"/{name}"}
                for name in rng.sample(self.intents, 2)
            ] + [{"title": "…", "payload": "/ask_human"}]
        elif roll < DID_YOU_MEAN + OUT_OF_SCOPE:
            intent = "out_of_scope"
            text = rng.choice(self.examples[language]["out_of_scope"])
            action = "utter_out_of_scope"
            answer = self.answers[action][language]
        elif roll < DID_YOU_MEAN + OUT_OF_SCOPE + HANDOVER:
            intent, action = "ask_individual_case", "action_offer_handover"
            text = rng.choice(self.examples[language][intent])
            answer = "Shall I pass your question on to IOM staff?"
            buttons = [{"title": "Yes", "payload": "/affirm"}]
        else:
            action = ACTIONS.get(intent, f"utter_{intent.removeprefix('ask_')}")
            answer = self.answers.get(action, {}).get(language) or "…"
        shown = text
        others = rng.sample([i for i in self.intents if i != intent], 9)
        rest = 1.0 - confidence
        ranking = [{"name": intent, "confidence": confidence}] + [
            {"name": name, "confidence": rest / 2 ** (n + 1)}
            for n, name in enumerate(others)
        ]
        parse = {
            "text": shown,
            "intent": ranking[0],
            "entities": [],
            "intent_ranking": ranking,
            "message_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "metadata": {},
        }
        events = [
            UserUttered(
                shown,
                ranking[0],
                [],
                parse_data=parse,
                timestamp=at,
                input_channel=channel,
                message_id=parse["message_id"],
            ),
            DefinePrevUserUtteredFeaturization(False, timestamp=at),
            ActionExecuted("action_extract_slots", timestamp=at),
            SlotSet("language", language, timestamp=at),
            ActionExecuted(action, "RulePolicy", 1.0, timestamp=at + 0.2),
            BotUttered(
                answer,
                data={
                    "elements": None,
                    "quick_replies": None,
                    "buttons": buttons or None,
                    "attachment": None,
                    "image": None,
                    "custom": None,
                },
                metadata={"utter_action": action},
                timestamp=at + 0.3,
            ),
            ActionExecuted("action_listen", "RulePolicy", 1.0, timestamp=at + 0.3),
        ]
        if rng.random() < THUMBS_DOWN:
            vote = {
                "helpful": False,
                "answer": action,
                "intent": intent,
                "at": at + 0.3,
            }
            events.append(SlotSet("feedback", vote, timestamp=at + 5))
        return events

    def _did_you_mean(self, language: str) -> str:
        from ofr.messages import message

        return message("did_you_mean", language)

    def rows(
        self, count: int, now: float, days: float = 60.0
    ) -> Iterator[List[Dict[str, Any]]]:
        """The ``events`` rows of ``count`` conversations started over the last
        ``days`` days, one list per conversation, oldest conversation first."""
        from bot.storage.tracker_store import event_row

        starts = sorted(now - self.rng.uniform(0, days * 86400) for _ in range(count))
        for start in starts:
            sender = self.sender(_pick(self.rng, CHANNELS))
            yield [event_row(sender, event) for event in self.events(sender, start)]


def fill(stores: Sequence[Any], count: int, now: float, chunk: int = 20000) -> int:
    """Write the same ``count`` conversations to each of the bot's SQL tracker
    stores; the rows written to each. The rows are made once; each store writes
    a batch in a thread of its own while the next batch is made."""
    written, batch = 0, []
    with ThreadPoolExecutor(max_workers=len(stores) or 1) as pool:
        pending: List[Future] = []

        def write(rows: List[Dict[str, Any]]) -> None:
            for done in pending:
                done.result()
            pending[:] = [pool.submit(_insert, store, rows) for store in stores]

        for rows in ConversationMaker().rows(count, now):
            batch += rows
            if len(batch) >= chunk:
                write(batch)
                written, batch = written + len(batch), []
        if batch:
            write(batch)
            written += len(batch)
        for done in pending:
            done.result()
    return written


def _insert(store: Any, rows: List[Dict[str, Any]]) -> None:
    with store.engine.begin() as connection:
        connection.execute(store.SQLEvent.__table__.insert(), rows)
