"""👍 / 👎 counts per answer, for ``make feedback``.

One row per vote: when, on which channel, in which language, the intent of the
question and the answer's name. Nothing about who voted: the conversation itself
records its votes (the ``feedback`` slot), so "delete my data" and ``make purge``
take them with it, and ``make unanswered`` finds the 👎 turns there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

import sqlalchemy as sa

from bot.storage.beside_conversations import StoresBeside
from bot.storage.event_alerts import METADATA
from bot.storage.schema import create_tables

VOTES = sa.Table(
    "ofr_feedback",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created", sa.Float, nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("intent", sa.String(128), nullable=False),
    sa.Column("answer", sa.String(128), nullable=False),
    sa.Column("helpful", sa.Boolean, nullable=False),
)


@dataclass(frozen=True)
class Vote:
    created: float
    channel: str
    language: str
    intent: str
    answer: str
    helpful: bool


class FeedbackStore:
    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        create_tables(METADATA, engine, [VOTES])

    def add(
        self,
        channel: str,
        language: str,
        intent: str,
        answer: str,
        helpful: bool,
        now: Optional[float] = None,
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(VOTES).values(
                    created=time.time() if now is None else now,
                    channel=channel,
                    language=language,
                    intent=intent or "-",
                    answer=answer,
                    helpful=helpful,
                )
            )

    def votes(self, start: float, end: float) -> List[Vote]:
        """The votes given in [start, end) (epoch seconds), oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(VOTES)
                .where(VOTES.c.created >= start)
                .where(VOTES.c.created < end)
                .order_by(VOTES.c.created)
            ).all()
        return [
            Vote(r.created, r.channel, r.language, r.intent, r.answer, bool(r.helpful))
            for r in rows
        ]


_stores = StoresBeside(FeedbackStore, "feedback.db")


def feedback_store_for(tracker_store: Any, var_dir: Path) -> FeedbackStore:
    """The store beside the conversations (see ``engine_beside``)."""
    return _stores.beside(tracker_store, var_dir)
