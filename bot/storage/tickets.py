"""Questions handed over to IOM staff: tickets, in the bot's database.

Beside the conversations, like the event alerts (SQLite for ``make run``, PostgreSQL
in the cluster; ``$OFR_VAR_DIR/tickets.db`` when the conversations are elsewhere).
A ticket holds what the user agreed to pass on (the question, a few turns, an e-mail
address if they left one), the staff message it was posted as, and the answers. It
goes with the conversation: "delete my data", /forget and ``make purge``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from bot.storage.beside_conversations import StoresBeside
from bot.storage.email_checks import EMAIL_CHECKS
from bot.storage.event_alerts import METADATA
from bot.storage.schema import add_missing_columns, create_tables
from ofr.handover import Turn

TICKETS = sa.Table(
    "ofr_tickets",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("turns_json", sa.Text, nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # open, answered
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("staff_chat_id", sa.String(64), nullable=True),
    sa.Column("staff_message_id", sa.Integer, nullable=True),
    sa.Column("answered_at", sa.Float, nullable=True),
    sa.Column("answers_json", sa.Text, nullable=False, default="[]"),
    # Numbers are never used twice, also after the newest ticket was deleted: staff
    # answer "#12", and a new "#12" would be someone else. PostgreSQL's sequence
    # never goes back; SQLite needs AUTOINCREMENT for that.
    sqlite_autoincrement=True,
)

# Staff answers not yet shown to a web chat or REST user. REST takes them out with
# its next answer; the web chat is offered one (by one server at a time, until
# ``offered_until``) and it is deleted when the widget acknowledges it, or offered
# again when no acknowledgement came (the chat closed, the connection dropped).
WAITING = sa.Table(
    "ofr_waiting_answers",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation", sa.String(255), nullable=False, index=True),
    sa.Column("ticket_id", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("offered_until", sa.Float, nullable=True),
    sqlite_autoincrement=True,  # ``take`` by id never meets a newer answer
)


@dataclass(frozen=True)
class WaitingAnswer:
    id: int
    conversation: str
    ticket_id: int
    text: str


@dataclass(frozen=True)
class Ticket:
    id: int
    conversation: str
    channel: str
    language: str
    question: str
    turns: List[Turn]
    status: str
    created: float
    email: Optional[str] = None
    answers: List[str] = field(default_factory=list)


def _ticket(row: Any) -> Ticket:
    return Ticket(
        id=row.id,
        conversation=row.conversation,
        channel=row.channel,
        language=row.language,
        question=row.question,
        turns=[Turn(**turn) for turn in json.loads(row.turns_json)],
        status=row.status,
        created=row.created,
        email=row.email,
        answers=json.loads(row.answers_json or "[]"),
    )


class TicketStore:
    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        create_tables(METADATA, engine, [TICKETS, WAITING, EMAIL_CHECKS])
        add_missing_columns(engine, WAITING)
        if engine.dialect.name == "sqlite":
            for table in (TICKETS, WAITING):
                _never_reuse_ids(engine, table)

    def open(
        self,
        conversation: str,
        channel: str,
        language: str,
        question: str,
        turns: List[Turn],
        email: Optional[str] = None,
        now: Optional[float] = None,
    ) -> Ticket:
        """A new open ticket, or the open one that already holds this question (a
        confirming button pressed twice makes one ticket)."""
        with self.engine.begin() as connection:
            same = connection.execute(
                sa.select(TICKETS)
                .where(TICKETS.c.conversation == conversation)
                .where(TICKETS.c.status == "open")
                .where(TICKETS.c.question == question)
            ).first()
            if same is not None:
                return _ticket(same)
            result = connection.execute(
                sa.insert(TICKETS).values(
                    conversation=conversation,
                    channel=channel,
                    language=language,
                    question=question,
                    turns_json=json.dumps([t.__dict__ for t in turns]),
                    email=email,
                    status="open",
                    created=time.time() if now is None else now,
                    answers_json="[]",
                )
            )
            row = connection.execute(
                sa.select(TICKETS).where(TICKETS.c.id == result.inserted_primary_key[0])
            ).one()
        return _ticket(row)

    def posted(self, ticket_id: int, staff_chat_id: str, message_id: int) -> None:
        """The staff-group message that shows the ticket (replies to it answer)."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(TICKETS)
                .where(TICKETS.c.id == ticket_id)
                .values(staff_chat_id=staff_chat_id, staff_message_id=message_id)
            )

    def is_posted(self, ticket_id: int) -> bool:
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(TICKETS.c.staff_message_id).where(TICKETS.c.id == ticket_id)
            ).scalar()
        return value is not None

    def by_staff_message(self, staff_chat_id: str, message_id: int) -> Optional[Ticket]:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(TICKETS)
                .where(TICKETS.c.staff_chat_id == staff_chat_id)
                .where(TICKETS.c.staff_message_id == message_id)
            ).first()
        return _ticket(row) if row is not None else None

    def answer(self, ticket_id: int, text: str, now: Optional[float] = None) -> None:
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(TICKETS.c.answers_json).where(TICKETS.c.id == ticket_id)
            ).first()
            if row is None:
                return
            answers = json.loads(row.answers_json or "[]") + [text]
            connection.execute(
                sa.update(TICKETS)
                .where(TICKETS.c.id == ticket_id)
                .values(
                    status="answered",
                    answered_at=time.time() if now is None else now,
                    answers_json=json.dumps(answers),
                )
            )

    def listing(self, status: Optional[str] = None) -> List[Ticket]:
        statement = sa.select(TICKETS).order_by(TICKETS.c.created.desc())
        if status is not None:
            statement = statement.where(TICKETS.c.status == status)
        with self.engine.connect() as connection:
            return [_ticket(row) for row in connection.execute(statement).all()]

    def keep_answer(self, conversation: str, ticket_id: int, text: str) -> None:
        """An answer to show the user when their chat is next connected."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(WAITING).values(
                    conversation=conversation,
                    ticket_id=ticket_id,
                    text=text,
                    created=time.time(),
                )
            )

    def waiting(self, conversation: Optional[str] = None) -> List[WaitingAnswer]:
        """Answers not yet shown, oldest first (of one conversation, or all)."""
        statement = sa.select(WAITING).order_by(WAITING.c.id)
        if conversation is not None:
            statement = statement.where(WAITING.c.conversation == conversation)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [WaitingAnswer(r.id, r.conversation, r.ticket_id, r.text) for r in rows]

    def take(self, answer_id: int) -> bool:
        """Take a waiting answer out to show it: True for exactly one caller, so
        two servers never show it twice (REST: the answer goes in the response)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(WAITING).where(WAITING.c.id == answer_id)
            )
        return bool(result.rowcount)

    def offer(
        self, answer_id: int, seconds: float, now: Optional[float] = None
    ) -> bool:
        """Offer a waiting answer to a web chat for ``seconds``: True for exactly
        one caller until then (or until ``offer_again``), so two servers never
        send it at once; after a server died mid-offer, another offers it."""
        now = time.time() if now is None else now
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.update(WAITING)
                .where(WAITING.c.id == answer_id)
                .where(
                    sa.or_(
                        WAITING.c.offered_until.is_(None),
                        WAITING.c.offered_until <= now,
                    )
                )
                .values(offered_until=now + seconds)
            )
        return bool(result.rowcount)

    def delivered(self, answer_id: int) -> bool:
        """The web chat acknowledged the answer: it no longer waits (the ticket
        keeps its text). False if it was no longer there."""
        return self.take(answer_id)

    def offer_again(self, answer_id: int) -> None:
        """No acknowledgement came: the answer waits for the next offer."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(WAITING)
                .where(WAITING.c.id == answer_id)
                .values(offered_until=None)
            )

    def forget_conversation(self, conversation: str) -> int:
        with self.engine.begin() as connection:
            return delete_tickets(connection, conversation)


def _never_reuse_ids(engine: sa.engine.Engine, table: sa.Table) -> None:
    """A SQLite table made before its ids were AUTOINCREMENT is rebuilt once with
    them, in one transaction (same rows, same ids; which ids were given out and
    deleted before is not known)."""

    def table_sql(cursor: Any) -> Optional[str]:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
            (table.name,),
        )
        row = cursor.fetchone()
        return row[0] if row else None

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        sql = table_sql(cursor)
        if sql is None or "AUTOINCREMENT" in sql.upper():
            return
        cursor.execute("BEGIN IMMEDIATE")  # one process rebuilds, the others wait
        sql = table_sql(cursor)
        if sql is None or "AUTOINCREMENT" in sql.upper():
            raw.rollback()
            return
        old = f"{table.name}_before_autoincrement"
        columns = ", ".join(f'"{column.name}"' for column in table.columns)
        for index in table.indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{index.name}"')
        cursor.execute(f'ALTER TABLE "{table.name}" RENAME TO "{old}"')
        cursor.execute(str(CreateTable(table).compile(dialect=engine.dialect)))
        for index in table.indexes:
            cursor.execute(str(CreateIndex(index).compile(dialect=engine.dialect)))
        cursor.execute(
            f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM "{old}"'
        )
        cursor.execute(f'DROP TABLE "{old}"')
        raw.commit()
    except Exception:
        raw.rollback()
        raise
    finally:
        raw.close()


def delete_tickets(connection: sa.engine.Connection, conversation: str) -> int:
    """The conversation's tickets, in the caller's transaction (``make purge``)."""
    connection.execute(sa.delete(WAITING).where(WAITING.c.conversation == conversation))
    connection.execute(
        sa.delete(EMAIL_CHECKS).where(EMAIL_CHECKS.c.conversation == conversation)
    )
    result = connection.execute(
        sa.delete(TICKETS).where(TICKETS.c.conversation == conversation)
    )
    return int(result.rowcount or 0)


_stores = StoresBeside(TicketStore, "tickets.db")


def ticket_store_for(tracker_store: Any, var_dir: Path) -> TicketStore:
    """The store beside the conversations (see ``engine_beside``)."""
    return _stores.beside(tracker_store, var_dir)
