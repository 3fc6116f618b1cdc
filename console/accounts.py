"""Staff accounts, sessions, failed logins and the audit log of the console.

In their own SQLite file (``$OFR_VAR_DIR/staff.db``), apart from the conversations:
the console is a separate process with its own users. Passwords are kept as argon2
hashes (argon2-cffi's defaults, rehashed on login when those change). A session is
a random token in the browser's cookie; only its SHA-256 is stored, so a copy of
the database opens no session.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("editor", "publisher")
NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD = 12
SESSION_IDLE_SECONDS = 8 * 3600
# Wrong passwords make the next attempt wait, per (name, client address): 1 s after
# the first, then twice as long after each one more, up to LOGIN_DELAY_CAP seconds.
# The wrong passwords of one address for all names together wait only after
# ADDRESS_FREE_FAILURES of them (an office shares an address). Nobody is locked
# out from elsewhere: another address starts afresh. A row is forgotten a day after
# its last failure.
LOGIN_DELAY_CAP = 300
ADDRESS_FREE_FAILURES = 20
FAILURE_MEMORY_SECONDS = 24 * 3600

METADATA = sa.MetaData()
USERS = sa.Table(
    "staff_users",
    METADATA,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
SESSIONS = sa.Table(
    "staff_sessions",
    METADATA,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(32), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
)
THROTTLE = sa.Table(
    "staff_login_throttle",
    METADATA,
    sa.Column("key", sa.String(300), primary_key=True),  # "pair:…" or "address:…"
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("next_allowed", sa.Float, nullable=False),
    sa.Column("last", sa.Float, nullable=False),
)
AUDIT = sa.Table(
    "staff_audit",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("detail_json", sa.Text, nullable=False),
)


class AccountError(ValueError):
    """A name, role or password that cannot be used (one sentence)."""


@dataclass(frozen=True)
class Staff:
    name: str
    role: str

    @property
    def can_publish(self) -> bool:
        return self.role == "publisher"


@dataclass(frozen=True)
class Session:
    staff: Staff
    csrf: str


@dataclass(frozen=True)
class AuditEntry:
    at: float
    name: str
    action: str
    detail: Dict[str, Any]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def login_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` counted failures (none: no wait)."""
    if failures <= 0:
        return 0.0
    return float(min(LOGIN_DELAY_CAP, 2 ** min(failures - 1, 30)))


def _pair(name: str, address: str) -> str:
    return f"pair:{name[:64]}|{address}"


class Accounts:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.clock = time.time  # what the login delays count in (tests move it)
        self.engine = sa.create_engine(f"sqlite:///{path}")
        METADATA.create_all(self.engine)
        self.hasher = PasswordHasher()

    # ------------------------------------------------------------ users

    def set_user(self, name: str, role: str, password: str) -> bool:
        """Create the account, or give an existing one this role and password;
        True when it is new."""
        if not NAME.fullmatch(name):
            raise AccountError(
                f"{name!r} cannot be a name: use 2 to 32 lower-case letters, digits, "
                "'.', '_' or '-', starting with a letter."
            )
        if role not in ROLES:
            raise AccountError(f"{role!r} is no role: use editor or publisher.")
        if len(password) < MIN_PASSWORD:
            raise AccountError(
                f"The password is too short: use at least {MIN_PASSWORD} characters."
            )
        hashed = self.hasher.hash(password)
        with self.engine.begin() as connection:
            exists = connection.execute(
                sa.select(USERS.c.name).where(USERS.c.name == name)
            ).first()
            if exists:
                connection.execute(
                    sa.update(USERS)
                    .where(USERS.c.name == name)
                    .values(role=role, password_hash=hashed)
                )
                # A new password ends the sessions opened with the old one.
                connection.execute(sa.delete(SESSIONS).where(SESSIONS.c.name == name))
                return False
            connection.execute(
                sa.insert(USERS).values(
                    name=name, role=role, password_hash=hashed, created=time.time()
                )
            )
        return True

    def check_password(self, name: str, password: str) -> Optional[Staff]:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(USERS).where(USERS.c.name == name)
            ).first()
        if row is None:
            # As slow as a real check, so timing does not tell which names exist.
            self.hasher.hash(password)
            return None
        try:
            self.hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            with self.engine.begin() as connection:
                connection.execute(
                    sa.update(USERS)
                    .where(USERS.c.name == name)
                    .values(password_hash=self.hasher.hash(password))
                )
        return Staff(row.name, row.role)

    def users(self) -> List[Staff]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(USERS).order_by(USERS.c.name)).all()
        return [Staff(r.name, r.role) for r in rows]

    # ------------------------------------------------------------ sessions

    def open_session(self, staff: Staff) -> str:
        """A new session; the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(SESSIONS).values(
                    token_hash=_digest(token),
                    name=staff.name,
                    csrf=secrets.token_urlsafe(32),
                    created=now,
                    last_seen=now,
                )
            )
        return token

    def session(self, token: str, now: Optional[float] = None) -> Optional[Session]:
        """The session of a cookie's token, if it is open and was used lately."""
        now = time.time() if now is None else now
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(SESSIONS, USERS.c.role)
                .join(USERS, USERS.c.name == SESSIONS.c.name)
                .where(SESSIONS.c.token_hash == _digest(token))
            ).first()
            if row is None:
                return None
            if now - row.last_seen > SESSION_IDLE_SECONDS:
                connection.execute(
                    sa.delete(SESSIONS).where(SESSIONS.c.token_hash == row.token_hash)
                )
                return None
            connection.execute(
                sa.update(SESSIONS)
                .where(SESSIONS.c.token_hash == row.token_hash)
                .values(last_seen=now)
            )
        return Session(Staff(row.name, row.role), row.csrf)

    def close_session(self, token: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.delete(SESSIONS).where(SESSIONS.c.token_hash == _digest(token))
            )

    # ------------------------------------------------------------ failed logins

    def claim_login(
        self, name: str, address: str, now: Optional[float] = None
    ) -> float:
        """Take the right to check one password for ``name`` from ``address``: 0.0
        when granted, else the seconds to wait first.

        Granting counts the attempt as failed at once, in one SQLite transaction
        (BEGIN IMMEDIATE, so parallel attempts and other console processes take
        turns): until ``login_succeeded`` undoes it, the next attempt of that
        (name, address) waits. So no two passwords of a pair are checked within
        its delay, however many arrive together."""
        now = self.clock() if now is None else now
        keys = (
            (_pair(name, address), 0),
            (f"address:{address}", ADDRESS_FREE_FAILURES),
        )
        with self._immediate() as db:
            db.execute(
                "DELETE FROM staff_login_throttle WHERE last < ?",
                (now - FAILURE_MEMORY_SECONDS,),
            )
            rows = {}
            for key, _ in keys:
                row = db.execute(
                    "SELECT failures, next_allowed FROM staff_login_throttle "
                    "WHERE key = ?",
                    (key,),
                ).fetchone()
                rows[key] = row or (0, 0.0)
            wait = max(next_allowed - now for _, next_allowed in rows.values())
            if wait > 0:
                return wait
            for key, free in keys:
                failures = rows[key][0] + 1
                db.execute(
                    "INSERT OR REPLACE INTO staff_login_throttle "
                    "(key, failures, next_allowed, last) VALUES (?, ?, ?, ?)",
                    (key, failures, now + login_delay(failures - free), now),
                )
        return 0.0

    def login_succeeded(self, name: str, address: str) -> None:
        """The password was right: the pair starts afresh, and the address's count
        forgets the attempt that ``claim_login`` counted."""
        with self._immediate() as db:
            db.execute(
                "DELETE FROM staff_login_throttle WHERE key = ?",
                (_pair(name, address),),
            )
            db.execute(
                "UPDATE staff_login_throttle SET failures = failures - 1 "
                "WHERE key = ? AND failures > 0",
                (f"address:{address}",),
            )

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at its start (one at a time, across threads
        and processes), committed at the end, rolled back on an error."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # ------------------------------------------------------------ audit log

    def audit(self, name: str, action: str, **detail: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(AUDIT).values(
                    at=time.time(),
                    name=name,
                    action=action,
                    detail_json=json.dumps(detail, ensure_ascii=False, default=str),
                )
            )

    def audit_log(self, limit: int = 200) -> List[AuditEntry]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
            ).all()
        return [
            AuditEntry(r.at, r.name, r.action, json.loads(r.detail_json)) for r in rows
        ]
