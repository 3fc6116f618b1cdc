"""Which answers get 👍 / 👎 and what the buttons send.

Feedback is asked for on answers to questions only: not on greetings, thanks,
confirmations, "did you mean" choices, fallbacks (they offer IOM staff at once) or
an events list's "show more". An answer is named as Rasa names it: the response
(``utter_partners``) or, for a custom action, the action (``action_search_events``).
A new response that staff add gets feedback unless it is listed here.

The buttons' payloads name the bot message by its timestamp in the conversation,
so the channel can find the answer and the question it answered; they stay within
Telegram's 64 bytes of callback data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

PREFIX = "fb:"
REPHRASE = PREFIX + "rephrase"
# Responses that answer no question (or already ask something of their own).
NO_FEEDBACK = frozenset(
    {
        "utter_greet",
        "utter_goodbye",
        "utter_thank",
        "utter_acknowledge",
        "utter_bot_challenge",
        "utter_what_can_you_do",
        "utter_out_of_scope",
        "utter_rephrase",
        "utter_confirm_delete",
        "utter_data_deleted",
        "utter_data_kept",
    }
)
# Set by custom actions on the message that answers the question (actions/base.py).
ANSWER_KEY = "ofr_answer"
# A vote names its message by a timestamp written with six decimals.
MATCH_SECONDS = 1e-5
_PAYLOAD = re.compile(r"fb:(up|down):(\d{1,12}(?:\.\d{1,9})?)")


@dataclass(frozen=True)
class Vote:
    helpful: bool
    timestamp: float  # of the bot message voted on


def answer_of(message: Mapping[str, Any]) -> Optional[str]:
    """The answer a bot message gives, if it should carry feedback buttons.

    ``message`` is what Rasa hands an output channel: the text and buttons and the
    bot message's metadata (``utter_action`` for responses, ``ofr_answer`` from
    custom actions)."""
    marked = message.get(ANSWER_KEY)
    if isinstance(marked, str) and marked:
        return marked
    response = message.get("utter_action")
    if not isinstance(response, str) or response in NO_FEEDBACK:
        return None
    if message.get("buttons") or message.get("quick_replies"):
        return None  # it asks something of its own
    return response


def payload(helpful: bool, timestamp: float) -> str:
    return f"{PREFIX}{'up' if helpful else 'down'}:{timestamp:.6f}"


def is_feedback(text: str) -> bool:
    return text.startswith(PREFIX)


def read_vote(text: str) -> Optional[Vote]:
    """The vote in a button's payload, or None if it is no (well-formed) vote."""
    match = _PAYLOAD.fullmatch(text.strip())
    if match is None:
        return None
    return Vote(match.group(1) == "up", float(match.group(2)))
