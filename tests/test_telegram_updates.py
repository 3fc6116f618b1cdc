"""Telegram updates taken once (shared by the instances) and processed per chat in
order (issue 29, finding 8). The webhook end to end is in test_telegram_channel.py."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
import redis
import sqlalchemy as sa
from telegram import Update

from bot.channels.telegram.update_queue import ChatQueues
from bot.storage.lock_store import RedisLockStore
from bot.storage.telegram_updates import (
    KEEP_SECONDS,
    RedisUpdates,
    SeenUpdates,
    SqlUpdates,
    shared_updates_for,
)
from tests.fake_telegram import callback_update, message_update
from tests.stores import REDIS_HOST, REDIS_PORT, sql_engine

BOT = "123456"
NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def two_instances(request, tmp_path: Path) -> Iterator[List[SeenUpdates]]:
    """Two instances' views of one shared store, each with its own connection."""
    if request.param == "redis":
        prefix = f"ofrtest{uuid.uuid4().hex[:10]}"
        stores = [
            RedisLockStore(host=REDIS_HOST, port=REDIS_PORT, db=1, key_prefix=prefix)
            for _ in range(2)
        ]
        yield [
            SeenUpdates(BOT, shared_updates_for(None, lock, tmp_path))
            for lock in stores
        ]
        for key in stores[0].red.scan_iter(f"{prefix}:*"):
            stores[0].red.delete(key)
        return
    with sql_engine(request.param, tmp_path) as engine:
        other = sa.create_engine(engine.url)
        yield [SeenUpdates(BOT, SqlUpdates(e)) for e in (engine, other)]
        other.dispose()


def test_an_update_is_taken_once_across_instances(two_instances):
    a, b = two_instances
    assert a.first_time(1001, NOW)
    assert not a.first_time(1001, NOW)  # again on the same instance
    assert not b.first_time(1001, NOW)  # and on the other one
    assert b.first_time(1002, NOW)
    assert not a.first_time(1002, NOW)


def test_instances_racing_for_one_update_take_it_once(two_instances):
    """Telegram's re-delivery reaching both instances at the same moment."""
    taken: List[bool] = []
    start = threading.Barrier(8)

    def take(seen: SeenUpdates) -> None:
        start.wait()
        taken.append(seen.first_time(2001, NOW))

    threads = [
        threading.Thread(target=take, args=(two_instances[n % 2],)) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [False] * 7 + [True]


def test_each_bot_counts_its_own_updates(tmp_path):
    with sql_engine("sqlite", tmp_path) as engine:
        shared = SqlUpdates(engine)
        assert SeenUpdates("111", shared).first_time(5, NOW)
        assert SeenUpdates("222", shared).first_time(5, NOW)


def test_old_ids_are_pruned_after_a_day(tmp_path):
    with sql_engine("sqlite", tmp_path) as engine:
        shared = SqlUpdates(engine)
        assert shared.first_time(BOT, 1, NOW - KEEP_SECONDS - 1)
        assert shared.first_time(BOT, 2, NOW)
        assert shared.prune(NOW) == 1
        with engine.connect() as connection:
            ids = connection.execute(
                sa.text("SELECT update_id FROM ofr_telegram_updates")
            )
            assert [row[0] for row in ids] == [2]


def test_redis_keys_expire_after_a_day():
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=1)
    prefix = f"ofrtest{uuid.uuid4().hex[:10]}:"
    assert RedisUpdates(client, prefix).first_time(BOT, 7, NOW)
    key = f"{prefix}telegram-update:{BOT}:7"
    try:
        assert 0 < client.ttl(key) <= KEEP_SECONDS
    finally:
        client.delete(key)


def test_the_store_follows_the_lock_store_else_the_conversations(tmp_path):
    lock = RedisLockStore(host=REDIS_HOST, port=REDIS_PORT, db=1, key_prefix="ofrx")
    shared = shared_updates_for(None, lock, tmp_path)
    assert isinstance(shared, RedisUpdates) and shared.prefix == "ofrx:"
    local = shared_updates_for(None, object(), tmp_path)
    assert isinstance(local, SqlUpdates)
    assert str(local.engine.url).endswith("telegram-updates.db")


class Unreachable:
    def first_time(self, bot_id: str, update_id: int, now: float) -> bool:
        raise redis.ConnectionError("no Redis here")


def test_an_unreachable_store_still_drops_what_this_process_took(caplog):
    seen = SeenUpdates(BOT, Unreachable())
    assert seen.first_time(9, NOW)  # processed: better twice than never
    assert not seen.first_time(9, NOW)
    assert "processing it" in caplog.text


# ------------------------------------------------------------------ the chat queues


def update(data: dict) -> Update:
    return Update.de_json(data, None)


def test_one_chats_updates_run_in_order_and_chats_side_by_side():
    async def scenario() -> List[str]:
        done: List[str] = []
        slow_chat_may_go_on = asyncio.Event()

        async def process(item: Update) -> None:
            text = item.effective_message.text
            if text == "slow 1":
                await slow_chat_may_go_on.wait()
            # Run side by side, "slow 2" would finish after "slow 3".
            await asyncio.sleep({"slow 2": 0.1}.get(text, 0))
            done.append(text)
            if text == "quick":
                slow_chat_may_go_on.set()

        queues = ChatQueues(process)
        for text in ("slow 1", "slow 2", "slow 3"):
            queues.put(update(message_update(1, text)))
        queues.put(update(message_update(2, "quick")))
        assert queues.pending == 4
        assert await queues.drain(timeout=10) == []
        assert queues.pending == 0
        return done

    assert asyncio.run(scenario()) == ["quick", "slow 1", "slow 2", "slow 3"]


def test_a_failing_update_does_not_stop_its_chat(caplog):
    async def scenario() -> List[str]:
        done: List[str] = []

        async def process(item: Update) -> None:
            if item.effective_message.text == "bad":
                raise ValueError("broken")
            done.append(item.effective_message.text)

        queues = ChatQueues(process)
        for text in ("bad", "good"):
            queues.put(update(message_update(3, text)))
        await queues.drain(timeout=10)
        return done

    assert asyncio.run(scenario()) == ["good"]
    assert "failed" in caplog.text


def test_drain_waits_then_names_what_is_left(caplog):
    async def scenario() -> list:
        async def process(item: Update) -> None:
            await asyncio.sleep(60)

        queues = ChatQueues(process)
        press = update(callback_update(4, "/ask_contact"))
        queues.put(press)
        left = await queues.drain(timeout=0.2)
        assert left == [("chat:4", press.update_id)]
        with pytest.raises(RuntimeError):
            queues.put(press)
        return left

    asyncio.run(scenario())
    assert "not processed" in caplog.text


def test_the_queue_says_when_it_is_full():
    async def scenario() -> None:
        async def process(item: Update) -> None:
            await asyncio.sleep(60)

        queues = ChatQueues(process, max_pending=2)
        queues.put(update(message_update(5, "a")))
        assert not queues.full
        queues.put(update(message_update(6, "b")))
        assert queues.full
        await queues.drain(timeout=0)

    asyncio.run(scenario())
