"""Real tracker stores with chosen conversations, for the tests of the staff tools.

Rasa's SQLTrackerStore on SQLite and on a fresh PostgreSQL database, Rasa's
RedisTrackerStore under a key prefix of its own; each with an endpoints file that
names it, as the tools read it. The fixtures of tests/conftest.py open them.

Where PostgreSQL and Redis are expected at 127.0.0.1 (CI, which sets ``CI=true``, or
``OFR_TEST_SERVICES=required``), a test that cannot reach them fails; elsewhere it is
skipped with the reason, so a laptop without the servers can still run the rest.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

DAY = 86400.0
POSTGRES_URL = os.environ.get(
    "OFR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379

SERVICES_VARIABLE = "OFR_TEST_SERVICES"


def services_expected() -> bool:
    """True where a missing PostgreSQL or Redis is a failure, not a reason to skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes") or (
        os.environ.get(SERVICES_VARIABLE, "").strip().lower() == "required"
    )


def service_missing(reason: str) -> NoReturn:
    """Fail (CI, OFR_TEST_SERVICES=required) or skip the test, saying why."""
    if services_expected():
        pytest.fail(
            f"{reason}; it is expected here (CI or {SERVICES_VARIABLE}=required), "
            "so this test fails instead of skipping.",
            pytrace=False,
        )
    pytest.skip(f"{reason} (set {SERVICES_VARIABLE}=required to fail instead).")


# (text, intent, language the detector reports or None, the bot's action)
Turn = Tuple[str, str, Optional[str], str]

# A store and the endpoints file that names it.
StoreAndEndpoints = Tuple[TrackerStore, Path]


def conversation_events(
    turns: Sequence[Turn], at: float, session_language: str = "de"
) -> List[Event]:
    """Rasa's events for a session and its turns, as the real server logs them."""
    events: List[Event] = [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        SlotSet("language", session_language, timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]
    for number, (text, intent, detected, action) in enumerate(turns):
        stamp = at + 60 * (number + 1)
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [],
        }
        events.append(
            UserUttered(
                text, parse_data["intent"], [], parse_data=parse_data, timestamp=stamp
            )
        )
        events.append(ActionExecuted("action_extract_slots", timestamp=stamp))
        if detected:
            events.append(SlotSet("language", detected, timestamp=stamp))
        events.append(ActionExecuted(action, timestamp=stamp + 1))
        events.append(
            BotUttered("…", metadata={"utter_action": action}, timestamp=stamp + 1)
        )
        events.append(ActionExecuted("action_listen", timestamp=stamp + 1))
    return events


def save_conversation(
    store: TrackerStore,
    sender_id: str,
    turns: Sequence[Turn],
    at: float,
    session_language: str = "de",
) -> None:
    """Store a session of a conversation through Rasa's tracker store API."""

    async def save() -> None:
        # As Rasa's processor does: continue the stored conversation, if any.
        tracker = await store.retrieve(sender_id)
        tracker = tracker or DialogueStateTracker(sender_id, store.domain.slots)
        for event in conversation_events(turns, at, session_language):
            tracker.update(event)
        await store.save(tracker)

    asyncio.run(save())


def stored_senders(store: TrackerStore) -> set:
    """The stored conversations' sender ids (Redis's keys() includes its prefix)."""
    prefix = getattr(store, "key_prefix", "")
    return {key[len(prefix) :] if prefix else key for key in asyncio.run(store.keys())}


def write_endpoints(path: Path, **tracker_store: Any) -> Path:
    """An endpoints file whose tracker_store has these settings."""
    lines = ["tracker_store:"] + [
        f"  {key}: {value}" for key, value in tracker_store.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextmanager
def sqlite_store(folder: Path, domain: Domain) -> Iterator[StoreAndEndpoints]:
    """A real SQLite tracker store in ``folder`` and an endpoints file naming it."""
    db = folder / "tracker.db"
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(db))
    endpoints = write_endpoints(
        folder / "endpoints.yml", type="SQL", dialect="sqlite", db=str(db)
    )
    yield store, endpoints
    store.engine.dispose()


@contextmanager
def postgres_database() -> Iterator[Dict[str, Any]]:
    """Store options for a fresh PostgreSQL database, dropped afterwards."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"ofr_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        service_missing(
            f"PostgreSQL is not reachable at {admin.url.host}:{admin.url.port} "
            f"(OFR_TEST_POSTGRES_URL names another server): "
            f"{' '.join(str(error.orig).split())}"
        )
    url = admin.url
    try:
        yield {
            "dialect": "postgresql",
            "host": url.host,
            "port": url.port or 5432,
            "db": name,
            "username": url.username,
            "password": url.password,
        }
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def sql_engine(kind: str, folder: Path) -> Iterator[Any]:
    """A SQLAlchemy engine on a fresh database: ``sqlite`` (a file in ``folder``)
    or ``postgresql`` (dropped afterwards), for the bot's own tables."""
    import sqlalchemy as sa

    if kind == "sqlite":
        engine = sa.create_engine(f"sqlite:///{folder / 'bot.db'}")
        yield engine
        engine.dispose()
        return
    with postgres_database() as options:
        url = sa.engine.URL.create(
            "postgresql",
            username=options["username"],
            password=options["password"],
            host=options["host"],
            port=options["port"],
            database=options["db"],
        )
        engine = sa.create_engine(url)
        yield engine
        engine.dispose()


@contextmanager
def postgres_store(folder: Path, domain: Domain) -> Iterator[StoreAndEndpoints]:
    """A real SQL tracker store in a fresh PostgreSQL database, dropped afterwards."""
    with postgres_database() as options:
        store = SQLTrackerStore(domain, **options)
        settings = {
            "type": "SQL",
            "dialect": "postgresql",
            "url": options["host"],
            "port": options["port"],
            "db": options["db"],
            "username": options["username"],
        }
        if options["password"]:
            settings["password"] = options["password"]
        endpoints = write_endpoints(folder / "endpoints.yml", **settings)
        try:
            yield store, endpoints
        finally:
            store.engine.dispose()


def skip_without_redis(store: RedisTrackerStore) -> None:
    """Skip the test when the store's Redis server does not answer (fail where it
    is expected: ``service_missing``)."""
    try:
        store.red.ping()
    except Exception as error:  # redis raises several kinds
        service_missing(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {error}")


def delete_keys(store: RedisTrackerStore, prefix: str) -> None:
    """Remove what a test stored in Redis under its own key prefix."""
    for key in store.red.scan_iter(match=f"{prefix}:*"):
        store.red.delete(key)


@contextmanager
def redis_store(folder: Path, domain: Domain) -> Iterator[StoreAndEndpoints]:
    """Rasa's Redis tracker store under a key prefix of its own, removed afterwards."""
    prefix = f"ofrtest{uuid.uuid4().hex[:10]}"
    store = RedisTrackerStore(
        domain, host=REDIS_HOST, port=REDIS_PORT, key_prefix=prefix
    )
    skip_without_redis(store)
    endpoints = write_endpoints(
        folder / "endpoints.yml",
        type="redis",
        url=REDIS_HOST,
        port=REDIS_PORT,
        key_prefix=prefix,
    )
    yield store, endpoints
    delete_keys(store, prefix)
