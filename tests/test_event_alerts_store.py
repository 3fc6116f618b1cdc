"""Event versions, subscriptions and the alert outbox on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa

from bot.storage.event_alerts import AlertStore, Reminder, Subscription
from ofr.events.changes import compare, version_of
from ofr.events.model import BERLIN, Event
from ofr.events.reminders import can_remind, reminder_time
from tests.stores import sql_engine

NOW = datetime(2027, 1, 10, 12, tzinfo=timezone.utc)


def event(event_id: str, **changes: Any) -> Event:
    data: Dict[str, Any] = {
        "id": event_id,
        "title": {"en": f"Meeting {event_id}", "de": f"Treffen {event_id}"},
        "start": NOW + timedelta(days=30),
        "format": "in_person",
        "city": "Hamburg",
        "state": "Hamburg",
    }
    data.update(changes)
    return Event.parse_obj(data)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> Iterator[AlertStore]:
    with sql_engine(request.param, tmp_path) as engine:
        yield AlertStore(engine)


def test_compare_tells_new_changed_and_cancelled_apart() -> None:
    first = [event("a"), event("b"), event("c", status="cancelled")]
    versions, changes = compare({}, first)
    assert [(c.event_id, c.kind) for c in changes] == [("a", "new"), ("b", "new")]
    known = {v.event_id: v for v in versions}
    moved = event("a", city="Bremen", state="Bremen")
    retitled = event("b", title={"en": "New title", "de": "Neuer Titel"})
    versions, changes = compare(known, [moved, retitled, first[2]])
    assert [(c.event_id, c.kind, c.sequence) for c in changes] == [("a", "changed", 1)]
    # A new title raises the calendar's SEQUENCE but is no news for subscribers.
    assert {v.event_id: v.sequence for v in versions} == {"a": 1, "b": 1}
    known.update({v.event_id: v for v in versions})
    _, changes = compare(
        known, [event("a", city="Bremen", state="Bremen", status="cancelled")]
    )
    assert [(c.event_id, c.kind, c.sequence) for c in changes] == [
        ("a", "cancelled", 2)
    ]
    assert compare(known, [moved, retitled, first[2]]) == ([], [])


def test_first_sync_records_without_alerts_then_one_alert_per_change(store) -> None:
    store.subscribe(Subscription("1001", {}, "en"), NOW.timestamp())
    store.subscribe(Subscription("1002", {"state": "Bayern"}, "de"), NOW.timestamp())
    assert store.record_changes([event("a")], NOW.timestamp()) == []
    assert store.unsent() == []

    changes = store.record_changes([event("a"), event("b")], NOW.timestamp())
    assert [(c.event_id, c.kind) for c in changes] == [("b", "new")]
    assert [(a.chat_id, a.event_id, a.kind, a.language) for a in store.unsent()] == [
        ("1001", "b", "new", "en")
    ]
    # Nothing new: nothing more, however often the file is read.
    assert store.record_changes([event("a"), event("b")], NOW.timestamp()) == []
    assert len(store.unsent()) == 1

    munich = event("b", city="München", state="Bayern")
    store.record_changes([event("a"), munich], NOW.timestamp())
    assert sorted((a.chat_id, a.kind, a.sequence) for a in store.unsent()) == [
        ("1001", "changed", 1),
        ("1001", "new", 0),
        ("1002", "changed", 1),
    ]
    for alert in store.unsent():
        store.mark_sent(alert.key, NOW.timestamp())
    assert store.unsent() == []
    assert store.versions()["b"].sequence == 1


def test_past_events_bring_no_alerts(store) -> None:
    store.subscribe(Subscription("1001", {}, "de"), NOW.timestamp())
    store.record_changes([event("a")], NOW.timestamp())
    old = event("old", start=NOW - timedelta(days=3))
    store.record_changes([event("a"), old], NOW.timestamp())
    assert store.unsent() == []


def test_subscriptions_are_listed_removed_and_forgotten(store) -> None:
    assert store.subscribe(Subscription("7", {}, "en"), 1.0)
    assert not store.subscribe(Subscription("7", {}, "en"), 2.0)
    assert store.subscribe(Subscription("7", {"format": "online"}, "en"), 3.0)
    assert store.subscribe(Subscription("8", {"city": "Hamburg"}, "de"), 3.0)
    assert sorted(s.key for s in store.subscriptions_of("7")) == [
        "all",
        "format=online",
    ]
    assert store.unsubscribe("7", "format=online") == 1
    assert [s.key for s in store.subscriptions_of("7")] == ["all"]
    store.record_changes([event("a")], NOW.timestamp())
    store.record_changes([event("a"), event("b")], NOW.timestamp())
    assert {a.chat_id for a in store.unsent()} == {"7", "8"}
    store.forget_chat("7")
    assert store.subscriptions_of("7") == []
    assert {a.chat_id for a in store.unsent()} == {"8"}


def test_two_instances_recording_at_once_queue_each_alert_once(store) -> None:
    store.subscribe(Subscription("1001", {}, "en"), NOW.timestamp())
    store.record_changes([event("a")], NOW.timestamp())
    second = AlertStore(store.engine)  # another Rasa instance on the same database
    events: List[Event] = [event("a")] + [event(f"n{i}") for i in range(20)]
    errors: List[BaseException] = []

    def record(on: AlertStore) -> None:
        try:
            on.record_changes(events, NOW.timestamp())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=record, args=(s,)) for s in (store, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(a.event_id for a in store.unsent()) == sorted(
        f"n{i}" for i in range(20)
    )


def test_version_of_is_stable() -> None:
    assert version_of(event("a")) == version_of(event("a"))


def test_a_reminder_is_kept_once_sent_once_and_can_be_asked_again(store) -> None:
    mine = Reminder("7", "a", "de")
    assert store.remind(mine, 1.0)
    assert not store.remind(Reminder("7", "a", "en"), 2.0)  # already waiting
    assert store.remind(Reminder("8", "a", "en"), 2.0)
    assert store.waiting_reminders() == [mine, Reminder("8", "a", "en")]
    store.mark_reminded(mine, 3.0)
    assert store.waiting_reminders() == [Reminder("8", "a", "en")]
    assert store.remind(Reminder("7", "a", "en"), 4.0)  # reminded: once more
    store.forget_chat("7")
    assert store.waiting_reminders() == [Reminder("8", "a", "en")]


def test_reminders_come_the_day_before() -> None:
    timed = event("t", start=datetime(2027, 3, 10, 10, 0, tzinfo=BERLIN))
    assert reminder_time(timed) == datetime(2027, 3, 9, 10, 0, tzinfo=BERLIN)
    all_day = event("d", start="2027-03-10")
    assert reminder_time(all_day) == datetime(2027, 3, 9, 9, 0, tzinfo=BERLIN)
    assert reminder_time(event("m", start="2027-03-01", date_precision="month")) is None
    before = datetime(2027, 3, 9, 8, 59, tzinfo=BERLIN)
    assert can_remind(timed, before) and can_remind(all_day, before)
    assert not can_remind(all_day, before + timedelta(minutes=1))
    assert not can_remind(event("c", start="2027-03-10", status="cancelled"), before)


def test_one_sender_at_a_time(store) -> None:
    """Two instances on one database: one holds the sender lock until it lets go."""
    other = AlertStore(sa.create_engine(store.engine.url))
    first, second = store.sender_lock(), other.sender_lock()
    try:
        assert first.acquire()
        assert first.acquire()  # every round of the holder
        postgres = store.engine.dialect.name == "postgresql"
        # SQLite: one process serves the file, so every instance may send.
        assert second.acquire() is not postgres
        first.release()
        assert second.acquire()
        assert first.acquire() is not postgres
    finally:
        first.release()
        second.release()
        other.engine.dispose()
