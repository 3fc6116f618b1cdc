"""Offer to hand the user's question over to IOM staff ("can I talk to a person?").

The offer says what would be passed on and when staff answer; the confirming button
is answered by the channel itself (bot/services/handover_desk.py), which opens the
ticket. Where no staff group is set up, the answer is IOM's contact details. In the
web chat the offer also says whether the answer can go by e-mail, so the widget
offers a field for an address.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ReplyAction
from ofr import settings
from ofr.handover import CONFIRM_PAYLOAD, HANDOVER_KEY, hours_note, question_and_turns
from ofr.messages import message

CHANNELS = {"telegram", "socketio", "rest"}


class ActionOfferHandover(ReplyAction):
    action_name = "action_offer_handover"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        configured = settings.current()
        channel = tracker.get_latest_input_channel()
        if channel not in CHANNELS or not configured.handover_available:
            dispatcher.utter_message(text=message("handover_unavailable", language))
            return []
        question, _ = question_and_turns(tracker.events)
        if not question:
            dispatcher.utter_message(text=message("handover_no_question", language))
            return []
        note = hours_note(configured.staff_hours, language, datetime.now(timezone.utc))
        dispatcher.utter_message(
            text=message(
                "handover_offer", language, question=question, hours_note=note
            ),
            buttons=[
                {
                    "title": message("button_handover_yes", language),
                    "payload": CONFIRM_PAYLOAD,
                },
                {
                    "title": message("button_handover_no", language),
                    "payload": "/acknowledge",
                },
            ],
            **{HANDOVER_KEY: {"email": configured.answers_by_email}},
        )
        return []
