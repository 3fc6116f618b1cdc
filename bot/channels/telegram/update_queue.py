"""Telegram updates processed after the webhook has answered: per chat in order.

A Rasa turn can take seconds (a slow action, Telegram's own rate limits on the
answers); Telegram sends an update again when the webhook has not answered in time.
So the webhook only checks and records an update and answers 200; the turn runs here.

- One chat's updates run one after the other, in the order they came: a queue per
  chat, worked by one task that ends when the queue is empty.
- Different chats run side by side, at most ``max_running`` at once.
- At most ``max_pending`` updates wait or run; beyond that the webhook answers 503
  and Telegram delivers the update again later.
- ``drain`` (at shutdown) stops taking updates and waits for those taken; what is
  still not done after its timeout is logged with the update ids, never dropped
  without a word (in the cluster it stays pending, and another instance runs it:
  bot/storage/telegram_pending.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable, Deque, Dict, List, Tuple

from telegram import Update

logger = logging.getLogger(__name__)

MAX_PENDING = 1000
MAX_RUNNING = 16


def chat_key(update: Update) -> str:
    """The queue an update belongs to: its chat, else its sender, else one for all."""
    if update.effective_chat is not None:
        return f"chat:{update.effective_chat.id}"
    if update.effective_user is not None:
        return f"user:{update.effective_user.id}"
    return "other"


class ChatQueues:
    """Background processing of updates, one queue per chat."""

    def __init__(
        self,
        process: Callable[[Update], Awaitable[None]],
        max_pending: int = MAX_PENDING,
        max_running: int = MAX_RUNNING,
    ) -> None:
        self._process = process
        self.max_pending = max_pending
        self._running = asyncio.Semaphore(max_running)
        self._queues: Dict[str, Deque[Update]] = {}
        self._workers: Dict[str, asyncio.Task] = {}
        self._pending = 0
        self.closed = False

    @property
    def pending(self) -> int:
        """Updates taken and not yet done (waiting or running)."""
        return self._pending

    @property
    def full(self) -> bool:
        return self._pending >= self.max_pending

    def put(self, update: Update) -> None:
        """Queue an update behind its chat's earlier ones (call only when not full)."""
        if self.closed:
            raise RuntimeError("The Telegram update queue is closed.")
        key = chat_key(update)
        self._pending += 1
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(update)  # its worker is still running and will take it
            return
        self._queues[key] = deque([update])
        self._workers[key] = asyncio.create_task(
            self._work(key), name=f"telegram-updates-{key}"
        )

    async def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                update = queue[0]
                async with self._running:
                    try:
                        await self._process(update)
                    except Exception:
                        logger.exception(
                            "Processing Telegram update %s failed.", update.update_id
                        )
                queue.popleft()
                self._pending -= 1
        finally:
            # No await between the last popleft and here: put() cannot slip an
            # update into a queue whose worker has finished.
            del self._queues[key]
            del self._workers[key]

    async def drain(self, timeout: float, kept: bool = False) -> List[Tuple[str, int]]:
        """Take no more updates and wait up to ``timeout`` s for those taken.

        Returns (chat key, update id) of those left undone, after logging them;
        ``kept``: they stay pending in the cluster, for another instance.
        """
        self.closed = True
        workers = list(self._workers.values())
        if workers:
            logger.info("Finishing %d Telegram updates before stopping.", self._pending)
            await asyncio.wait(workers, timeout=timeout)
        left = [
            (key, update.update_id)
            for key, queue in self._queues.items()
            for update in queue
        ]
        if left:
            logger.warning(
                "Stopping with %d Telegram updates not processed (update ids %s): %s",
                len(left),
                ", ".join(str(update_id) for _, update_id in left),
                "another instance will run them."
                if kept
                else "Telegram will not send them again.",
            )
            for worker in list(self._workers.values()):
                worker.cancel()
        return left
