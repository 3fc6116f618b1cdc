"""Erase one conversation from whichever tracker store the Rasa server uses.

The one eraser behind every deletion a user asks for ("delete my data" on any
channel, Telegram's /forget). It runs from the tracker store's ``save`` at the end of
the turn (``bot.storage.tracker_store``), so under the conversation's lock like every other
write: no other message of the conversation is handled meanwhile, and nothing can
write the conversation back. On SQLite the rows are overwritten, not only unlinked
(``secure_delete``) and the write-ahead log is emptied; PostgreSQL frees them at its next VACUUM (docs/storage.md, "Deleting").
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.tracker_store import (
    InMemoryTrackerStore,
    RedisTrackerStore,
    SQLTrackerStore,
)
from sqlalchemy import text

from bot.storage.conversation_ids import external_id
from bot.storage.event_alerts import alert_store_for
from bot.storage.rasa_stores import unwrap
from bot.storage.rate_limited import refusal_store_for
from bot.storage.tickets import ticket_store_for
from ofr import settings

logger = logging.getLogger(__name__)


async def erase_conversation(tracker_store: Any, conversation: str) -> bool:
    """Remove every stored event of ``conversation``, its tickets for IOM staff, the
    count of its rate-limited messages and, for a Telegram chat, its event alerts;
    True when something was."""
    _forget_alerts(tracker_store, conversation)
    var_dir = settings.current().var_dir
    ticket_store_for(tracker_store, var_dir).forget_conversation(conversation)
    refusal_store_for(tracker_store, var_dir).forget_conversation(conversation)
    store = unwrap(tracker_store)
    if isinstance(store, SQLTrackerStore):
        with store.session_scope() as session:
            if store.engine.dialect.name == "sqlite":
                session.execute(text("PRAGMA secure_delete = ON"))
            deleted = (
                session.query(store.SQLEvent)
                .filter(store.SQLEvent.sender_id == conversation)
                .delete(synchronize_session=False)
            )
            session.commit()
            if store.engine.dialect.name == "sqlite":
                # The old pages also sit in the write-ahead log until a checkpoint.
                session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return deleted > 0
    if isinstance(store, InMemoryTrackerStore):
        return store.store.pop(conversation, None) is not None
    if isinstance(store, RedisTrackerStore):
        return bool(store.red.delete(store.key_prefix + conversation))
    raise NotImplementedError(
        f"Deleting conversations is not supported for {type(store).__name__}."
    )


def _forget_alerts(tracker_store: Any, conversation: str) -> None:
    """Subscriptions and queued alerts belong to the chat: they go with it."""
    try:
        chat = external_id("telegram", conversation)
    except ValueError:
        return  # only Telegram chats subscribe
    alert_store_for(tracker_store, settings.current().var_dir).forget_chat(chat)
