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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("editor", "publisher")
NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD = 12
SESSION_IDLE_SECONDS = 8 * 3600
# Failed logins per name, and per address (an office shares one), before the
# console makes them wait.
MAX_FAILURES = {"name": 5, "address": 20}
FAILURE_WINDOW_SECONDS = 15 * 60

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
FAILURES = sa.Table(
    "staff_login_failures",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(128), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
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


class Accounts:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
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

    def failed(self, *keys: str) -> None:
        now = time.time()
        with self.engine.begin() as connection:
            for key in keys:
                connection.execute(sa.insert(FAILURES).values(key=key, at=now))
            connection.execute(
                sa.delete(FAILURES).where(FAILURES.c.at < now - FAILURE_WINDOW_SECONDS)
            )

    def locked(self, *keys: str) -> bool:
        """Too many failed logins lately for one of ``keys`` ("name:…", "address:…")."""
        since = time.time() - FAILURE_WINDOW_SECONDS
        with self.engine.connect() as connection:
            for key in keys:
                count = connection.execute(
                    sa.select(sa.func.count())
                    .select_from(FAILURES)
                    .where(FAILURES.c.key == key, FAILURES.c.at >= since)
                ).scalar()
                if (count or 0) >= MAX_FAILURES[key.split(":", 1)[0]]:
                    return True
        return False

    def succeeded(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(FAILURES).where(FAILURES.c.key == key))

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
