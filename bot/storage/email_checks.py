"""Codes that confirm a web user's e-mail address before a staff answer goes there.

A web chat user may leave an address for the answer to their ticket. Anyone can type
anyone's address, so the answer's text goes only to an address whose owner typed
back the code mailed to it (bot/services/email_codes.py). One check per ticket,
beside the tickets (same database), deleted with the conversation.

Limits: a code lasts ``CODE_MINUTES``; ``MAX_ATTEMPTS`` wrong codes end the check;
a ticket gets at most ``MAX_CODES_PER_TICKET`` codes and an address at most
``MAX_CODES_PER_ADDRESS`` a day, so the chat cannot be used to flood a mailbox.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.storage.event_alerts import METADATA

CODE_DIGITS = 6
CODE_MINUTES = 30
MAX_ATTEMPTS = 5
MAX_CODES_PER_TICKET = 3
MAX_CODES_PER_ADDRESS = 5
DAY_SECONDS = 24 * 3600
# After its code expired, a check still answers a code for a day ("expired"); later
# a number typed in the chat is an ordinary message again.
EXPIRED_NOTE_SECONDS = DAY_SECONDS

EMAIL_CHECKS = sa.Table(
    "ofr_email_checks",
    METADATA,
    sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("conversation", sa.String(255), nullable=False, index=True),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("address", sa.String(320), nullable=False, index=True),
    sa.Column("code_hash", sa.String(128), nullable=False),  # salt$sha256
    sa.Column("sent", sa.Float, nullable=False),  # when the last code went out
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("codes_sent", sa.Integer, nullable=False),
    sa.Column("verified_at", sa.Float, nullable=True),
)


@dataclass(frozen=True)
class CodeCheck:
    """What a code typed in the chat did: ``outcome`` is right, wrong (``left``
    tries remain), no_more (the last try was wrong, or none remain) or expired."""

    outcome: str
    ticket_id: int
    language: str
    left: int = 0


def _hash(code: str, salt: Optional[str] = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()
    return f"{salt}${digest}"


def _matches(code: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(_hash(code, salt), stored)


class EmailChecks:
    """The checks in one database (the tickets' engine, which creates the table)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine

    def start(
        self,
        ticket_id: int,
        conversation: str,
        language: str,
        address: str,
        now: Optional[float] = None,
    ) -> Optional[str]:
        """A new code for ``address`` (the ticket's earlier code and confirmation
        end), or None when the ticket or the address had their codes."""
        now = time.time() if now is None else now
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        values = {
            "conversation": conversation,
            "language": language,
            "address": address,
            "code_hash": _hash(code),
            "sent": now,
            "expires": now + CODE_MINUTES * 60,
            "attempts": 0,
            "verified_at": None,
        }
        for _ in range(2):  # a parallel first start for the ticket: update it then
            try:
                with self.engine.begin() as connection:
                    recent = connection.execute(
                        sa.select(
                            sa.func.coalesce(sa.func.sum(EMAIL_CHECKS.c.codes_sent), 0)
                        )
                        .where(EMAIL_CHECKS.c.address == address)
                        .where(EMAIL_CHECKS.c.sent > now - DAY_SECONDS)
                    ).scalar()
                    if int(recent or 0) >= MAX_CODES_PER_ADDRESS:
                        return None
                    row = connection.execute(
                        sa.select(EMAIL_CHECKS.c.codes_sent).where(
                            EMAIL_CHECKS.c.ticket_id == ticket_id
                        )
                    ).first()
                    if row is None:
                        connection.execute(
                            sa.insert(EMAIL_CHECKS).values(
                                ticket_id=ticket_id, codes_sent=1, **values
                            )
                        )
                        return code
                    result = connection.execute(
                        sa.update(EMAIL_CHECKS)
                        .where(EMAIL_CHECKS.c.ticket_id == ticket_id)
                        .where(EMAIL_CHECKS.c.codes_sent < MAX_CODES_PER_TICKET)
                        .values(codes_sent=EMAIL_CHECKS.c.codes_sent + 1, **values)
                    )
                    return code if result.rowcount else None
            except IntegrityError:
                continue
        return None

    def confirmed_before(
        self,
        ticket_id: int,
        conversation: str,
        language: str,
        address: str,
        now: Optional[float] = None,
    ) -> bool:
        """Whether ``address`` is confirmed for the ticket: by its own code, or by a
        code typed earlier in the same conversation (a later ticket then needs no
        new code)."""
        now = time.time() if now is None else now
        with self.engine.begin() as connection:
            rows = connection.execute(
                sa.select(EMAIL_CHECKS.c.ticket_id)
                .where(EMAIL_CHECKS.c.conversation == conversation)
                .where(EMAIL_CHECKS.c.address == address)
                .where(EMAIL_CHECKS.c.verified_at.is_not(None))
            ).all()
            if not rows:
                return False
            if ticket_id not in {row.ticket_id for row in rows}:
                connection.execute(
                    sa.delete(EMAIL_CHECKS).where(EMAIL_CHECKS.c.ticket_id == ticket_id)
                )
                connection.execute(
                    sa.insert(EMAIL_CHECKS).values(
                        ticket_id=ticket_id,
                        conversation=conversation,
                        language=language,
                        address=address,
                        code_hash="",  # no code: confirmed before
                        sent=now,
                        expires=now,
                        attempts=0,
                        codes_sent=0,
                        verified_at=now,
                    )
                )
        return True

    def verified_address(self, ticket_id: int) -> Optional[str]:
        """The ticket's address if its owner typed the code, else None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(EMAIL_CHECKS.c.address)
                .where(EMAIL_CHECKS.c.ticket_id == ticket_id)
                .where(EMAIL_CHECKS.c.verified_at.is_not(None))
            ).first()
        return row.address if row is not None else None

    def check(
        self, conversation: str, code: str, now: Optional[float] = None
    ) -> Optional[CodeCheck]:
        """Check a code typed in ``conversation`` against its latest open check;
        None when there is none (the message is an ordinary one)."""
        now = time.time() if now is None else now
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(EMAIL_CHECKS)
                .where(EMAIL_CHECKS.c.conversation == conversation)
                .where(EMAIL_CHECKS.c.verified_at.is_(None))
                .where(EMAIL_CHECKS.c.expires > now - EXPIRED_NOTE_SECONDS)
                .order_by(EMAIL_CHECKS.c.sent.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            if now >= row.expires:
                return CodeCheck("expired", row.ticket_id, row.language)
            # Counted before the comparison, in one statement: parallel guesses
            # cannot get more tries than MAX_ATTEMPTS.
            counted = connection.execute(
                sa.update(EMAIL_CHECKS)
                .where(EMAIL_CHECKS.c.ticket_id == row.ticket_id)
                .where(EMAIL_CHECKS.c.attempts < MAX_ATTEMPTS)
                .values(attempts=EMAIL_CHECKS.c.attempts + 1)
            ).rowcount
            if not counted:
                return CodeCheck("no_more", row.ticket_id, row.language)
            if _matches(code, row.code_hash):
                connection.execute(
                    sa.update(EMAIL_CHECKS)
                    .where(EMAIL_CHECKS.c.ticket_id == row.ticket_id)
                    .values(verified_at=now)
                )
                return CodeCheck("right", row.ticket_id, row.language)
            left = MAX_ATTEMPTS - (row.attempts + 1)
            if left <= 0:
                return CodeCheck("no_more", row.ticket_id, row.language)
            return CodeCheck("wrong", row.ticket_id, row.language, left)
