"""`make purge`: conversations idle for more than DAYS days are deleted, whole.

The stores are real (tests/stores.py): Rasa's SQLTrackerStore writes to SQLite and to a fresh
PostgreSQL database, Rasa's RedisTrackerStore to Redis, with chosen timestamps.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from tests.stores import (
    DAY,
    Turn,
    conversation_events,
    save_conversation,
    stored_senders,
    write_endpoints,
)
from tests.tools import load_script, run_script

# ---------------------------------------------------------------- the tests

TURNS: List[Turn] = [
    ("Was ist OFR?", "ask_what_is_ofr", "de", "utter_what_is_ofr"),
    ("Wie wird das Wetter?", "out_of_scope", "de", "utter_out_of_scope"),
]


def fill(store: TrackerStore) -> Dict[str, int]:
    """Conversations idle for 400, 120, 91, 89 and 0 days; their event counts."""
    now = time.time()
    counts = {}
    for sender, days_ago, turns in [
        ("sid-ancient", 400, TURNS),
        ("sid-old", 120, TURNS[:1]),
        ("sid-just-over", 91, TURNS),
        ("sid-just-under", 89, TURNS),
        ("sid-fresh", 0.01, TURNS),
    ]:
        at = now - days_ago * DAY - 60 * (len(turns) + 1)
        save_conversation(store, sender, turns, at)
        counts[sender] = len(conversation_events(turns, at))
    # An old conversation that came back yesterday is one conversation, kept whole.
    save_conversation(store, "sid-returning", TURNS[:1], now - 200 * DAY)
    save_conversation(store, "sid-returning", TURNS[1:], now - DAY)
    return counts


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store(request) -> Tuple[SQLTrackerStore, Path]:
    """The same tests on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_store")


def test_purge_deletes_whole_conversations_idle_longer_than_days(sql_store, capsys):
    store, endpoints = sql_store
    counts = fill(store)
    purge = load_script("purge")

    assert purge.main(["--endpoints", str(endpoints), "--days", "90"]) == 0

    assert stored_senders(store) == {"sid-just-under", "sid-fresh", "sid-returning"}
    output = capsys.readouterr().out
    gone = counts["sid-ancient"] + counts["sid-old"] + counts["sid-just-over"]
    assert f"Deleted 3 conversations ({gone} events)" in output
    assert "sid-" not in output
    # Nothing of a deleted conversation is left, not even a single event.
    with store.engine.connect() as connection:
        senders = connection.exec_driver_sql("SELECT DISTINCT sender_id FROM events")
        assert {row[0] for row in senders} == {
            "sid-just-under",
            "sid-fresh",
            "sid-returning",
        }
    returning = asyncio.run(store.retrieve_full_tracker("sid-returning"))
    assert [e.text for e in returning.events if isinstance(e, UserUttered)] == [
        "Was ist OFR?",
        "Wie wird das Wetter?",
    ]


@pytest.fixture
def filled_sqlite(sqlite_store) -> Tuple[SQLTrackerStore, Path]:
    """The SQLite store with the conversations of fill()."""
    fill(sqlite_store[0])
    return sqlite_store


def test_dry_run_counts_and_deletes_nothing(filled_sqlite, capsys):
    store, endpoints = filled_sqlite
    purge = load_script("purge")

    assert purge.main(["--endpoints", str(endpoints), "--days", "30", "--dry-run"]) == 0

    output = capsys.readouterr().out
    assert output.startswith("Would delete 4 conversations (")
    assert "Nothing was changed" in output
    assert len(stored_senders(store)) == 6


def test_days_come_from_the_environment_as_make_passes_them(
    filled_sqlite, monkeypatch, capsys
):
    store, endpoints = filled_sqlite
    monkeypatch.setenv("DAYS", "100")

    assert load_script("purge").main(["--endpoints", str(endpoints)]) == 0

    assert "older than 100 days" in capsys.readouterr().out
    assert stored_senders(store) == {
        "sid-just-over",
        "sid-just-under",
        "sid-fresh",
        "sid-returning",
    }


def test_second_run_finds_nothing_more(filled_sqlite, capsys):
    _, endpoints = filled_sqlite
    purge = load_script("purge")
    purge.main(["--endpoints", str(endpoints)])
    capsys.readouterr()

    assert purge.main(["--endpoints", str(endpoints)]) == 0

    assert "Deleted 0 conversations (0 events)" in capsys.readouterr().out


@pytest.mark.parametrize("days", ["0", "-5", "ninety"])
def test_days_must_be_a_positive_whole_number(sqlite_store, days, capsys):
    _, endpoints = sqlite_store
    purge = load_script("purge")
    with pytest.raises(SystemExit) as exit_info:
        purge.main(["--endpoints", str(endpoints), "--days", days])
    assert exit_info.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_missing_store_is_explained_in_one_sentence(tmp_path):
    endpoints = write_endpoints(
        tmp_path / "endpoints.yml",
        type="SQL",
        dialect="sqlite",
        db=str(tmp_path / "nowhere.db"),
    )

    result = run_script("purge", "--endpoints", str(endpoints))

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"No conversations found at {tmp_path / 'nowhere.db'}: start the bot with "
        "make run first, or pass --endpoints."
    )
    assert not (tmp_path / "nowhere.db").exists()


def test_unreachable_postgresql_is_explained(tmp_path, capsys):
    endpoints = write_endpoints(
        tmp_path / "endpoints.yml",
        type="SQL",
        dialect="postgresql",
        url="127.0.0.1",
        port=1,
        db="ofr",
        username="postgres",
    )
    purge = load_script("purge")

    assert purge.main(["--endpoints", str(endpoints)]) == 1

    error = capsys.readouterr().err.strip()
    assert error.startswith(
        "Cannot open the tracker store at postgresql://127.0.0.1:1/ofr"
    )
    assert error.endswith(
        "check tracker_store in the endpoints file, or pass --endpoints."
    )


def test_redis_store_is_purged_too(redis_store, capsys):
    store, endpoints = redis_store
    fill(store)
    purge = load_script("purge")

    assert purge.main(["--endpoints", str(endpoints), "--days", "90"]) == 0

    assert stored_senders(store) == {"sid-just-under", "sid-fresh", "sid-returning"}
    output = capsys.readouterr().out
    assert "Deleted 3 conversations" in output
    assert "record_exp" in output


# ------------------------------------------- make migrate-ids (conversation ids)


def save_from_channel(store: TrackerStore, sender_id: str, channel: str) -> None:
    """One user message that came in on ``channel``, stored under ``sender_id``."""

    async def save() -> None:
        now = time.time()
        tracker = DialogueStateTracker(sender_id, store.domain.slots)
        tracker.update(ActionExecuted("action_listen", timestamp=now))
        tracker.update(
            UserUttered(
                "Was ist OFR?",
                {"name": "ask_what_is_ofr", "confidence": 0.9},
                [],
                input_channel=channel,
                timestamp=now + 1,
            )
        )
        await store.save(tracker)

    asyncio.run(save())


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_migrate_ids_moves_bare_ids_under_their_channel(kind, request, capsys):
    store, endpoints = request.getfixturevalue(f"{kind}_store")
    for sender, channel in [
        ("4711", "telegram"),
        ("abc123", "socketio"),
        ("crm-7", "rest"),
        ("shell-user", "cmdline"),
        ("telegram:99", "telegram"),  # stored since the change: left alone
        ("42", "telegram"),
        ("telegram:42", "telegram"),  # the new id is taken: the old one stays
    ]:
        save_from_channel(store, sender, channel)
    migrate = load_script("migrate_ids")
    assert migrate.main(["--endpoints", str(endpoints)]) == 0
    output = capsys.readouterr().out
    assert "Moved 4 conversations" in output and "Left 1 " in output
    assert stored_senders(store) == {
        "telegram:4711",
        "socketio:abc123",
        "rest:crm-7",
        "rest:shell-user",
        "telegram:99",
        "42",
        "telegram:42",
    }
    tracker = asyncio.run(store.retrieve("telegram:4711"))
    assert tracker.latest_message.text == "Was ist OFR?"
    assert migrate.main(["--endpoints", str(endpoints)]) == 0
    assert "Moved 0 conversations" in capsys.readouterr().out


def test_purging_a_telegram_conversation_removes_its_event_alerts(sql_store, capsys):
    """Issue 17: retention covers subscriptions too; a fresh chat keeps its own.
    Issue 16: and tickets for IOM staff, on every channel."""
    from bot.storage.event_alerts import AlertStore, Subscription
    from bot.storage.tickets import TicketStore

    store, endpoints = sql_store
    now = time.time()
    save_conversation(store, "telegram:501", TURNS, now - 120 * DAY)
    save_conversation(store, "telegram:502", TURNS, now - DAY)
    alerts = AlertStore(store.engine)
    alerts.subscribe(Subscription("501", {}, "de"), now - 120 * DAY)
    alerts.subscribe(Subscription("502", {"city": "Hamburg"}, "de"), now - DAY)
    tickets = TicketStore(store.engine)
    tickets.open("telegram:501", "telegram", "de", "Alt?", [], now=now - 120 * DAY)
    tickets.open("telegram:502", "telegram", "de", "Neu?", [], now=now - DAY)

    assert (
        load_script("purge").main(["--endpoints", str(endpoints), "--days", "90"]) == 0
    )

    assert "Deleted 1 conversations" in capsys.readouterr().out
    assert alerts.subscriptions_of("501") == []
    assert [s.key for s in alerts.subscriptions_of("502")] == ["city=Hamburg"]
    assert [t.question for t in tickets.listing()] == ["Neu?"]
