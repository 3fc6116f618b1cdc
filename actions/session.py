"""Session start and language switching."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import conversation_language, normalise, requested_language
from actions.messages import message


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
            normalise(metadata.get("language")) if isinstance(metadata, dict) else None
        )
        # A returning user keeps the language of the previous session.
        language = hinted or normalise(tracker.get_slot("language"))
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
        language = normalise(entity) or requested_language(text)
        language = language or conversation_language(tracker)
        dispatcher.utter_message(text=message("language_switched", language))
        return [SlotSet("language", language)]
