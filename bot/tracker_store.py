"""Rasa's SQL tracker store, plus: "delete my data" really deletes.

The deletion must happen in the Rasa server after the turn, not in the action
server: Rasa saves the whole turn at its end, and a store emptied earlier would get
the conversation written back. So the store deletes instead of saving when the
turn ended with ``utter_data_deleted`` (the rule for the ``delete_my_data``
intent). Configure it in endpoints.yml as ``type: bot.tracker_store.SQLTrackerStore``
with the usual SQL options (SQLite by default, PostgreSQL in the cluster).
"""

from __future__ import annotations

import logging

from rasa.core import tracker_store
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversation_store import delete_conversation

logger = logging.getLogger(__name__)

FORGET_ACTION = "utter_data_deleted"


def asked_to_be_forgotten(tracker: DialogueStateTracker) -> bool:
    """True when the latest user turn was answered with ``utter_data_deleted``."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name == FORGET_ACTION:
            return True
    return False


class SQLTrackerStore(tracker_store.SQLTrackerStore):
    """SQL tracker store that deletes a conversation when its user asks."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_be_forgotten(tracker):
            deleted = await delete_conversation(self, tracker.sender_id)
            logger.info(
                "Deleted a conversation on request (stored before: %s).", deleted
            )
            return
        await super().save(tracker)
