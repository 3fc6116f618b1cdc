"""bot/storage/tracker_store.py and bot/rasa_patches/event_class_lookup.py: what Rasa's SQL store would store.

The project's store skips Rasa's second read of a conversation on save and the event
classes are looked up once; both must leave the database exactly as Rasa's own store
leaves it, over several turns, a new session, and trackers the store did not load.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import List

import pytest
from rasa.core import tracker_store as rasa_stores
from rasa.shared.core import events as rasa_events
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
from rasa.shared.utils.common import all_subclasses

from bot.rasa_patches import event_class_lookup as event_types
from bot.storage.tracker_store import STORED_EVENTS, SQLTrackerStore
from tests import stores as store_helpers
from tests.conftest import ROOT
from tests.stores import delete_keys, postgres_database, skip_without_redis


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request, tmp_path: Path, domain: Domain):
    """The project's store and Rasa's, each on its own empty database."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            options = [
                {"dialect": "sqlite", "db": str(tmp_path / f"{name}.db")}
                for name in ("ours", "rasa")
            ]
        else:
            options = [stack.enter_context(postgres_database()) for _ in range(2)]
        ours = SQLTrackerStore(domain, **options[0])
        rasas = rasa_stores.SQLTrackerStore(domain, **options[1])
        yield ours, rasas
        ours.engine.dispose()
        rasas.engine.dispose()


def turn(text: str, answer: str, at: float) -> List[Event]:
    return [
        UserUttered(text, {"name": "greet", "confidence": 0.9}, timestamp=at),
        ActionExecuted("utter_greet", timestamp=at + 0.1),
        BotUttered(answer, timestamp=at + 0.2),
        ActionExecuted("action_listen", timestamp=at + 0.3),
    ]


async def run_turns(store, sender: str, turns: List[List[Event]]) -> None:
    """As Rasa's processor: load (or create), add a turn, save; once per turn."""
    for events in turns:
        tracker = await store.get_or_create_tracker(sender)
        for event in events:
            tracker.update(event)
        await store.save(tracker)


def stored_rows(store) -> List[tuple]:
    """Each row without timestamps: new trackers are stamped "now"."""
    with store.session_scope() as session:
        rows = session.query(store.SQLEvent).order_by(store.SQLEvent.id).all()
        return [
            (
                r.sender_id,
                r.type_name,
                {**json.loads(r.data), "timestamp": None},
                r.intent_name,
                r.action_name,
            )
            for r in rows
        ]


def conversation(start: float) -> List[List[Event]]:
    return [
        turn("hallo", "Hallo!", start + 10),
        [SlotSet("language", "en", timestamp=start + 11)]
        + turn("hello", "Hi!", start + 12),
        # A new session in the middle, as action_session_start adds it.
        [
            ActionExecuted("action_session_start", timestamp=start + 20),
            SessionStarted(timestamp=start + 20.1),
            ActionExecuted("action_listen", timestamp=start + 20.2),
        ]
        + turn("wer seid ihr?", "IOM, BAMF und GIZ.", start + 21),
        turn("danke", "Gern!", start + 30),
    ]


async def test_same_rows_and_trackers_as_rasas_store(stores):
    ours, rasas = stores
    start = time.time()
    for sender in ("anna", "ben"):
        await run_turns(ours, sender, conversation(start))
        await run_turns(rasas, sender, conversation(start))

    assert stored_rows(ours) == stored_rows(rasas)
    assert len(stored_rows(ours)) == 2 * (1 + 4 + 5 + 7 + 4)
    for sender in ("anna", "ben", "nobody"):
        mine, theirs = await ours.retrieve(sender), await rasas.retrieve(sender)
        assert (mine and mine.current_state()) == (theirs and theirs.current_state())
        full = await ours.retrieve_full_tracker(sender)
        assert (len(full.events) if full else 0) == (0 if sender == "nobody" else 21)
    tracker = await ours.retrieve("anna")
    # The latest session only, and it knows what is stored.
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [
        "wer seid ihr?",
        "danke",
    ]
    assert getattr(tracker, STORED_EVENTS) == len(tracker.events)


async def test_tracker_the_store_did_not_load_is_saved_in_full(
    tmp_path: Path, domain: Domain
):
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    await run_turns(store, "carla", [turn("hallo", "Hallo!", 100)])
    # Built elsewhere (e.g. from events sent to the HTTP API): Rasa counts the rows.
    tracker = DialogueStateTracker.from_events(
        "carla",
        [ActionExecuted("action_listen", timestamp=99.0)]
        + turn("hallo", "Hallo!", 100)
        + turn("noch was", "Ja?", 200),
        domain.slots,
    )
    assert not hasattr(tracker, STORED_EVENTS)

    await store.save(tracker)

    events = [r[2] for r in stored_rows(store)]
    assert len(events) == 9 and events[5]["text"] == "noch was"


async def test_saving_twice_stores_each_event_once(tmp_path: Path, domain: Domain):
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    tracker = await store.get_or_create_tracker("dora")
    for event in turn("hallo", "Hallo!", 100):
        tracker.update(event)
    await store.save(tracker)
    await store.save(tracker)
    tracker.update(UserUttered("und?", timestamp=200))
    await store.save(tracker)

    assert len(stored_rows(store)) == 1 + 4 + 1


def test_sqlite_commits_without_waiting_for_the_disk(tmp_path: Path, domain: Domain):
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    store.engine.dispose()


def test_event_classes_are_rasas():
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert event_types.resolve_by_type(name) is event_types._rasa_resolve_by_type(
            name
        )
    assert rasa_events.Event.resolve_by_type("user") is UserUttered
    assert Event.from_parameters({"event": "slot", "name": "language", "value": "en"})


def test_unknown_event_names_still_go_to_rasa():
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        event_types.resolve_by_type("no_such_event")
    assert event_types.resolve_by_type("no_such_event", SlotSet) is SlotSet
    # A default is not remembered as the class of that name.
    assert event_types.resolve_by_type("no_such_event", BotUttered) is BotUttered
    assert event_types.resolve_by_type("topic") is None


# ------------------------------------------- "delete my data": one eraser, every store


def confirmed_deletion(at: float) -> List[Event]:
    """The turn after "Shall I delete …?" in which the user pressed "Yes"."""
    return [
        UserUttered(
            "/confirm_delete",
            {"name": "confirm_delete", "confidence": 1.0},
            timestamp=at,
        ),
        ActionExecuted("utter_data_deleted", timestamp=at + 0.1),
        BotUttered("Done", timestamp=at + 0.2),
        ActionExecuted("action_listen", timestamp=at + 0.3),
    ]


@pytest.fixture(params=["sqlite", "redis", "in_memory"])
def erasing_store(request, tmp_path: Path, domain: Domain):
    from bot.storage import tracker_store as ours

    if request.param == "sqlite":
        store = ours.SQLTrackerStore(
            domain, dialect="sqlite", db=str(tmp_path / "t.db")
        )
        yield store
        store.engine.dispose()
    elif request.param == "redis":
        prefix = f"ofrerase{int(time.time() * 1000)}"
        store = ours.RedisTrackerStore(domain, host="127.0.0.1", key_prefix=prefix)
        skip_without_redis(store)
        yield store
        delete_keys(store, prefix)
    else:
        yield ours.InMemoryTrackerStore(domain)


async def test_a_confirmed_deletion_erases_only_that_conversation(erasing_store):
    """Issue 15: the save-time deletion existed only in the SQL store; on Redis "delete
    my data" said "deleted" and deleted nothing."""
    now = time.time()
    await run_turns(erasing_store, "rest:anna", [turn("Hallo", "Hallo!", now)])
    await run_turns(erasing_store, "rest:ben", [turn("Hi", "Hello!", now)])
    await run_turns(erasing_store, "rest:anna", [confirmed_deletion(now + 1)])
    assert await erasing_store.retrieve("rest:anna") is None
    assert await erasing_store.retrieve("rest:ben") is not None


async def test_sqlite_erasure_leaves_no_text_in_the_database_files(
    tmp_path: Path, domain: Domain
):
    """Deleted rows are overwritten (secure_delete) and the write-ahead log is
    emptied, so the words cannot be read back from the files."""
    marker = "Zebrafisch-Geheimnis-4711"
    db = tmp_path / "t.db"
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(db))
    now = time.time()
    await run_turns(store, "rest:anna", [turn(marker, "Hallo!", now)])
    await run_turns(store, "rest:anna", [confirmed_deletion(now + 1)])
    files = [path for path in tmp_path.iterdir() if path.name.startswith("t.db")]
    assert files
    assert not any(marker.encode() in path.read_bytes() for path in files)
    store.engine.dispose()


def outcome_of(check) -> BaseException | None:
    """What ``check()`` raised (pytest's skip and fail are BaseExceptions)."""
    try:
        check()
    except BaseException as error:  # noqa: BLE001 — the outcome is the point
        return error
    return None


def open_unreachable_postgres() -> None:
    with postgres_database():
        pass


def ping_unreachable_redis() -> None:
    skip_without_redis(rasa_stores.RedisTrackerStore(Domain.empty(), port=1))


@pytest.mark.parametrize("reach", [open_unreachable_postgres, ping_unreachable_redis])
@pytest.mark.parametrize(
    "variable, value", [("CI", "true"), ("OFR_TEST_SERVICES", "required")]
)
def test_a_missing_service_fails_where_it_is_expected(
    monkeypatch, reach, variable, value
) -> None:
    """Issue 29, finding 13: the comparisons with Rasa's store on PostgreSQL (and the
    Redis stores) skipped silently without the server, also on CI, which has both."""
    monkeypatch.setattr(
        store_helpers, "POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/x"
    )
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("OFR_TEST_SERVICES", raising=False)
    skipped = outcome_of(reach)
    assert isinstance(skipped, pytest.skip.Exception), skipped
    assert "OFR_TEST_SERVICES=required" in str(skipped)
    monkeypatch.setenv(variable, value)
    failed = outcome_of(reach)
    assert isinstance(failed, pytest.fail.Exception), failed
    assert "not reachable at 127.0.0.1:" in str(failed)
