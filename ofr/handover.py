"""What a handover to IOM staff passes on: the question and the last few turns.

Read from a conversation's events as Rasa stores them (dicts with ``event``,
``text``, ``parse_data``), so the action that offers the handover and the channel
that makes the ticket quote the same question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, List, Tuple

from ofr.events.formatting import format_moment
from ofr.messages import message
from ofr.office_hours import OfficeHours

# Messages that are no question of their own.
NOT_QUESTIONS = {
    "ask_human",
    "greet",
    "goodbye",
    "thank",
    "acknowledge",
    "bot_challenge",
    "what_can_you_do",
    "switch_language",
}
# The button that confirms a handover; the channels answer it (bot/services/handover_desk.py).
CONFIRM_PAYLOAD = "handover:confirm"
# The offer's marker for the web chat: {"email": <can the answer go by e-mail>}.
HANDOVER_KEY = "ofr_handover"
TURNS = 6  # user and bot messages passed on, the question's among them
MAX_TEXT = 1000  # characters of one message in a ticket
LONG_REQUEST = 8  # words: a request for a person this long says what it is about


@dataclass(frozen=True)
class Turn:
    speaker: str  # "user" or "bot"
    text: str


def _intent(event: Dict[str, Any]) -> str:
    return str(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")


def _text(event: Dict[str, Any]) -> str:
    parse_data = event.get("parse_data") or {}
    text = str(parse_data.get("full_text") or event.get("text") or "").strip()
    return text[:MAX_TEXT]


def question_and_turns(events: Iterable[Dict[str, Any]]) -> Tuple[str, List[Turn]]:
    """The user's latest real question (typed, not "hello" or "a person please";
    else a request for a person long enough to say what about) and the turns to
    pass on: the last few up to the user's latest message, and always the question
    with the bot's answer to it. ("", []) when there is no question."""
    said: List[Tuple[Turn, str]] = []
    for event in events:
        kind = event.get("event")
        text = _text(event)
        if not text or text.startswith("/"):
            continue  # a button's payload says nothing to a person
        if kind == "user":
            said.append((Turn("user", text), _intent(event)))
        elif kind == "bot":
            said.append((Turn("bot", text), ""))
    users = [i for i, (turn, _) in enumerate(said) if turn.speaker == "user"]
    questions = [i for i in users if said[i][1] not in NOT_QUESTIONS]
    if not questions:
        # "I need someone to look at my client's case" asks and says what about.
        questions = [i for i in users if len(said[i][0].text.split()) >= LONG_REQUEST]
    if not questions:
        return "", []
    asked, end = questions[-1], users[-1] + 1
    shown = set(range(max(0, end - TURNS), end)) | {asked}
    if asked + 1 < end and said[asked + 1][0].speaker == "bot":
        shown.add(asked + 1)
    return said[asked][0].text, [said[i][0] for i in sorted(shown)]


def hours_note(hours: OfficeHours, language: str, now: datetime) -> str:
    """When staff will answer: soon, or from the next opening on."""
    described = hours.describe(language)
    if hours.is_open(now):
        return message("handover_hours_open", language, hours=described)
    return message(
        "handover_hours_closed",
        language,
        hours=described,
        back=format_moment(hours.next_opening(now), language),
    )
