"""The Rasa server deletes conversations idle for longer than ``OFR_RETENTION_DAYS``
(default 90) by itself, once a day: what the privacy answer (``utter_privacy``)
promises, kept without an operator's cron job.

The deletion is ``make purge``'s (``bot/storage/conversations.py``), run on the
store the server uses: SQL (SQLite, PostgreSQL) and Redis as the tool does, and the
in-memory store, which no other process can reach. A conversation goes whole, with
its tickets and, for a Telegram chat, its event alerts and reminders. The first
round runs shortly after the start, then one every 24 hours; a round that fails
(the database is away) is logged and the next one tries again. The instances of a
cluster each run it; a conversation that gets a message meanwhile is kept (the
purge re-checks it as it deletes). Only counts are logged, never ids or texts.

``RetentionChannel`` (credentials.yml, ``bot.channels.routes.retention``) starts and stops
it with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Callable, Optional, Tuple

from bot.storage.conversations import (
    InMemoryConversations,
    RedisConversations,
    SQLConversations,
    StoreUnavailable,
    cutoff_for,
)
from bot.storage.rasa_stores import unwrap

logger = logging.getLogger(__name__)

DAY_SECONDS = 86400.0
# Let the server finish starting (and answer its first messages) before the first round.
FIRST_ROUND_AFTER_SECONDS = 60.0


def conversations_in(
    tracker_store: Any,
) -> SQLConversations | RedisConversations | InMemoryConversations:
    """The running server's own tracker store (under Rasa's wrappers), to purge it
    in place: the same deletion as ``make purge``, without an endpoints file."""
    from rasa.core.tracker_store import (
        InMemoryTrackerStore,
        RedisTrackerStore,
        SQLTrackerStore,
    )

    store = unwrap(tracker_store)
    if isinstance(store, SQLTrackerStore):
        return SQLConversations.of_engine(store.engine)
    if isinstance(store, RedisTrackerStore):
        return RedisConversations.of_store(store)
    if isinstance(store, InMemoryTrackerStore):
        return InMemoryConversations(store)
    raise StoreUnavailable(
        f"The tracker store {type(store).__name__} cannot be purged: use an SQL, "
        "Redis or in-memory tracker store."
    )


class Retention:
    """Deletes the conversations of the server's tracker store idle for more than
    ``days`` days: once now (``purge_once``) or every ``every`` seconds (``start``)."""

    def __init__(
        self,
        tracker_store: Callable[[], Any],
        days: int,
        every: float = DAY_SECONDS,
        first_after: float = FIRST_ROUND_AFTER_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A function: `make publish` swaps the agent; the store is read each round.
        self.tracker_store = tracker_store
        self.days = days
        self.every = every
        self.first_after = first_after
        self.clock = clock
        self.rounds = 0
        self._task: Optional[asyncio.Task] = None

    async def purge_once(self) -> Tuple[int, int]:
        """Delete the idle conversations now; how many conversations and events."""
        store = self.tracker_store()
        if store is None:
            return 0, 0
        conversations = conversations_in(store)
        cutoff = cutoff_for(self.days, self.clock())
        if isinstance(conversations, InMemoryConversations):
            # In the event loop itself: no turn can be saved halfway through.
            found = conversations.purge(cutoff)
        else:
            found = await asyncio.to_thread(conversations.purge, cutoff)
        self.rounds += 1
        if found[0]:
            logger.info(
                "Retention: deleted %s conversations (%s events) idle for more than "
                "%s days.",
                found[0],
                found[1],
                self.days,
            )
        return found

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self.first_after)
        while True:
            try:
                await self.purge_once()
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as error:
                logger.error(
                    "Retention: %s Idle conversations were not deleted.", error
                )
            except Exception:  # the database is away: the next round tries again
                logger.exception(
                    "Retention: deleting idle conversations failed; trying again in "
                    "%s hours.",
                    round(self.every / 3600, 1),
                )
            await asyncio.sleep(self.every)
