"""Telegram updates kept as pending in Redis until done, so that a live instance
takes over those of a dead one (issue 32, the cluster). The whole path, with an
instance killed during a turn, is in test_cluster.py."""

from __future__ import annotations

import uuid
from typing import Iterator, List

import pytest

from bot.storage.lock_store import RedisLockStore
from bot.storage.telegram_pending import PendingUpdates, pending_updates_for
from tests.fake_telegram import message_update
from tests.stores import REDIS_HOST, REDIS_PORT

BOT = "123456"
NOW = 1_800_000_000.0
CHAT = "chat:-1001234567890123"


@pytest.fixture
def locks() -> Iterator[List[RedisLockStore]]:
    """Two instances' lock stores on one Redis (each names its own server)."""
    prefix = f"ofrtest{uuid.uuid4().hex[:10]}"
    stores = [
        RedisLockStore(host=REDIS_HOST, port=REDIS_PORT, db=1, key_prefix=prefix)
        for _ in range(2)
    ]
    yield stores
    for key in stores[0].red.scan_iter(f"{prefix}:*"):
        stores[0].red.delete(key)


def pending_of(lock: RedisLockStore) -> PendingUpdates:
    pending = pending_updates_for(lock, BOT)
    assert pending is not None
    return pending


def test_an_update_is_taken_once_and_pending_until_done(locks):
    a, b = (pending_of(lock) for lock in locks)
    a.keep_alive()
    update = message_update(-1001234567890123, "Was ist OFR?")
    assert a.take(update["update_id"], CHAT, update, NOW)
    assert not b.take(update["update_id"], CHAT, update, NOW)
    [entry] = b.entries(CHAT)
    # The update as Telegram sent it, long ids and all.
    assert entry.owner == a.holder and entry.data == update
    assert a.holds(update["update_id"], CHAT) and not b.holds(update["update_id"], CHAT)
    assert b.chats() == [CHAT]
    assert b.claim(CHAT) == []  # its instance lives
    a.done(update["update_id"], CHAT)
    assert b.entries(CHAT) == [] and b.chats() == []


def test_the_updates_of_a_dead_instance_are_claimed_once_in_order(locks):
    a, b = (pending_of(lock) for lock in locks)
    first = message_update(771, "IOM?")
    second = message_update(771, "BAMF?")
    for update in (second, first):
        assert a.take(update["update_id"], CHAT, update, NOW)
    locks[0].beat()  # a lives (once: no thread renews it)
    assert b.lapsed_owners() == []
    # a's key lapses (it died): b takes its updates.
    locks[0].red.delete(locks[0].holder_key(locks[0].holder))
    b.keep_alive()
    assert b.lapsed_owners() == [a.holder]
    claimed = b.claim(CHAT)
    assert [entry.data for entry in claimed] == [first, second]
    assert all(entry.owner == b.holder for entry in claimed)
    assert b.claim(CHAT) == [] and a.claim(CHAT) == []  # b lives: not again
    assert not a.holds(first["update_id"], CHAT)
    assert b.holds(first["update_id"], CHAT)
    b.forget_owners([a.holder])
    assert b.lapsed_owners() == []


def test_without_redis_locks_nothing_is_kept():
    assert pending_updates_for(None, BOT) is None
