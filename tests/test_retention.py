"""The Rasa server deletes conversations idle for longer than OFR_RETENTION_DAYS by
itself, once a day (bot/storage/retention.py), on every tracker store, with the
deletion `make purge` uses: what the privacy answer promises.

The stores are real (tests/stores.py): SQLite, PostgreSQL and Redis as the tools
see them, and the in-memory store that only the server itself can reach.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, Tuple

import pytest
import yaml
from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore

from bot.channels.routes.retention import RetentionChannel
from bot.storage.retention import Retention
from bot.storage.tracker_store import InMemoryTrackerStore
from ofr import settings
from tests.conftest import ROOT
from tests.stores import DAY, save_conversation, stored_senders

TURNS = [
    ("Was ist OFR?", "ask_what_is_ofr", "de", "utter_what_is_ofr"),
    ("Danke", "thank", "de", "utter_thank"),
]
KEPT = {"rest:just-under", "socketio:fresh", "rest:returning"}


def fill(store: Any) -> None:
    """Conversations idle for 400, 120, 91, 89 and 0 days, and one that came back."""
    now = time.time()
    for sender, days_ago in [
        ("rest:ancient", 400),
        ("telegram:120", 120),
        ("rest:just-over", 91),
        ("rest:just-under", 89),
        ("socketio:fresh", 0.01),
    ]:
        save_conversation(store, sender, TURNS, now - days_ago * DAY - 600)
    save_conversation(store, "rest:returning", TURNS[:1], now - 200 * DAY)
    save_conversation(store, "rest:returning", TURNS[1:], now - DAY)


@pytest.fixture
def memory_store(tmp_path, rasa_domain) -> Iterator[Tuple[Any, Path]]:
    yield InMemoryTrackerStore(rasa_domain), tmp_path / "none.yml"


@pytest.fixture(params=["sqlite", "postgres", "redis", "memory"])
def any_store(request, tmp_path, monkeypatch) -> Tuple[Any, Path]:
    """Each kind of tracker store the server can run on."""
    monkeypatch.setenv("OFR_VAR_DIR", str(tmp_path / "var"))
    return request.getfixturevalue(f"{request.param}_store")


def as_rasa_wraps_it(store: Any) -> Any:
    """The store as the agent holds it: under Rasa's fail-safe and awaitable wrappers."""
    return AwaitableTrackerStore(FailSafeTrackerStore(store))


def test_one_round_deletes_whole_conversations_idle_longer_than_the_days(any_store):
    store, _ = any_store
    fill(store)
    retention = Retention(lambda: as_rasa_wraps_it(store), days=90)

    conversations, events = asyncio.run(retention.purge_once())

    assert conversations == 3 and events > 0
    assert stored_senders(store) == KEPT


def test_the_loop_runs_by_itself_and_survives_a_failed_round(
    memory_store, caplog
) -> None:
    store, _ = memory_store
    fill(store)
    calls = []

    def tracker_store() -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database is away")
        return store

    async def run() -> Retention:
        retention = Retention(tracker_store, days=90, every=0.02, first_after=0.01)
        retention.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if retention.rounds >= 2:
                break
        await retention.stop()
        return retention

    with caplog.at_level(logging.ERROR, logger="bot.storage.retention"):
        retention = asyncio.run(run())

    assert retention.rounds >= 2  # the failed round did not end the loop
    assert "deleting idle conversations failed" in caplog.text
    assert stored_senders(store) == KEPT


def test_the_days_come_from_the_settings_and_are_checked() -> None:
    assert settings.read({}).retention_days == 90
    assert settings.read({"OFR_RETENTION_DAYS": "30"}).retention_days == 30
    for bad in ("0", "ninety", "-5", "4000"):
        problems = settings.read({"OFR_RETENTION_DAYS": bad}).problems
        assert problems == (
            f"OFR_RETENTION_DAYS={bad!r} is not a number of days: give a whole "
            "number from 1 to 3650 (default 90), or leave it unset.",
        )


def test_every_rasa_server_starts_and_stops_it(memory_store, monkeypatch) -> None:
    """credentials.yml registers the channel; its listeners run the loop with the
    server's own store and the configured days."""
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text("utf-8"))
    assert "bot.channels.routes.retention.RetentionChannel" in credentials
    monkeypatch.setenv("OFR_RETENTION_DAYS", "30")
    store, _ = memory_store
    fill(store)  # 89 days idle is more than 30 too
    per_conversation = len_events(store)
    channel = RetentionChannel.from_credentials(None)
    blueprint = channel.blueprint(lambda message: None)
    listeners: Dict[str, Any] = {
        future.event: future.listener for future in blueprint._future_listeners
    }
    app = SimpleNamespace(
        ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))
    )

    async def run() -> None:
        await listeners["after_server_start"](app, None)
        assert channel.retention is not None and channel.retention.days == 30
        assert await channel.retention.purge_once() == (4, 4 * per_conversation)
        await listeners["before_server_stop"](app, None)
        assert channel.retention._task is None

    asyncio.run(run())
    assert stored_senders(store) == {"socketio:fresh", "rest:returning"}


def len_events(store: Any) -> int:
    """The events of one stored two-turn conversation."""
    tracker = asyncio.run(store.retrieve_full_tracker("socketio:fresh"))
    return len(tracker.events)


def test_the_privacy_answer_states_the_default_the_code_uses() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    texts = {
        v["condition"][0]["value"]: v["text"]
        for v in domain["responses"]["utter_privacy"]
    }
    days = settings.read({}).retention_days
    assert (
        "deleted automatically after a retention period set by the operators "
        in (texts["en"])
    )
    assert f"({days} days by default)" in texts["en"]
    assert f"(standardmäßig {days} Tage) automatisch gelöscht" in texts["de"]
