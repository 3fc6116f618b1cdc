"""Read and purge the conversations in the tracker store an endpoints file names.

SQL stores (SQLite, PostgreSQL) are read with SQLAlchemy straight from Rasa's
``events`` table, without rebuilding trackers; Redis stores are read key by key.
Nothing here writes message texts or sender ids anywhere, and nothing here imports
Rasa (``bot/storage/store_config.py`` reads Rasa's configuration): the console and
the tools read the store without loading it.

The tools open the store an endpoints file names (``open_store``); the Rasa server
purges its own store with the same code once a day (``bot/storage/retention.py``),
which also covers the in-memory store.
"""

from __future__ import annotations

import json
import os
import time
from itertools import groupby
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

import sqlalchemy as sa  # noqa: E402

from bot.storage.conversation_ids import (  # noqa: E402
    CHANNELS,
    channel_of,
    conversation_id,
    external_id,
)
from bot.storage.event_alerts import METADATA, alert_store_for, delete_chat
from bot.storage.event_rows import event_of_row
from bot.storage.rate_limited import (
    delete_before,
    delete_refusals,
    refusal_store_for,
)
from bot.storage.schema import create_tables
from bot.storage.store_config import (
    EVENTS,
    StoreConfig,
    StoreUnavailable,
    engine_options,
    read_store_config,
    redis_connection,
    sql_url,
    store_kind,
)
from bot.storage.tickets import delete_tickets, ticket_store_for
from ofr import settings

__all__ = [
    "InMemoryConversations",
    "RedisConversations",
    "SQLConversations",
    "StoreUnavailable",
    "cutoff_for",
    "default_endpoints",
    "open_store",
]

Events = List[Dict[str, Any]]
# Event types that matter for reading a conversation back (SQL ``type_name``);
# "bot": a 👎 names the time of the answer it was given to.
READ_TYPES = ("user", "bot", "slot", "action", "restart", "reset_slots")
DAY = 86400.0


def default_endpoints() -> Path:
    """$OFR_VAR_DIR/endpoints.yml (written by scripts/run.sh) if it exists."""
    written = settings.current().var_dir / "endpoints.yml"
    return written if written.is_file() else Path("endpoints.yml")


def open_store(endpoints: Path) -> SQLConversations | RedisConversations:
    """The tracker store configured in ``endpoints``, ready to read."""
    if not endpoints.is_file():
        raise StoreUnavailable(f"There is no endpoints file at {endpoints}.")
    config = read_store_config(endpoints)
    kind = store_kind(config.type) if config else ""
    if config is None or not kind or kind in ("in_memory", "inmemory"):
        raise StoreUnavailable(
            f"{endpoints} configures no persistent tracker store, so no "
            "conversation is kept after the bot stops."
        )
    if kind == "sql":
        return SQLConversations(config)
    if kind == "redis":
        return RedisConversations(config)
    raise StoreUnavailable(
        f"The tracker store type {config.type!r} in {endpoints} is not supported "
        "here: use an SQL (SQLite, PostgreSQL) or Redis tracker store."
    )


class SQLConversations:
    """Rasa's SQL tracker store (table ``events``), read with SQLAlchemy."""

    table = EVENTS

    def __init__(self, config: StoreConfig) -> None:
        options = dict(config.kwargs)
        dialect = options.get("dialect", "sqlite")
        db = str(options.get("db", "rasa.db"))
        # Rasa connects to `login_db` only to create `db`; the events live in `db`.
        url = sql_url(
            dialect,
            config.url,
            options.get("port"),
            db,
            options.get("username"),
            options.get("password"),
            None,
            options.get("query"),
        )
        if dialect == "sqlite":
            self.where = db
            if not Path(db).is_file():
                raise self._nothing_found()
        else:
            safe = sa.engine.make_url(url)
            self.where = f"{safe.drivername}://{safe.host or ''}" + (
                f":{safe.port}/{safe.database}" if safe.port else f"/{safe.database}"
            )
        try:
            self.engine = sa.create_engine(url, **engine_options(url))
            with self.engine.connect() as connection:
                found = sa.inspect(connection).has_table(self.table.name)
        except sa.exc.SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()
            raise StoreUnavailable(
                f"Cannot open the tracker store at {self.where} "
                f"({reason[0] if reason else type(error).__name__}): check "
                "tracker_store in the endpoints file, or pass --endpoints."
            ) from error
        if not found:
            raise self._nothing_found()

    @classmethod
    def of_engine(cls, engine: sa.engine.Engine) -> SQLConversations:
        """The conversations behind an engine the running server already has."""
        conversations = cls.__new__(cls)
        conversations.engine = engine
        url = engine.url
        conversations.where = (
            str(url.database)
            if url.get_backend_name() == "sqlite"
            else f"{url.drivername}://{url.host or ''}/{url.database}"
        )
        return conversations

    def _nothing_found(self) -> StoreUnavailable:
        return StoreUnavailable(
            f"No conversations found at {self.where}: start the bot with make run "
            "first, or pass --endpoints."
        )

    def conversations(self, start: float, end: float) -> Iterator[Events]:
        """The events of every conversation with a user message in [start, end)."""
        events = self.table.c
        active = (
            sa.select(events.sender_id)
            .where(
                events.type_name == "user",
                events.timestamp >= start,
                events.timestamp < end,
            )
            .distinct()
        )
        query = (
            sa.select(
                events.sender_id,
                events.type_name,
                events.timestamp,
                events.action_name,
                events.data,
            )
            .where(events.sender_id.in_(active), events.type_name.in_(READ_TYPES))
            .order_by(events.sender_id, events.id)
        )
        with self.engine.connect() as connection:
            rows = connection.execution_options(stream_results=True).execute(query)
            for _, group in groupby(rows, key=lambda row: row.sender_id):
                yield [event_of_row(row) for row in group]

    def purge(self, cutoff: float, dry_run: bool = False) -> Tuple[int, int]:
        """Delete whole conversations whose last event is before ``cutoff``.

        Returns the number of conversations and of events (to be) deleted. A
        conversation that receives a message while this runs is kept: each delete
        re-checks that the conversation has no event at or after ``cutoff``.
        """
        events = self.table.c
        last = sa.func.max(events.timestamp)
        old = (
            sa.select(events.sender_id, sa.func.count())
            .group_by(events.sender_id)
            .having(last < cutoff)
        )
        newer = self.table.alias("newer")
        conversations = deleted = 0
        if not dry_run:
            # The alert and ticket tables, if they are not there yet.
            create_tables(METADATA, self.engine)
        with self.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # Overwrite deleted rows, so the texts do not linger in the file.
                connection.exec_driver_sql("PRAGMA secure_delete = ON")
            for sender_id, count in connection.execute(old).all():
                if dry_run:
                    conversations, deleted = conversations + 1, deleted + count
                    continue
                recent = sa.exists().where(
                    newer.c.sender_id == sender_id, newer.c.timestamp >= cutoff
                )
                result = connection.execute(
                    sa.delete(self.table).where(events.sender_id == sender_id, ~recent)
                )
                if result.rowcount:
                    conversations, deleted = (
                        conversations + 1,
                        deleted + result.rowcount,
                    )
                    _forget_chat_alerts(connection, sender_id)
                    delete_tickets(connection, sender_id)
                    delete_refusals(connection, sender_id)
            if not dry_run:
                delete_before(connection, cutoff)
        if deleted and self.engine.dialect.name == "sqlite":
            # The old pages also sit in the write-ahead log until a checkpoint.
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return conversations, deleted

    def migrate_ids(self, dry_run: bool = False) -> Tuple[int, int]:
        """Move conversations stored under bare ids to ``<channel>:<id>``.

        Returns how many were moved and how many were left because a conversation
        under the new id exists already.
        """
        events = self.table.c
        moved = left = 0
        with self.engine.begin() as connection:
            senders = connection.execute(sa.select(events.sender_id).distinct())
            bare = [
                row.sender_id for row in senders if channel_of(row.sender_id) is None
            ]
            for sender_id in bare:
                last_user = connection.execute(
                    sa.select(events.data)
                    .where(events.sender_id == sender_id, events.type_name == "user")
                    .order_by(events.id.desc())
                    .limit(1)
                ).scalar()
                new_id = conversation_id(_channel_in(_parsed(last_user)), sender_id)
                taken = connection.execute(
                    sa.select(events.id).where(events.sender_id == new_id).limit(1)
                ).first()
                if taken:
                    left += 1
                    continue
                moved += 1
                if not dry_run:
                    connection.execute(
                        sa.update(self.table)
                        .where(events.sender_id == sender_id)
                        .values(sender_id=new_id)
                    )
        return moved, left


def _parsed(data: Optional[str]) -> Dict[str, Any]:
    try:
        event = json.loads(data or "{}")
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _channel_in(user_event: Dict[str, Any]) -> str:
    """The channel a stored user message came in on (REST for anything else)."""
    channel = user_event.get("input_channel")
    return channel if channel in CHANNELS else "rest"


class RedisConversations:
    """Rasa's Redis tracker store: one JSON dialogue per conversation key."""

    def __init__(self, config: StoreConfig) -> None:
        import redis

        options = {
            key: value
            for key, value in config.kwargs.items()
            if key not in ("type", "record_exp")
        }
        host = config.url or "localhost"
        self.where = (
            f"redis://{host}:{options.get('port', 6379)}/{options.get('db', 0)}"
        )
        try:
            self.red, self.prefix = redis_connection(host, **options)
            self.red.ping()
        except (redis.exceptions.RedisError, OSError) as error:
            raise StoreUnavailable(
                f"Cannot open the tracker store at {self.where} ({error}): check "
                "tracker_store in the endpoints file, or pass --endpoints."
            ) from error

    @classmethod
    def of_store(cls, store: Any) -> RedisConversations:
        """The conversations of a Redis tracker store the running server has."""
        conversations = cls.__new__(cls)
        conversations.red = store.red
        conversations.prefix = store.key_prefix
        conversations.where = "the Redis tracker store"
        return conversations

    def _dialogues(self) -> Iterator[Tuple[str, Events]]:
        for key in self.red.scan_iter(match=self.prefix + "*", count=500):
            stored = self.red.get(key)
            if stored is None:
                continue
            try:
                events = json.loads(stored).get("events") or []
            except ValueError:
                continue
            yield key, events

    def conversations(self, start: float, end: float) -> Iterator[Events]:
        """The events of every conversation with a user message in [start, end)."""
        for _, events in self._dialogues():
            if any(
                event.get("event") == "user"
                and start <= (event.get("timestamp") or 0) < end
                for event in events
            ):
                yield events

    def purge(self, cutoff: float, dry_run: bool = False) -> Tuple[int, int]:
        """Delete conversations whose last event is before ``cutoff``."""
        import redis

        conversations = deleted = 0
        for key, events in list(self._dialogues()):
            if not _older(events, cutoff):
                continue
            if dry_run:
                conversations, deleted = conversations + 1, deleted + len(events)
                continue
            # WATCH: a conversation that gets a message meanwhile is kept.
            with self.red.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    events = (json.loads(stored).get("events") or []) if stored else []
                    if not events or not _older(events, cutoff):
                        continue
                    pipe.multi()
                    pipe.delete(key)
                    pipe.execute()
                except (redis.WatchError, ValueError):
                    continue
            conversations, deleted = conversations + 1, deleted + len(events)
            _forget_tickets_and_alerts(key[len(self.prefix) :])
        if not dry_run:
            _forget_refusals_before(cutoff)
        return conversations, deleted

    def migrate_ids(self, dry_run: bool = False) -> Tuple[int, int]:
        """Move conversations stored under bare ids to ``<channel>:<id>`` (see SQL)."""
        moved = left = 0
        for key, events in list(self._dialogues()):
            sender_id = key[len(self.prefix) :]
            if channel_of(sender_id) is not None:
                continue
            users = [event for event in events if event.get("event") == "user"]
            channel = _channel_in(users[-1] if users else {})
            new_id = conversation_id(channel, sender_id)
            if dry_run:
                moved += 1
                continue
            if self.red.renamenx(key, self.prefix + new_id):
                moved += 1
            else:
                left += 1
        return moved, left


class InMemoryConversations:
    """Rasa's in-memory tracker store: serialised dialogues in a dict of the running
    server. Only the server itself can purge it (``bot.storage.retention``); call
    ``purge`` in the server's event loop, so no turn is saved while it runs."""

    where = "the in-memory tracker store"

    def __init__(self, store: Any) -> None:
        self.store = store

    def purge(self, cutoff: float, dry_run: bool = False) -> Tuple[int, int]:
        """Delete conversations whose last event is before ``cutoff``."""
        conversations = deleted = 0
        for sender_id, stored in list(self.store.store.items()):
            try:
                events = json.loads(stored).get("events") or []
            except (TypeError, ValueError):
                continue
            if not _older(events, cutoff):
                continue
            conversations, deleted = conversations + 1, deleted + len(events)
            if not dry_run:
                del self.store.store[sender_id]
                _forget_tickets_and_alerts(sender_id)
        if not dry_run:
            _forget_refusals_before(cutoff)
        return conversations, deleted


def _forget_tickets_and_alerts(conversation: str) -> None:
    """A purged conversation of a store outside SQL takes its tickets, the count of
    its rate-limited messages and, for a Telegram chat, its event alerts and
    reminders (in the var folder) with it."""
    var_dir = settings.current().var_dir
    ticket_store_for(None, var_dir).forget_conversation(conversation)
    refusal_store_for(None, var_dir).forget_conversation(conversation)
    chat = _telegram_chat(conversation)
    if chat is not None:
        alert_store_for(None, var_dir).forget_chat(chat)


def _forget_refusals_before(cutoff: float) -> None:
    """Counts of rate-limited messages older than the purge's cutoff (in the var
    folder beside a store outside SQL), also of conversations never stored."""
    refusal_store_for(None, settings.current().var_dir).forget_before(cutoff)


def _older(events: Events, cutoff: float) -> bool:
    """True when every event of a conversation happened before ``cutoff``."""
    return max((event.get("timestamp") or 0 for event in events), default=0) < cutoff


def cutoff_for(days: float, now: Optional[float] = None) -> float:
    """The epoch time ``days`` days before ``now``."""
    return (time.time() if now is None else now) - days * DAY


def _telegram_chat(sender_id: str) -> Optional[str]:
    try:
        return external_id("telegram", sender_id)
    except ValueError:
        return None


def _forget_chat_alerts(connection: sa.engine.Connection, sender_id: str) -> None:
    """A purged Telegram conversation takes its event alerts and reminders with it
    (docs/storage.md), in the same transaction."""
    chat = _telegram_chat(sender_id)
    if chat is None:
        return
    delete_chat(connection, chat)
