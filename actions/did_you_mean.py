"""'Did you mean …?' instead of 'please rephrase' when the NLU is unsure."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ReplyAction
from ofr.messages import has_message, message

MAX_CHOICES = 3
# Below this confidence an intent is no real candidate.
MIN_CONFIDENCE = 0.08
# Small talk and "out of scope" are no topic to offer.
NOT_OFFERED = frozenset(
    {
        "nlu_fallback",
        "greet",
        "goodbye",
        "thank",
        "acknowledge",
        "out_of_scope",
        "more_events",
        "inform_event_filter",
        "switch_language",
        "delete_my_data",
        "confirm_delete",
        "keep_conversation",
        "ask_human",  # the "something else" button asks IOM
    }
)


def candidates(latest: Dict[str, Any]) -> List[str]:
    """The likeliest topics of an unsure classification, best first."""
    ranking = latest.get("intent_ranking") or []
    found: List[str] = []
    for entry in ranking:
        name = entry.get("name")
        if (
            name
            and name not in NOT_OFFERED
            and (entry.get("confidence") or 0) >= MIN_CONFIDENCE
            and name not in found
        ):
            found.append(name)
    return found[:MAX_CHOICES]


class ActionDidYouMean(ReplyAction):
    """Offer the two or three likeliest topics as buttons, and "something else"."""

    action_name = "action_did_you_mean"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        choices = [
            name
            for name in candidates(tracker.latest_message or {})
            # A question added since the action server started may have no label.
            if has_message(f"intent_{name}", language)
        ]
        if not choices:
            dispatcher.utter_message(response="utter_rephrase")
            return []
        buttons = [
            {"title": message(f"intent_{name}", language), "payload": f"/{name}"}
            for name in choices
        ]
        buttons.append(
            {"title": message("did_you_mean_else", language), "payload": "/ask_human"}
        )
        dispatcher.utter_message(
            text=message("did_you_mean", language), buttons=buttons
        )
        return []
