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

- take a ticket: RPUSH a ticket (a random id, its expiry time and the server that
  took it); the list's order is the order in which the messages reached Redis;
- wait: a ticket is served when it is the head of the list (LINDEX 0); a head whose
  expiry has passed (the turn took longer than the lock lifetime, Rasa's
  ``TICKET_LOCK_LIFETIME``, 60 s) or whose server is gone is removed by whoever
  sees it;
- release: LREM the ticket; Redis deletes a list once it is empty, and every list
  expires a little after its last ticket would, so a crashed server leaves nothing.

A server is gone when its key ``<prefix>:lock:holder:<pid>-<random>`` has lapsed: a
thread renews it every ``HEARTBEAT_SECONDS`` while the process lives (a thread, so a
busy event loop does not stop it). A server killed during a turn thus holds its
conversation for at most ``HOLDER_TTL_SECONDS``, not the whole lock lifetime: the
message sent again after nginx's 503 is answered within seconds (docs/deployment.md).

Configure it like Rasa's (same options: url, port, db, username, password, use_ssl,
key_prefix, socket_timeout):

    lock_store:
      type: bot.storage.lock_store.RedisLockStore
      url: 127.0.0.1
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
import weakref
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
# A live server renews its key this often; a key not renewed lapses after the TTL.
HEARTBEAT_SECONDS = 2
HOLDER_TTL_SECONDS = 10
# How often a waiter asks whether the server at the head of the queue still lives.
LIVENESS_CHECK_SECONDS = 1

logger = logging.getLogger(__name__)


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
        # Names this server in its tickets (the pid tells an operator which one).
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._heartbeat: Optional[threading.Thread] = None

    def holder_key(self, holder: str) -> str:
        return f"{self.key_prefix}holder:{holder}"

    def beat(self) -> None:
        """Say (again) that this server lives, for the next HOLDER_TTL_SECONDS."""
        self.red.set(
            self.holder_key(self.holder), b"1", px=int(HOLDER_TTL_SECONDS * 1000)
        )

    def keep_alive(self) -> None:
        """Say that this server lives, and keep saying it while it does (for other
        records that name it: Telegram's pending updates)."""
        self.beat()
        self._keep_beating()

    def _keep_beating(self) -> None:
        if self._heartbeat is None or not self._heartbeat.is_alive():
            self._heartbeat = threading.Thread(
                target=_heartbeat,
                args=(weakref.ref(self),),
                name="ofr-lock-heartbeat",
                daemon=True,
            )
            self._heartbeat.start()

    def holder_gone(self, ticket: bytes) -> bool:
        """True when ``ticket``'s server no longer renews its key (it died)."""
        holder = _holder(ticket)
        return holder is not None and not self.red.exists(self.holder_key(holder))

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
        ticket = f"{uuid.uuid4().hex} {expires:.3f} {self.holder}".encode()
        self._keep_beating()
        try:
            pipeline = self.red.pipeline()
            # The key first: no waiter may see the ticket without it.
            pipeline.set(
                self.holder_key(self.holder), b"1", px=int(HOLDER_TTL_SECONDS * 1000)
            )
            pipeline.rpush(key, ticket)
            pipeline.expire(key, int(lock_lifetime + QUEUE_GRACE_SECONDS))
            pipeline.execute()
        except redis.RedisError as error:
            raise lock_store.LockError(f"Could not take a ticket: {error}") from error
        next_look = 0.0  # when to ask next whether the head's server lives
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
                gone = False
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + LIVENESS_CHECK_SECONDS
                    gone = self.holder_gone(head)
                if gone or _expired(head):
                    self.red.lrem(key, 1, head)
                    next_look = 0.0
                    continue
                await asyncio.sleep(wait_time_in_seconds)
            yield TicketLock(conversation_id)
        finally:
            self.red.lrem(key, 1, ticket)


def _expired(ticket: bytes) -> bool:
    try:
        return time.time() > float(ticket.split(b" ")[1])
    except (IndexError, ValueError):
        return True


def _holder(ticket: bytes) -> Optional[str]:
    """The server named in ``ticket`` (None in a ticket of an older version)."""
    parts = ticket.split(b" ")
    return parts[2].decode(errors="replace") if len(parts) > 2 else None


def _heartbeat(store: weakref.ref[RedisLockStore]) -> None:
    """Renew the server's key until its lock store is gone (a daemon thread)."""
    while True:
        time.sleep(HEARTBEAT_SECONDS)
        current = store()
        if current is None:
            return
        try:
            current.beat()
        except redis.RedisError as error:
            logger.warning("Could not renew this server's lock key: %s", error)
        del current
