"""Event versions, alert subscriptions and the alert outbox, in the bot's database.

They live beside the conversations: the SQL tracker store's database (SQLite for
``make run``, PostgreSQL in the cluster), or ``$OFR_VAR_DIR/alerts.db`` when the
conversations are in Redis or memory. Tables are created on first use.

Exactly once, across restarts and instances:
- ``record_changes`` compares the events file with the recorded versions and, in the
  same transaction, writes one outbox row per subscriber and change. Two Rasa
  instances doing it at once take turns (a PostgreSQL transaction lock), so the
  second finds nothing new; an outbox row's key (chat, event, sequence, kind) makes
  a repeat a no-op anyway.
- One sender at a time (a PostgreSQL session lock, or one process on SQLite) sends
  the unsent rows oldest first and marks each sent right after Telegram took it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.storage.beside_conversations import StoresBeside
from bot.storage.schema import create_tables
from ofr.events.changes import Change, Version, compare
from ofr.events.event_filter import EventFilter, filter_key, matches
from ofr.events.model import Event

METADATA = sa.MetaData()

VERSIONS = sa.Table(
    "ofr_event_versions",
    METADATA,
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("calendar_fingerprint", sa.String(64), nullable=False),
    sa.Column("alert_fingerprint", sa.String(64), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("cancelled", sa.Boolean, nullable=False),
)
SUBSCRIPTIONS = sa.Table(
    "ofr_subscriptions",
    METADATA,
    sa.Column("chat_id", sa.String(64), primary_key=True),
    sa.Column("filter_key", sa.String(255), primary_key=True),
    sa.Column("filter_json", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
OUTBOX = sa.Table(
    "ofr_alert_outbox",
    METADATA,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("chat_id", sa.String(64), nullable=False, index=True),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float, nullable=True),
)

REMINDERS = sa.Table(
    "ofr_event_reminders",
    METADATA,
    sa.Column("chat_id", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float, nullable=True),
)

# Any number, the same in every instance: the PostgreSQL lock keys of this module.
_RECORD_LOCK = 0x0F_A1_E7_01
_SEND_LOCK = 0x0F_A1_E7_02


@dataclass(frozen=True)
class Subscription:
    """A chat's wish to hear about events matching ``wanted`` (empty: all events)."""

    chat_id: str
    wanted: Dict[str, str]
    language: str

    @property
    def key(self) -> str:
        return filter_key(self.wanted)

    def matches(self, event: Event) -> bool:
        return matches(event, EventFilter(**self.wanted))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Alert:
    """One message to send: an outbox row."""

    key: str
    chat_id: str
    event_id: str
    kind: str
    sequence: int
    language: str


@dataclass(frozen=True)
class Reminder:
    """A chat's "remind me" for one event (ofr/events/reminders.py says when)."""

    chat_id: str
    event_id: str
    language: str


class AlertStore:
    """The four tables on one SQLAlchemy engine."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        self._local_lock = threading.Lock()
        self._recorded: Optional[List[Event]] = None  # the list last recorded
        create_tables(METADATA, engine)

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _insert(self, table: sa.Table) -> Any:
        return (postgres_insert if self._postgres else sqlite_insert)(table)

    # ---------------------------------------------------------------- versions

    def versions(self) -> Dict[str, Version]:
        with self.engine.connect() as connection:
            return _versions(connection)

    def record_changes(self, events: List[Event], now: float) -> List[Change]:
        """Record the events' versions; queue an alert per subscriber and change.

        The first time (no version recorded yet) only records: subscribers hear
        about what changes from then on, not about the whole file.
        """
        if events is self._recorded:
            # The events store hands out the same list until the file changes: the
            # alert loop (every few seconds) and feed requests need no transaction.
            return []
        changes = self._record(events, now)
        self._recorded = events  # only once it was committed
        return changes

    def _record(self, events: List[Event], now: float) -> List[Change]:
        with self._local_lock, self.engine.begin() as connection:
            if self._postgres:
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _RECORD_LOCK},
                )
            known = _versions(connection)
            versions, changes = compare(known, events)
            for version in versions:
                values = {
                    "event_id": version.event_id,
                    "calendar_fingerprint": version.calendar_fingerprint,
                    "alert_fingerprint": version.alert_fingerprint,
                    "sequence": version.sequence,
                    "cancelled": version.cancelled,
                }
                statement = self._insert(VERSIONS).values(**values)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["event_id"],
                        set_={k: v for k, v in values.items() if k != "event_id"},
                    )
                )
            if not known:
                return []
            by_id = {event.id: event for event in events}
            subscriptions = list(self._subscriptions(connection))
            for change in changes:
                event = by_id[change.event_id]
                if event.ends_at.timestamp() <= now:
                    continue  # nobody needs news of a past event
                for subscription in subscriptions:
                    if not subscription.matches(event):
                        continue
                    key = ":".join(
                        (
                            subscription.chat_id,
                            change.event_id,
                            str(change.sequence),
                            change.kind,
                        )
                    )
                    connection.execute(
                        self._insert(OUTBOX)
                        .values(
                            key=key,
                            chat_id=subscription.chat_id,
                            event_id=change.event_id,
                            kind=change.kind,
                            sequence=change.sequence,
                            language=subscription.language,
                            created=now,
                            sent_at=None,
                        )
                        .on_conflict_do_nothing(index_elements=["key"])
                    )
            return changes

    # ---------------------------------------------------------------- subscriptions

    def subscribe(self, subscription: Subscription, now: float) -> bool:
        """Add a subscription; False when the chat had it already."""
        with self.engine.begin() as connection:
            result = connection.execute(
                self._insert(SUBSCRIPTIONS)
                .values(
                    chat_id=subscription.chat_id,
                    filter_key=subscription.key,
                    filter_json=json.dumps(subscription.wanted, sort_keys=True),
                    language=subscription.language,
                    created=now,
                )
                .on_conflict_do_nothing(index_elements=["chat_id", "filter_key"])
            )
        return bool(result.rowcount)

    def subscriptions_of(self, chat_id: str) -> List[Subscription]:
        with self.engine.connect() as connection:
            return [s for s in self._subscriptions(connection) if s.chat_id == chat_id]

    def unsubscribe(self, chat_id: str, key: Optional[str] = None) -> int:
        """Remove one subscription of the chat (by key) or all; how many went."""
        statement = sa.delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.chat_id == chat_id)
        if key is not None:
            statement = statement.where(SUBSCRIPTIONS.c.filter_key == key)
        with self.engine.begin() as connection:
            return int(connection.execute(statement).rowcount or 0)

    def subscriber_starts(self) -> List[Tuple[float, str]]:
        """When each subscribed chat first subscribed, and in which language,
        oldest first: for the console's insights, so no chat id leaves here."""
        columns = SUBSCRIPTIONS.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(columns.chat_id, columns.created, columns.language).order_by(
                    columns.created
                )
            ).all()
        first: Dict[str, Tuple[float, str]] = {}
        for chat_id, created, language in rows:
            first.setdefault(chat_id, (float(created), str(language)))
        return sorted(first.values())

    def forget_chat(self, chat_id: str) -> None:
        """Delete everything kept for a chat: subscriptions, queued alerts, reminders."""
        with self.engine.begin() as connection:
            delete_chat(connection, chat_id)

    def _subscriptions(
        self, connection: sa.engine.Connection
    ) -> Iterator[Subscription]:
        for row in connection.execute(sa.select(SUBSCRIPTIONS)).all():
            yield Subscription(row.chat_id, json.loads(row.filter_json), row.language)

    # ---------------------------------------------------------------- outbox

    def unsent(self, limit: int = 100) -> List[Alert]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(OUTBOX)
                .where(OUTBOX.c.sent_at.is_(None))
                .order_by(OUTBOX.c.created, OUTBOX.c.key)
                .limit(limit)
            ).all()
        return [
            Alert(r.key, r.chat_id, r.event_id, r.kind, r.sequence, r.language)
            for r in rows
        ]

    def mark_sent(self, key: str, now: float) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(OUTBOX).where(OUTBOX.c.key == key).values(sent_at=now)
            )

    # ---------------------------------------------------------------- reminders

    def remind(self, reminder: Reminder, now: float) -> bool:
        """Keep a "remind me"; False when the chat had asked for this event already
        (and not yet been reminded)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                self._insert(REMINDERS)
                .values(
                    chat_id=reminder.chat_id,
                    event_id=reminder.event_id,
                    language=reminder.language,
                    created=now,
                    sent_at=None,
                )
                .on_conflict_do_update(
                    index_elements=["chat_id", "event_id"],
                    # Asked again after a reminder went out: once more.
                    set_={"language": reminder.language, "sent_at": None},
                    where=REMINDERS.c.sent_at.is_not(None),
                )
            )
        return bool(result.rowcount)

    def waiting_reminders(self) -> List[Reminder]:
        """The reminders not sent yet, oldest first (few: one per tap)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(REMINDERS)
                .where(REMINDERS.c.sent_at.is_(None))
                .order_by(REMINDERS.c.created)
            ).all()
        return [Reminder(r.chat_id, r.event_id, r.language) for r in rows]

    def mark_reminded(self, reminder: Reminder, now: float) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(REMINDERS)
                .where(REMINDERS.c.chat_id == reminder.chat_id)
                .where(REMINDERS.c.event_id == reminder.event_id)
                .values(sent_at=now)
            )

    def sender_lock(self) -> SenderLock:
        return SenderLock(self)


def delete_chat(connection: sa.engine.Connection, chat_id: str) -> None:
    """Every row of a chat in the tables that keep one (in the caller's transaction:
    ``make purge`` deletes them with the conversation)."""
    for table in (SUBSCRIPTIONS, OUTBOX, REMINDERS):
        connection.execute(sa.delete(table).where(table.c.chat_id == chat_id))


def _versions(connection: sa.engine.Connection) -> Dict[str, Version]:
    return {
        row.event_id: Version(
            row.event_id,
            row.calendar_fingerprint,
            row.alert_fingerprint,
            row.sequence,
            row.cancelled,
        )
        for row in connection.execute(sa.select(VERSIONS)).all()
    }


class SenderLock:
    """Held by the one instance that sends alerts (PostgreSQL: a session lock).

    The lock lives as long as its database session: the holder keeps one
    connection; if that connection breaks, the lock is gone with it, and the next
    round tries to take it again (maybe another instance has it by then).
    """

    def __init__(self, store: AlertStore) -> None:
        self.store = store
        self._connection: Optional[sa.engine.Connection] = None
        self._held = False

    def acquire(self) -> bool:
        if not self.store._postgres:
            return True
        try:
            if self._connection is None:
                # Autocommit: the connection must not sit "idle in transaction"
                # between rounds.
                self._connection = self.store.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
                self._held = False
            if self._held:
                self._connection.execute(sa.text("SELECT 1"))  # still our session
                return True
            self._held = bool(
                self._connection.execute(
                    sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": _SEND_LOCK}
                ).scalar()
            )
            return self._held
        except sa.exc.DBAPIError:
            self._drop()
            raise

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            if self._held:
                self._connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _SEND_LOCK}
                )
        except sa.exc.DBAPIError:
            pass  # the session is gone, and the lock with it
        finally:
            self._drop()

    def _drop(self) -> None:
        """Close the session for good (not back to the pool, where a lock would
        live on)."""
        if self._connection is not None:
            self._connection.invalidate()
            self._connection.close()
        self._connection = None
        self._held = False


_stores = StoresBeside(AlertStore, "alerts.db")


def alert_store_for(tracker_store: Any, var_dir: Path) -> AlertStore:
    """The store beside the conversations: the SQL tracker store's database, else a
    SQLite file in the var folder (one per process and database)."""
    return _stores.beside(tracker_store, var_dir)
