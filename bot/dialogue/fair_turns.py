"""Turns of all conversations handled a few at a time, in the order they arrived.

Rasa handles every message on one event loop. Each turn awaits several times (the
lock, the action server, the stores), and with 50 conversations in flight each of
those awaits queued the turn behind all the others again: a turn with an event
answer waited several rounds while a greeting waited one, so the slowest answers
took 14 times the median (issue 32). Admitting only ``OFR_TURNS_AT_ONCE`` turns at a
time, first come first served, lets a turn that has started finish before new ones
compete with it; the others wait their turn in order instead of all at once.
Enough turns run together to keep both cores busy while one waits for the action
server.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage

from ofr import settings

Handler = Callable[[UserMessage], Awaitable[Any]]


class FairTurns:
    """At most ``at_once`` turns inside Rasa; later ones wait in arrival order."""

    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        self._slots: Optional[asyncio.Semaphore] = None

    def slots(self) -> asyncio.Semaphore:
        # Made on first use: inside the server's running event loop.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.at_once)
        return self._slots

    def wrap(self, on_new_message: Handler) -> Handler:
        """``on_new_message`` admitted in turn (unchanged when the limit is off)."""
        if self.at_once <= 0:
            return on_new_message

        async def in_turn(message: UserMessage) -> Any:
            async with self.slots():
                return await on_new_message(message)

        return in_turn


_shared: Optional[FairTurns] = None


def fair(on_new_message: Handler) -> Handler:
    """``on_new_message`` sharing the process's one queue of turns with every
    channel (REST, the web chat and Telegram compete for the same cores)."""
    global _shared
    if _shared is None:
        _shared = FairTurns(settings.current().turns_at_once)
    return _shared.wrap(on_new_message)
