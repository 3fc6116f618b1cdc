"""What the bot last showed and the question it waits for, read from the events.

Both come from the conversation's own events (Rasa's event dicts), so that nothing
needs to be kept in step: the ``shown_events`` slot that the event actions set, the
last answering action, and the buttons of the bot's last question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

# Message metadata on the first message of a conversation without a channel's
# language hint: the language detector then lets the message's own evidence decide.
FIRST_MESSAGE_KEY = "ofr_first_message"

# The slot the event actions set: {"ids": [...], "kind": ..., "year": ...}.
SHOWN_SLOT = "shown_events"
# The slot that keeps the conversation's event search (ofr/events/event_filter.py).
FILTER_SLOT = "event_filter"

# A question stays open this many user turns (an unrelated one is answered, and a
# plain "yes" after it still answers the question) and this long.
OPEN_TURNS = 3
OPEN_SECONDS = 15 * 60

# Answers that do not change the topic of the conversation.
NEUTRAL_ACTIONS = frozenset(
    {
        "action_listen",
        "action_session_start",
        "action_unlikely_intent",
        "utter_thank",
        "utter_acknowledge",
        "utter_greet",
        "action_switch_language",
        # Not understood: what was in view stays in view ("um wie viel Uhr war
        # das?" after a "did you mean" still asks about the event shown before).
        "action_did_you_mean",
        "action_default_fallback",
    }
)

EVENT_ACTIONS = frozenset(
    {
        "action_search_events",
        "action_past_events",
        "action_more_events",
        "action_event_details",
    }
)

# The bot's questions: which of their buttons means yes and which no. A question
# of the "did you mean" kind has options and no yes.
QUESTION_ACTIONS = {
    "utter_confirm_delete": "delete",
    "action_offer_handover": "handover",
    "action_subscribe_events": "subscribe",
    "action_did_you_mean": "did_you_mean",
}
DELETE_YES = "/confirm_delete"
DELETE_NO = "/keep_conversation"
NO_THANKS = "/acknowledge"
# Intents that answer a question when Rasa reads them itself (a typed "yes, delete
# it" or a pressed button).
ANSWER_INTENTS = {
    "delete": frozenset({"confirm_delete", "keep_conversation"}),
}


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class PendingQuestion:
    """A question of the bot's that a plain "yes", "no" or "the second" answers."""

    kind: str
    buttons: Tuple[Button, ...]
    asked_at_turn: int
    asked_at: float = 0.0

    @property
    def yes(self) -> Optional[str]:
        """The payload a plain yes stands for, if the question has one."""
        if self.kind == "delete":
            return DELETE_YES
        if self.kind == "handover":
            return next(
                (b.payload for b in self.buttons if b.payload.startswith("handover:")),
                None,
            )
        if self.kind == "subscribe":
            return next(
                (b.payload for b in self.buttons if b.payload.startswith("sub:")), None
            )
        topics = self.options
        return topics[0].payload if len(topics) == 1 else None

    @property
    def no(self) -> str:
        return DELETE_NO if self.kind == "delete" else NO_THANKS

    @property
    def options(self) -> Tuple[Button, ...]:
        """The buttons an ordinal picks ("the second"): all but a plain "no"."""
        if self.kind == "did_you_mean":
            # "Something else: ask IOM" stays a button; "the first" means a topic.
            return tuple(b for b in self.buttons if b.payload != "/ask_human")
        if self.kind == "subscribe":
            return tuple(b for b in self.buttons if b.payload.startswith("sub:"))
        return ()

    def answered_by(self, payload: str, intent: Optional[str]) -> bool:
        if intent in ANSWER_INTENTS.get(self.kind, frozenset()):
            return True
        return any(payload == b.payload for b in self.buttons)


@dataclass(frozen=True)
class Shown:
    """The events of the bot's last event answer, in the order shown."""

    ids: Tuple[str, ...]
    kind: str = "list"  # list | details | next | past | latest
    year: Optional[int] = None
    # Everything the answer found, shown or still behind "more" (named references).
    listed: Tuple[str, ...] = ()


@dataclass(frozen=True)
class DialogueState:
    shown: Optional[Shown] = None
    # The last action that answered something (not thanks, greetings, listening).
    topic_action: Optional[str] = None
    # The intent of the user message that action answered.
    topic_intent: Optional[str] = None
    pending: Optional[PendingQuestion] = None
    user_turns: int = 0
    # The kind of the bot's question that was left unanswered too long, if any: a
    # late "yes" to it is not a yes to nothing.
    expired: Optional[str] = None
    # The ``event_filter`` slot: the conversation's event search, as last set.
    event_filter: Optional[Dict[str, Any]] = None

    @property
    def is_start(self) -> bool:
        """No message from the user yet in this conversation."""
        return self.user_turns == 0

    @property
    def events_in_view(self) -> bool:
        """The last answer was about events, and it showed some."""
        return (
            self.shown is not None
            and bool(self.shown.ids)
            and self.topic_action in EVENT_ACTIONS
        )


def shown_from_slot(value: Any) -> Optional[Shown]:
    if not isinstance(value, dict):
        return None
    ids = value.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return None
    year = value.get("year")
    listed = value.get("listed")
    if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
        listed = []
    return Shown(
        tuple(ids),
        str(value.get("kind") or "list"),
        year if isinstance(year, int) else None,
        tuple(listed),
    )


def shown_to_slot(
    ids: Sequence[str],
    kind: str,
    year: Optional[int] = None,
    listed: Sequence[str] = (),
) -> Dict[str, Any]:
    slot: Dict[str, Any] = {"ids": list(ids), "kind": kind, "year": year}
    if listed:
        slot["listed"] = list(listed)
    return slot


def _buttons(event: Dict[str, Any]) -> Tuple[Button, ...]:
    data = event.get("data") or {}
    found = []
    for button in data.get("buttons") or []:
        if isinstance(button, dict) and isinstance(button.get("payload"), str):
            found.append(Button(str(button.get("title") or ""), button["payload"]))
    return tuple(found)


def from_events(events: Iterable[Dict[str, Any]], now: float) -> DialogueState:
    """The state after ``events`` (Rasa's event dicts, oldest first), at ``now``."""
    shown: Optional[Shown] = None
    topic_action: Optional[str] = None
    topic_intent: Optional[str] = None
    last_intent: Optional[str] = None
    pending: Optional[PendingQuestion] = None
    asking: Optional[str] = None
    user_turns = 0
    event_filter: Optional[Dict[str, Any]] = None
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            shown, topic_action, topic_intent, pending = None, None, None, None
            event_filter = None
        elif kind == "slot":
            name = event.get("name")
            value = event.get("value")
            if name == SHOWN_SLOT:
                shown = shown_from_slot(value)
            elif name == FILTER_SLOT:
                event_filter = value if isinstance(value, dict) else None
        elif kind == "user":
            user_turns += 1
            parse = event.get("parse_data") or {}
            last_intent = (parse.get("intent") or {}).get("name")
            text = str(event.get("text") or "")
            if pending is not None and pending.answered_by(text, last_intent):
                pending = None
            asking = None
        elif kind == "action":
            name = event.get("name")
            if not isinstance(name, str):
                continue
            asking = name if name in QUESTION_ACTIONS else None
            if name not in NEUTRAL_ACTIONS:
                topic_action, topic_intent = name, last_intent
        elif kind == "bot" and asking is not None:
            buttons = _buttons(event)
            question = PendingQuestion(
                QUESTION_ACTIONS[asking],
                buttons,
                user_turns,
                float(event.get("timestamp") or now),
            )
            if question.kind == "delete" or question.yes or question.options:
                pending = question
            asking = None
    expired: Optional[str] = None
    if pending is not None and (
        user_turns - pending.asked_at_turn > OPEN_TURNS
        or now - pending.asked_at > OPEN_SECONDS
    ):
        expired = pending.kind
        pending = None
    return DialogueState(
        shown=shown,
        topic_action=topic_action,
        topic_intent=topic_intent,
        pending=pending,
        user_turns=user_turns,
        expired=expired,
        event_filter=event_filter,
    )


def event_dicts(events: Iterable[Any]) -> List[Dict[str, Any]]:
    """Rasa's event objects (or dicts already) as dicts."""
    return [e if isinstance(e, dict) else e.as_dict() for e in events]
