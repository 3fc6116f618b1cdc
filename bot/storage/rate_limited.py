"""Messages the rate limits refused, per conversation, for the console's review.

A refused message never reaches Rasa, so its conversation does not show it; staff
reviewing conversations should still see that someone was told to slow down (a
user typing fast in a real hurry, or someone flooding the bot). One row per
conversation and *episode* (refusals less than a minute apart): when it began,
when it last grew and how many messages (at least: bot/services/rate_limits.py
writes at most once every few seconds per conversation). No text, nothing about
the user beyond the conversation id, which only the Rasa server and the store see;
the console names conversations by a keyed hash.

The rows live beside the conversations (``engine_beside``) and go with them: "delete
my data" (bot/storage/eraser.py) and ``make purge`` / the daily retention
(bot/storage/conversations.py) delete a conversation's rows too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import sqlalchemy as sa

from bot.storage.beside_conversations import StoresBeside
from bot.storage.event_alerts import METADATA
from bot.storage.schema import create_tables

EPISODE_GAP = 60.0  # seconds without a refusal that end an episode

REFUSED = sa.Table(
    "ofr_rate_limited",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("first_at", sa.Float, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Column("messages", sa.Integer, nullable=False),
)


@dataclass(frozen=True)
class Episode:
    first_at: float
    last_at: float
    messages: int


def delete_refusals(connection: sa.engine.Connection, sender_id: str) -> int:
    """A conversation's rows, in the caller's transaction (purge, erasure)."""
    return connection.execute(
        sa.delete(REFUSED).where(REFUSED.c.sender_id == sender_id)
    ).rowcount


def delete_before(connection: sa.engine.Connection, cutoff: float) -> int:
    """Episodes that ended before ``cutoff`` (the purge's), also of conversations
    with no stored message (refused from the first one)."""
    return connection.execute(
        sa.delete(REFUSED).where(REFUSED.c.last_at < cutoff)
    ).rowcount


class RefusalStore:
    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        create_tables(METADATA, engine, [REFUSED])

    def note(self, sender_id: str, messages: int, now: Optional[float] = None) -> None:
        """``messages`` more refused in ``sender_id``'s conversation: added to its
        current episode, or the start of a new one. One small transaction."""
        now = time.time() if now is None else now
        with self.engine.begin() as connection:
            grown = connection.execute(
                sa.update(REFUSED)
                .where(
                    REFUSED.c.sender_id == sender_id,
                    REFUSED.c.last_at >= now - EPISODE_GAP,
                )
                .values(messages=REFUSED.c.messages + messages, last_at=now)
            ).rowcount
            if not grown:
                connection.execute(
                    sa.insert(REFUSED).values(
                        sender_id=sender_id,
                        first_at=now,
                        last_at=now,
                        messages=messages,
                    )
                )

    def episodes(self) -> Dict[str, List[Episode]]:
        """Every conversation's episodes, oldest first (few rows: only
        conversations that were refused)."""
        found: Dict[str, List[Episode]] = {}
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(REFUSED).order_by(REFUSED.c.sender_id, REFUSED.c.first_at)
            )
            for row in rows:
                found.setdefault(row.sender_id, []).append(
                    Episode(row.first_at, row.last_at, row.messages)
                )
        return found

    def forget_conversation(self, sender_id: str) -> int:
        with self.engine.begin() as connection:
            return delete_refusals(connection, sender_id)

    def forget_before(self, cutoff: float) -> int:
        with self.engine.begin() as connection:
            return delete_before(connection, cutoff)


_stores = StoresBeside(RefusalStore, "rate-limited.db")


def refusal_store_for(tracker_store: Any, var_dir: Path) -> RefusalStore:
    """The store beside the conversations (see ``engine_beside``)."""
    return _stores.beside(tracker_store, var_dir)
