"""Rasa's tracker stores, plus: "delete my data" really deletes; and faster (SQL).

The deletion must happen in the Rasa server after the turn, not in the action
server: Rasa saves the whole turn at its end, and a store emptied earlier would get
the conversation written back. So the store erases instead of saving when the
turn ended with ``utter_data_deleted`` (the answer once the user confirmed with the
button), with ``bot.storage.eraser.erase_conversation``, under the
conversation's lock. Configure one in endpoints.yml:

- ``type: bot.storage.tracker_store.SQLTrackerStore`` with the usual SQL options (SQLite
  by default, PostgreSQL in the cluster);
- ``type: bot.storage.tracker_store.RedisTrackerStore`` with Rasa's Redis options;
- ``type: bot.storage.tracker_store.InMemoryTrackerStore`` (nothing kept after a restart).

Three costs of Rasa's store are cut (docs/performance.md), with the same rows stored:

- ``save`` finds the events to write by loading the conversation again; this store
  remembers how many it loaded (the lock store keeps other instances out of the
  conversation until the turn is saved) and writes the rest;
- loading a conversation builds an ORM object per event and a new query each time;
  here one prepared query reads only the event texts, and new events are written
  with one INSERT instead of an ORM object each;
- SQLite opened a new connection for every read and write; here connections are
  kept, in WAL mode with ``synchronous=NORMAL``: a commit no longer waits for the
  disk; a power cut can lose the last turns, never the database.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any, Dict, Iterator, List, Optional

import sqlalchemy as sa
from rasa.core import tracker_store
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.storage.eraser import erase_conversation

logger = logging.getLogger(__name__)

FORGET_ACTION = "utter_data_deleted"
# Set on trackers this store loaded: how many of their events are in the database.
STORED_EVENTS = "_ofr_stored_events"


def asked_to_be_forgotten(tracker: DialogueStateTracker) -> bool:
    """True when the latest user turn was answered with ``utter_data_deleted``."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name == FORGET_ACTION:
            return True
    return False


# Rasa's query for the latest session's events (SQLTrackerStore._event_query).
LATEST_SESSION = sa.text(
    """
    SELECT events.data FROM events,
      (SELECT max(timestamp) AS session_start FROM events
       WHERE sender_id = :sender_id AND type_name = :session_started) AS latest
    WHERE events.sender_id = :sender_id
      AND (events.timestamp >= latest.session_start OR latest.session_start IS NULL)
    ORDER BY events.id
    """
)


# The last events of a conversation, newest first (the follow-up reader's window):
# only the kinds the dialogue state reads (ofr/dialogue/state.py), so the window is
# not filled with featurization records nobody decodes.
RECENT_EVENTS = sa.text(
    "SELECT data FROM events WHERE sender_id = :sender_id"
    " AND type_name IN ('user', 'bot', 'action', 'slot', 'session_started')"
    " ORDER BY id DESC LIMIT :limit"
)


def _sqlite_synchronous_normal(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")


def pooled_sqlite_engine(url: Any) -> sa.engine.Engine:
    """An engine that keeps its SQLite connections (SQLAlchemy 1.4 opens one per use)."""
    engine = sa.create_engine(
        url,
        poolclass=sa.pool.QueuePool,
        # One connection per thread at a time, handed out by the pool.
        connect_args={"check_same_thread": False},
    )
    sa.event.listen(engine, "connect", _sqlite_synchronous_normal)
    with engine.connect() as connection:
        # Kept in the database file: one switch is enough.
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    return engine


def event_row(sender_id: str, event: Any) -> Dict[str, Any]:
    """The ``events`` row of ``event``, as Rasa's ``SQLTrackerStore.save`` writes it."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


class ErasesOnRequest:
    """Erases the conversation instead of saving it when its user confirmed."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_be_forgotten(tracker):
            deleted = await erase_conversation(self, tracker.sender_id)
            logger.info(
                "Erased a conversation on request (stored before: %s).", deleted
            )
            return
        await self._write(tracker)

    async def _write(self, tracker: DialogueStateTracker) -> None:
        """Save the turn as the store would without this class."""
        await super().save(tracker)  # type: ignore[misc]


class RedisTrackerStore(ErasesOnRequest, tracker_store.RedisTrackerStore):
    """Rasa's Redis tracker store that erases a conversation when its user asks."""


class InMemoryTrackerStore(ErasesOnRequest, tracker_store.InMemoryTrackerStore):
    """Rasa's in-memory tracker store that erases a conversation when its user asks."""


class SQLTrackerStore(ErasesOnRequest, tracker_store.SQLTrackerStore):
    """SQL tracker store that erases a conversation when its user asks; faster."""

    engine: Any  # Rasa's __init__ creates it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            rasas_engine = self.engine
            self.engine = pooled_sqlite_engine(rasas_engine.url)
            rasas_engine.dispose()
            self.sessionmaker.configure(bind=self.engine)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        if fetch_events_from_all_sessions:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:
            rows = session.execute(
                LATEST_SESSION,
                {"sender_id": sender_id, "session_started": SessionStarted.type_name},
            ).all()
        if not (self.domain and rows):
            return None
        events = [json.loads(data) for (data,) in rows]
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    def recent_event_dicts(self, sender_id: str, limit: int) -> List[Dict[str, Any]]:
        """The conversation's last ``limit`` events as dicts, oldest first, without
        building a tracker: what the follow-up reader needs (bot/dialogue), at a
        small part of ``retrieve``'s cost, on a plain connection (an ORM session
        costs about 0.15 ms more per message). Blocking, as Rasa's own calls are."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                RECENT_EVENTS, {"sender_id": sender_id, "limit": limit}
            ).all()
        return [json.loads(data) for (data,) in reversed(rows)]

    def session_event_dicts(self, sender_id: str) -> List[Dict[str, Any]]:
        """The latest session's events as dicts, oldest first, without building a
        tracker: where a REST message sent again finds its stored turn
        (bot/services/answered_once.py). Blocking, as Rasa's own calls are."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                LATEST_SESSION,
                {"sender_id": sender_id, "session_started": SessionStarted.type_name},
            ).all()
        return [json.loads(data) for (data,) in rows]

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            # Rasa loads the latest session's events, as _additional_events counts them.
            setattr(tracker, STORED_EVENTS, len(tracker.events))
        return tracker

    async def _write(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = [
                event_row(tracker.sender_id, event)
                for event in self._additional_events(session, tracker)
            ]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
        setattr(tracker, STORED_EVENTS, len(tracker.events))

    def _additional_events(
        self, session: Any, tracker: DialogueStateTracker
    ) -> Iterator:
        stored = getattr(tracker, STORED_EVENTS, None)
        if stored is None:  # not loaded by this store: count what the database has
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))
