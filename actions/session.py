"""Session start and language switching."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from ofr.language import answer_language, language_code, requested_language
from ofr.messages import message


class ActionSessionStart(Action):
    """Start a session in the language the channel suggests (metadata ``language``)."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
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


class ActionSwitchLanguage(Action):
    """Confirm the switch to the language the user asked for."""

    def name(self) -> str:
        return "action_switch_language"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[EventType]:
        entity = next(tracker.get_latest_entity_values("language"), None)
        text = tracker.latest_message.get("text") or ""
        language = language_code(entity) or requested_language(text)
        language = language or answer_language(tracker)
        dispatcher.utter_message(text=message("language_switched", language))
        return [SlotSet("language", language)]
