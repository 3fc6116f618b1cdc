"""bot/dialogue/fair_turns.py: a few turns at once, the rest in arrival order."""

from __future__ import annotations

import asyncio
from typing import List

from rasa.core.channels.channel import UserMessage

from bot.dialogue.fair_turns import FairTurns


def test_at_most_the_limit_run_together_and_the_rest_start_in_arrival_order():
    running: List[str] = []
    started: List[str] = []
    most = 0

    async def turn(message: UserMessage) -> str:
        nonlocal most
        running.append(message.text)
        started.append(message.text)
        most = max(most, len(running))
        # Several awaits per turn, as a real turn has (lock, actions, stores).
        for _ in range(3):
            await asyncio.sleep(0.001)
        running.remove(message.text)
        return message.text

    async def main() -> List[str]:
        handle = FairTurns(3).wrap(turn)
        names = [f"m{number}" for number in range(12)]
        return await asyncio.gather(*(handle(UserMessage(n)) for n in names))

    answers = asyncio.run(main())
    assert answers == [f"m{number}" for number in range(12)]
    assert most == 3
    assert started == [f"m{number}" for number in range(12)]


def test_a_started_turn_finishes_before_later_arrivals_start():
    """Without the limit the twelfth arrival starts before the first one has
    finished (every await queues a turn behind all others): the tail of issue 32."""
    log: List[str] = []

    async def turn(message: UserMessage) -> None:
        log.append(f"start {message.text}")
        for _ in range(3):
            await asyncio.sleep(0)
        log.append(f"end {message.text}")

    async def run(limit: int) -> List[str]:
        log.clear()
        handle = FairTurns(limit).wrap(turn)
        await asyncio.gather(*(handle(UserMessage(f"m{n}")) for n in range(12)))
        return list(log)

    fair = asyncio.run(run(2))
    assert fair.index("end m0") < fair.index("start m11")
    unlimited = asyncio.run(run(0))
    assert unlimited.index("start m11") < unlimited.index("end m0")


def test_a_failing_turn_frees_its_place():
    async def turn(message: UserMessage) -> None:
        if message.text == "bad":
            raise RuntimeError("the turn failed")

    async def main() -> None:
        handle = FairTurns(1).wrap(turn)
        try:
            await handle(UserMessage("bad"))
        except RuntimeError:
            pass
        await asyncio.wait_for(handle(UserMessage("good")), timeout=5)

    asyncio.run(main())
