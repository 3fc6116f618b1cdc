"""Which Telegram updates were taken already, so that a re-delivered one is dropped.

Telegram sends an update again when the webhook did not answer 200 in time (or at
all); ``update_id`` is the same each time. The webhook takes an update once: the
first instance to record its id processes it, every later delivery is answered 200
and dropped.

Where the ids are kept, so that every instance of a cluster sees them:

- in Redis when the lock store is Redis (``bot.storage.lock_store.RedisLockStore``,
  the cluster's), under the lock store's key prefix, each key expiring after a day;
- otherwise in the bot's SQL tables beside the conversations (``engine_beside``: the
  SQL tracker store's database, PostgreSQL in a cluster, or
  ``$OFR_VAR_DIR/telegram-updates.db``), rows older than a day deleted now and then.

A day is how long Telegram keeps an update it could not deliver. Only the bot's id,
the update's number and when it came are stored: nothing of the message.

Each process also remembers the last ids it took, so a re-delivery to the same
instance is dropped even when the shared store cannot be reached; then the update
is processed (answering twice is better than not answering) and the error logged.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Protocol

import redis
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.storage.beside_conversations import StoresBeside
from bot.storage.schema import create_tables

logger = logging.getLogger(__name__)

# Telegram keeps an undelivered update for at most 24 hours.
KEEP_SECONDS = 24 * 3600
# The SQL store deletes expired rows after this many new ones.
PRUNE_EVERY = 1000
# Ids each process remembers on its own.
RECENT_IDS = 10_000

METADATA = sa.MetaData()

UPDATES = sa.Table(
    "ofr_telegram_updates",
    METADATA,
    sa.Column("bot_id", sa.String(32), primary_key=True),
    sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("received", sa.Float, nullable=False, index=True),
)


class SharedUpdates(Protocol):
    def first_time(self, bot_id: str, update_id: int, now: float) -> bool:
        """Record the update; False when some instance recorded it before."""


class SqlUpdates:
    """Update ids in a table of the bot's database (one row per update)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        self._added = 0
        create_tables(METADATA, engine, [UPDATES])

    def first_time(self, bot_id: str, update_id: int, now: float) -> bool:
        row = {"bot_id": bot_id, "update_id": update_id, "received": now}
        dialect = self.engine.dialect.name
        with self.engine.begin() as connection:
            if dialect in ("postgresql", "sqlite"):
                insert = postgres_insert if dialect == "postgresql" else sqlite_insert
                added = connection.execute(
                    insert(UPDATES).values(**row).on_conflict_do_nothing()
                ).rowcount
            else:
                try:
                    with connection.begin_nested():
                        connection.execute(sa.insert(UPDATES).values(**row))
                    added = 1
                except sa.exc.IntegrityError:
                    added = 0
        if added:
            self._added += 1
            if self._added % PRUNE_EVERY == 1:
                self.prune(now)
        return bool(added)

    def prune(self, now: float) -> int:
        """Delete the ids Telegram can no longer send again."""
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(UPDATES).where(UPDATES.c.received < now - KEEP_SECONDS)
            )
        return int(result.rowcount or 0)


class RedisUpdates:
    """Update ids as Redis keys that expire by themselves (SET NX EX)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def first_time(self, bot_id: str, update_id: int, now: float) -> bool:
        key = f"{self.prefix}telegram-update:{bot_id}:{update_id}"
        return bool(self.client.set(key, int(now), nx=True, ex=KEEP_SECONDS))


class SeenUpdates:
    """Update ids taken by this bot: this process's last ones, then the shared store."""

    def __init__(self, bot_id: str, shared: Optional[SharedUpdates] = None) -> None:
        self.bot_id = bot_id
        self.shared = shared
        self._recent: OrderedDict[int, None] = OrderedDict()

    def first_time(
        self, update_id: int, now: Optional[float] = None, shared: bool = True
    ) -> bool:
        """True once per update id; a re-delivery gets False. ``shared=False``:
        this process's memory only (the caller records it in the shared store)."""
        if update_id in self._recent:
            return False
        self._recent[update_id] = None
        while len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        if self.shared is None or not shared:
            return True
        try:
            return self.shared.first_time(
                self.bot_id, update_id, time.time() if now is None else now
            )
        except (redis.RedisError, sa.exc.SQLAlchemyError) as error:
            logger.error(
                "Could not check whether a Telegram update came before (%s); "
                "processing it.",
                type(error).__name__,
            )
            return True


def shared_updates_for(
    tracker_store: Any, lock_store: Any, var_dir: Path
) -> SharedUpdates:
    """Redis when the locks are there (the cluster), else beside the conversations."""
    client = getattr(lock_store, "red", None)
    prefix = getattr(lock_store, "key_prefix", None)
    if isinstance(client, redis.Redis) and isinstance(prefix, str):
        # Rasa's lock keys are "<prefix>:lock:<conversation>": the same deployment
        # prefix, beside the locks.
        return RedisUpdates(client, prefix.removesuffix("lock:"))
    return _sql_stores.beside(tracker_store, var_dir)


_sql_stores = StoresBeside(SqlUpdates, "telegram-updates.db")
