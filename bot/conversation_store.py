"""Delete one conversation from whichever tracker store the Rasa server uses."""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.tracker_store import (
    InMemoryTrackerStore,
    RedisTrackerStore,
    SQLTrackerStore,
)

logger = logging.getLogger(__name__)


def _unwrap(store: Any) -> Any:
    """Rasa wraps the configured store (fail-safe, awaitable); find the real one."""
    seen = set()
    while id(store) not in seen:
        seen.add(id(store))
        inner = getattr(store, "_tracker_store", None) or getattr(
            store, "tracker_store", None
        )
        if inner is None or inner is store:
            break
        store = inner
    return store


async def delete_conversation(tracker_store: Any, sender_id: str) -> bool:
    """Remove every stored event of ``sender_id``; True when something was deleted."""
    store = _unwrap(tracker_store)
    if isinstance(store, SQLTrackerStore):
        with store.session_scope() as session:
            deleted = (
                session.query(store.SQLEvent)
                .filter(store.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        return deleted > 0
    if isinstance(store, InMemoryTrackerStore):
        return store.store.pop(sender_id, None) is not None
    if isinstance(store, RedisTrackerStore):
        return bool(store.red.delete(store.key_prefix + sender_id))
    raise NotImplementedError(
        f"Deleting conversations is not supported for {type(store).__name__}."
    )
