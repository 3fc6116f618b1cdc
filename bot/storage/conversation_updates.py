"""Adding events to a stored conversation from outside a turn.

A staff answer or a 👍 arrives while the user may be typing: the change is made
under the conversation's lock (Redis in the cluster), like a turn, so neither
overwrites the other.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker


async def update_conversation(
    tracker_store: Any,
    lock_store: Any,
    conversation: str,
    change: Callable[[DialogueStateTracker], bool],
    start_in: Optional[str] = None,
) -> bool:
    """Apply ``change`` to the stored conversation and save it if ``change`` says it
    changed something. False when there is no such conversation (deleted meanwhile)
    or nothing changed. ``start_in``: a language to start a missing conversation in,
    as ``action_session_start`` would (the next message then continues it)."""
    if tracker_store is None:
        return False

    async def apply() -> bool:
        tracker: Optional[DialogueStateTracker] = await tracker_store.retrieve(
            conversation
        )
        if tracker is None and start_in is not None:
            tracker = started(conversation, tracker_store.domain, start_in)
        if tracker is None or not change(tracker):
            return False
        await tracker_store.save(tracker)
        return True

    if lock_store is None:
        return await apply()
    async with lock_store.lock(conversation):
        return await apply()


def started(conversation: str, domain: Any, language: str) -> DialogueStateTracker:
    """A new conversation's first events, as ``action_session_start`` writes them
    (actions/session.py)."""
    tracker = DialogueStateTracker(conversation, domain.slots if domain else [])
    for event in (
        ActionExecuted(ACTION_SESSION_START_NAME),
        SessionStarted(),
        SlotSet("language", language),
        ActionExecuted(ACTION_LISTEN_NAME),
    ):
        tracker.update(event)
    return tracker
