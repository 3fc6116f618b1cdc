"""The Redis lock store (bot/storage/lock_store.py) against the real Redis at 127.0.0.1:
two stores stand for two Rasa servers."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
import redis

from bot.storage.lock_store import RedisLockStore


@pytest.fixture
def prefix():
    name = f"ofrlocktest{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis(host="127.0.0.1", db=1)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


def store(prefix: str) -> RedisLockStore:
    return RedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix)


def test_two_servers_never_hold_one_conversation_at_once(prefix):
    inside, most, order = [0], [0], []
    guard = threading.Lock()

    async def turn(lock_store: RedisLockStore, name: str) -> None:
        async with lock_store.lock("conversation"):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            await asyncio.sleep(0.01)
            with guard:
                inside[0] -= 1
                order.append(name)

    def server(name: str) -> None:
        lock_store = store(prefix)

        async def many() -> None:
            await asyncio.gather(*(turn(lock_store, f"{name}{i}") for i in range(10)))

        asyncio.run(many())

    threads = [threading.Thread(target=server, args=(n,)) for n in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most[0] == 1
    assert len(order) == 20
    assert not redis.Redis(host="127.0.0.1", db=1).exists(
        store(prefix).queue_key("conversation")
    )


async def test_turns_are_served_in_arrival_order(prefix):
    lock_store, served = store(prefix), []

    async def turn(number: int) -> None:
        async with lock_store.lock("conversation"):
            served.append(number)
            await asyncio.sleep(0.01)

    tasks = []
    for number in range(5):
        tasks.append(asyncio.create_task(turn(number)))
        await asyncio.sleep(0.005)  # each takes its ticket before the next
    await asyncio.gather(*tasks)
    assert served == [0, 1, 2, 3, 4]


async def test_a_dead_servers_ticket_expires(prefix):
    lock_store = store(prefix)
    key = lock_store.queue_key("conversation")
    lock_store.red.rpush(key, f"dead {time.time() + 0.2:.3f}".encode())
    started = time.monotonic()
    async with lock_store.lock("conversation"):
        waited = time.monotonic() - started
    assert 0.1 < waited < 2


async def test_the_lock_is_released_when_the_turn_fails(prefix):
    lock_store = store(prefix)
    with pytest.raises(RuntimeError):
        async with lock_store.lock("conversation"):
            raise RuntimeError("turn failed")
    async with lock_store.lock("conversation"):
        pass


async def test_a_killed_servers_ticket_is_dropped_before_it_expires(prefix):
    """Issue 32: a server killed during a turn held its conversation for the whole
    lock lifetime (60 s), and the message sent again after nginx's 503 waited that
    long. Its key lapses instead, and the next waiter drops its ticket."""
    lock_store = store(prefix)
    key = lock_store.queue_key("conversation")
    # The ticket of a server whose key is gone, valid for another minute.
    lock_store.red.rpush(key, f"dead {time.time() + 60:.3f} 4242-killed".encode())
    started = time.monotonic()
    async with lock_store.lock("conversation"):
        waited = time.monotonic() - started
    assert waited < 5, waited


async def test_a_live_servers_ticket_is_kept_past_its_key_lifetime(prefix, monkeypatch):
    """The key of a server that holds a turn is renewed (by a thread), so a turn
    longer than the key's lifetime keeps its conversation."""
    from bot.storage import lock_store as module

    monkeypatch.setattr(module, "HOLDER_TTL_SECONDS", 0.5)
    monkeypatch.setattr(module, "HEARTBEAT_SECONDS", 0.1)
    holding, waiting = store(prefix), store(prefix)
    order = []

    async def long_turn() -> None:
        async with holding.lock("conversation"):
            order.append("long turn starts")
            await asyncio.sleep(2)  # four key lifetimes
            order.append("long turn ends")

    async def next_turn() -> None:
        await asyncio.sleep(0.2)
        async with waiting.lock("conversation"):
            order.append("next turn")

    await asyncio.gather(long_turn(), next_turn())
    assert order == ["long turn starts", "long turn ends", "next turn"]
