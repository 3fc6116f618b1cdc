"""Adding events to a stored conversation from outside a turn.

A staff answer or a 👍 arrives while the user may be typing: the change is made
under the conversation's lock (Redis in the cluster), like a turn, so neither
overwrites the other.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from rasa.shared.core.trackers import DialogueStateTracker


async def update_conversation(
    tracker_store: Any,
    lock_store: Any,
    conversation: str,
    change: Callable[[DialogueStateTracker], bool],
) -> bool:
    """Apply ``change`` to the stored conversation and save it if ``change`` says it
    changed something. False when there is no such conversation (deleted meanwhile)
    or nothing changed."""
    if tracker_store is None:
        return False

    async def apply() -> bool:
        tracker: Optional[DialogueStateTracker] = await tracker_store.retrieve(
            conversation
        )
        if tracker is None or not change(tracker):
            return False
        await tracker_store.save(tracker)
        return True

    if lock_store is None:
        return await apply()
    async with lock_store.lock(conversation):
        return await apply()
