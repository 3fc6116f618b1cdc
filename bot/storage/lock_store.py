"""A Redis lock store that keeps one conversation's turns apart across Rasa servers.

Rasa 3.6's own ``RedisLockStore`` changes a conversation's lock by reading it,
changing it in Python and writing it back (GET, then SET). When two servers take a
message of the same conversation at the same moment, both read the same lock: both
get the same ticket and run their turns at once (one turn's events then overwrite
the other's in the tracker store), or one deletes the lock the other waits for
(``LockError``, the user gets no answer). Sending 6 messages of one conversation
at once, 3 to each of two servers, lost or left unanswered messages in 6 bursts
out of 10.

Here each step is one atomic Redis command on a list per conversation:

- take a ticket: RPUSH a ticket (a random id and its expiry time); the list's order
  is the order in which the messages reached Redis;
- wait: a ticket is served when it is the head of the list (LINDEX 0); a head whose
  expiry has passed (its server died, or the turn took longer than the lock
  lifetime, Rasa's ``TICKET_LOCK_LIFETIME``, 60 s) is removed by whoever sees it;
- release: LREM the ticket; Redis deletes a list once it is empty, and every list
  expires a little after its last ticket would, so a crashed server leaves nothing.

Configure it like Rasa's (same options: url, port, db, username, password, use_ssl,
key_prefix, socket_timeout):

    lock_store:
      type: bot.storage.lock_store.RedisLockStore
      url: 127.0.0.1
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Optional

import redis
from rasa.core import lock_store
from rasa.core.lock import TicketLock
from rasa.utils.endpoints import EndpointConfig

# Seconds between two looks at the queue while a turn of the conversation runs.
POLL_SECONDS = 0.05
# A queue outlives the expiry of its newest ticket by this many seconds.
QUEUE_GRACE_SECONDS = 10


class RedisLockStore(lock_store.RedisLockStore):
    """Rasa's Redis lock store with tickets taken and served atomically."""

    def __init__(
        self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any
    ) -> None:
        if endpoint_config is not None:
            kwargs = {
                "host": endpoint_config.url or "localhost",
                **endpoint_config.kwargs,
            }
        super().__init__(**kwargs)

    def queue_key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}{conversation_id}:queue"

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = lock_store.LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_SECONDS,
    ) -> AsyncGenerator[TicketLock, None]:
        """Wait for this conversation's earlier turns, then hold it until the end."""
        key = self.queue_key(conversation_id)
        expires = time.time() + lock_lifetime
        ticket = f"{uuid.uuid4().hex} {expires:.3f}".encode()
        try:
            pipeline = self.red.pipeline()
            pipeline.rpush(key, ticket)
            pipeline.expire(key, int(lock_lifetime + QUEUE_GRACE_SECONDS))
            pipeline.execute()
        except redis.RedisError as error:
            raise lock_store.LockError(f"Could not take a ticket: {error}") from error
        try:
            while True:
                head = self.red.lindex(key, 0)
                if head == ticket:
                    break
                if head is None or time.time() > expires:
                    raise lock_store.LockError(
                        f"Could not acquire lock for conversation_id "
                        f"'{conversation_id}' within {lock_lifetime} s."
                    )
                if _expired(head):
                    self.red.lrem(key, 1, head)
                    continue
                await asyncio.sleep(wait_time_in_seconds)
            yield TicketLock(conversation_id)
        finally:
            self.red.lrem(key, 1, ticket)


def _expired(ticket: bytes) -> bool:
    try:
        return time.time() > float(ticket.rsplit(b" ", 1)[1])
    except (IndexError, ValueError):
        return True
