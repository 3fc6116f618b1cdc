"""Telegram updates answered 200 and not yet done, kept in Redis for the cluster.

The webhook answers Telegram at once and runs the turn afterwards
(bot/channels/telegram/update_queue.py), so Telegram never sends such an update
again. An instance that dies in between would lose it; so before the 200 the
update is written here, in the same atomic step that records its id as taken
(the key of ``bot.storage.telegram_updates.RedisUpdates``):

- one hash per chat, ``<prefix>telegram-pending:<bot>:<chat>``, field the update
  id, value ``<owner>\\n<the update's JSON>``; the set
  ``<prefix>telegram-pending:<bot>`` names the chats that have one;
- the owner is the instance's name in the lock store
  (``bot.storage.lock_store.RedisLockStore.holder``), whose key a thread renews
  every 2 s and which lapses 10 s after the instance died;
- the owner deletes the update once it is done (answered, or failed);
- any instance may ``claim`` a chat's updates whose owner's key has lapsed: they
  become its own (atomically, so one instance takes each) and it runs them;
- the set ``<prefix>telegram-pending-owners:<bot>`` names the instances that took
  updates, so that a look for dead instances' updates costs a few reads while all
  of them live, however many chats are waiting.

The update's text is in Redis only while it waits or runs (and for at most a day,
Telegram's own limit). Without Redis (a single ``make run``) nothing is kept:
an update cut off by a crash there is not answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import redis

from bot.storage.telegram_updates import KEEP_SECONDS

# Records the update as taken (once) and as pending, in one step.
TAKE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[4], ARGV[6])
return 1
"""

# Done: no longer pending; the chat leaves the set with its last update.
DONE = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1
"""

# The chat's updates whose owner's key has lapsed become ARGV[2]'s.
CLAIM = """
local entries = redis.call('HGETALL', KEYS[1])
local claimed = {}
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local cut = string.find(value, '\\n', 1, true)
  local owner = string.sub(value, 1, cut - 1)
  if owner ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. owner) == 0 then
    local mine = ARGV[2] .. string.sub(value, cut)
    redis.call('HSET', KEYS[1], entries[i], mine)
    table.insert(claimed, entries[i])
    table.insert(claimed, mine)
  end
end
if #entries == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return claimed
"""


@dataclass(frozen=True)
class Pending:
    """One update taken and not yet done."""

    update_id: int
    owner: str
    data: Dict[str, Any]


def _pending(field: bytes, value: bytes) -> Pending:
    owner, _, data = value.partition(b"\n")
    return Pending(int(field), owner.decode(), json.loads(data))


class PendingUpdates:
    """The pending updates of one bot, as one instance (``holder``) sees them."""

    def __init__(self, lock_store: Any, prefix: str, bot_id: str) -> None:
        self.client: redis.Redis = lock_store.red
        self.holder: str = lock_store.holder
        # The lock store's key of a server, minus the server's name.
        self.holders = lock_store.holder_key("")
        self.lock_store = lock_store
        self.seen_prefix = f"{prefix}telegram-update:{bot_id}:"
        self.chats_key = f"{prefix}telegram-pending:{bot_id}"
        self.owners_key = f"{prefix}telegram-pending-owners:{bot_id}"
        self._take = self.client.register_script(TAKE)
        self._done = self.client.register_script(DONE)
        self._claim = self.client.register_script(CLAIM)

    def _chat_key(self, chat: str) -> str:
        return f"{self.chats_key}:{chat}"

    def keep_alive(self) -> None:
        """Renew this instance's key (as the lock store does for its tickets)."""
        self.lock_store.keep_alive()

    def take(self, update_id: int, chat: str, data: Dict[str, Any], now: float) -> bool:
        """Record the update as this instance's; False when it was taken before."""
        value = f"{self.holder}\n{json.dumps(data, separators=(',', ':'))}"
        keys = [
            self.seen_prefix + str(update_id),
            self._chat_key(chat),
            self.chats_key,
            self.owners_key,
        ]
        args = [int(now), KEEP_SECONDS, update_id, value, chat, self.holder]
        return bool(self._take(keys=keys, args=args))

    def done(self, update_id: int, chat: str) -> None:
        self._done(keys=[self._chat_key(chat), self.chats_key], args=[update_id, chat])

    def entries(self, chat: str) -> List[Pending]:
        """The chat's pending updates, oldest first."""
        found = self.client.hgetall(self._chat_key(chat))
        return sorted(
            (_pending(field, value) for field, value in found.items()),
            key=lambda pending: pending.update_id,
        )

    def holds(self, update_id: int, chat: str) -> bool:
        """The update is still pending and this instance's."""
        value = self.client.hget(self._chat_key(chat), str(update_id))
        return value is not None and value.partition(b"\n")[0] == self.holder.encode()

    def lapsed_owners(self) -> List[str]:
        """The instances that took updates and whose key has lapsed (they died)."""
        owners = sorted(o.decode() for o in self.client.smembers(self.owners_key))
        if not owners:
            return []
        pipeline = self.client.pipeline()
        for owner in owners:
            pipeline.exists(self.holders + owner)
        alive = pipeline.execute()
        return [owner for owner, lives in zip(owners, alive, strict=True) if not lives]

    def forget_owners(self, owners: List[str]) -> None:
        """Dead instances whose updates were all claimed (they take no more)."""
        if owners:
            self.client.srem(self.owners_key, *owners)

    def chats(self) -> List[str]:
        """The chats with pending updates."""
        return sorted(chat.decode() for chat in self.client.smembers(self.chats_key))

    def claim(self, chat: str) -> List[Pending]:
        """The chat's updates of lapsed owners, now this instance's, oldest first."""
        found = self._claim(
            keys=[self._chat_key(chat), self.chats_key],
            args=[self.holders, self.holder, chat],
        )
        pairs = zip(found[::2], found[1::2], strict=True)
        return sorted(
            (_pending(field, value) for field, value in pairs),
            key=lambda pending: pending.update_id,
        )


def pending_updates_for(lock_store: Any, bot_id: str) -> Optional[PendingUpdates]:
    """The pending updates when the locks are in Redis with named servers (the
    cluster's lock store); else None."""
    client = getattr(lock_store, "red", None)
    prefix = getattr(lock_store, "key_prefix", None)
    if not (
        isinstance(client, redis.Redis)
        and isinstance(prefix, str)
        and hasattr(lock_store, "holder_key")
        and hasattr(lock_store, "keep_alive")
    ):
        return None
    # The same deployment prefix as the taken update ids (shared_updates_for).
    return PendingUpdates(lock_store, prefix.removesuffix("lock:"), bot_id)
