"""Session start and language switching."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import NamedAction, ReplyAction
from ofr.language import language_code, requested_language
from ofr.messages import message


class ActionSessionStart(NamedAction):
    """Start a session in the language the channel suggests (metadata ``language``).

    Not a ``ReplyAction``: it sends nothing, and keeps the language slot unset (not the
    default answer language) when neither the channel nor an earlier session named one.
    """

    action_name = "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        metadata = tracker.get_slot("session_started_metadata") or {}
        hinted = (
            language_code(metadata.get("language"))
            if isinstance(metadata, dict)
            else None
        )
        # A returning user keeps the language of the previous session.
        language = hinted or language_code(tracker.get_slot("language"))
        if language:
            events.append(SlotSet("language", language))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionSwitchLanguage(ReplyAction):
    """Confirm the switch to the language the user asked for."""

    action_name = "action_switch_language"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        entity = next(tracker.get_latest_entity_values("language"), None)
        text = tracker.latest_message.get("text") or ""
        # Without a language named, the current one is confirmed.
        switched = language_code(entity) or requested_language(text) or language
        dispatcher.utter_message(text=message("language_switched", switched))
        return [SlotSet("language", switched)]
