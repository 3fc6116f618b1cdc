"""A REST message sent again with its ``message_id`` is answered once
(bot/services/answered_once.py), on the project's SQL tracker store on SQLite and
Rasa's in-memory lock store.

The turn itself is a stand-in for Rasa's processor (no model here, so the module
runs in ``make test-fast``): like Rasa's, it stores the user message with its id,
sends the answer and saves the turn at its end. The whole path with the model is
in test_rest_conversations.py; with a killed instance in test_cluster.py.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot.channels.rest import _Answers
from bot.services.answered_once import (
    REPLAYED,
    IdentifiedMessage,
    answered_once,
    message_id_problem,
    part_id,
    recorded_answers,
)
from bot.storage.tracker_store import SQLTrackerStore

CONVERSATION = "rest:retry-user"


class Turns:
    """Stands in for Rasa's MessageProcessor: one turn per call, saved at its end;
    ``hold`` keeps the next turn running until it is set."""

    def __init__(self, store: SQLTrackerStore) -> None:
        self.store = store
        self.ran: List[str] = []
        self.hold: Optional[asyncio.Event] = None
        self.started = asyncio.Event()

    async def handle_message(self, message: UserMessage) -> None:
        tracker = await self.store.get_or_create_tracker(message.sender_id)
        self.ran.append(message.text)
        tracker.update(UserUttered(message.text, message_id=message.message_id))
        number = len(self.ran)
        answers = [
            BotUttered(f"Answer {number}.\n\nSecond part {number}."),
            BotUttered("More?", data={"buttons": [{"title": "Yes", "payload": "/y"}]}),
        ]
        for answer in answers:
            tracker.update(answer)
        tracker.update(ActionExecuted("action_listen"))
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        for answer in answers:
            await message.output_channel.send_response(
                message.sender_id, answer.message()
            )
        await self.store.save(tracker)


class Agent:
    """What answered_once uses of Rasa's agent: its stores and processor."""

    def __init__(self, store: SQLTrackerStore) -> None:
        self.tracker_store = store
        self.lock_store = InMemoryLockStore()
        self.processor = Turns(store)

    def is_ready(self) -> bool:
        return True


@pytest.fixture
def agent(tmp_path, rasa_domain) -> Agent:
    store = SQLTrackerStore(rasa_domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    return Agent(store)


def handler(agent: Agent) -> Any:
    async def rasa(message: UserMessage) -> None:  # what Rasa's own handler does
        async with agent.lock_store.lock(message.sender_id):
            await agent.processor.handle_message(message)

    return answered_once(rasa, lambda: agent)


async def send(
    agent: Agent, text: str, message_id: Optional[str], replay_only: bool = False
) -> tuple:
    answers = _Answers()
    message = (
        UserMessage(text, answers, CONVERSATION)
        if message_id is None
        else IdentifiedMessage(
            text, answers, CONVERSATION, message_id=message_id, replay_only=replay_only
        )
    )
    result = await handler(agent)(message)
    return result, answers.messages


def user_events(agent: Agent) -> List[Dict[str, Any]]:
    events = agent.tracker_store.session_event_dicts(CONVERSATION)
    return [event for event in events if event["event"] == "user"]


async def test_a_message_sent_again_is_answered_from_its_stored_turn(agent):
    first, answers = await send(agent, "Was ist OFR?", "client-1")
    again, replayed = await send(agent, "Was ist OFR?", "client-1")
    assert first is None and again == REPLAYED
    assert agent.processor.ran == ["Was ist OFR?"]  # one turn, not two
    # The same answers, in the same shape (split at blank lines, with buttons).
    assert replayed == answers
    assert [m["text"] for m in answers] == ["Answer 1.", "Second part 1.", "More?"]
    assert answers[-1]["buttons"] == [{"title": "Yes", "payload": "/y"}]
    ids = [event["message_id"] for event in user_events(agent)]
    assert ids == ["client-1"]


async def test_other_ids_and_messages_without_an_id_run_their_turns(agent):
    await send(agent, "IOM?", "client-1")
    _, second = await send(agent, "IOM?", "client-2")
    _, third = await send(agent, "IOM?", None)
    _, fourth = await send(agent, "IOM?", None)
    assert agent.processor.ran == ["IOM?"] * 4
    assert [m["text"] for m in second + third + fourth][::3] == [
        "Answer 2.",
        "Answer 3.",
        "Answer 4.",
    ]
    # The answers of a replay are its own turn's, not the latest turn's.
    _, replayed = await send(agent, "IOM?", "client-1")
    assert replayed[0]["text"] == "Answer 1."
    assert len(agent.processor.ran) == 4


async def test_a_retry_during_the_first_try_waits_for_it_and_replays(agent):
    """nginx gave up waiting (504 → 503) while the first try still runs: the retry
    checks under the conversation's lock, so it sees the first try's turn."""
    agent.processor.hold = asyncio.Event()
    first = asyncio.create_task(send(agent, "BAMF?", "slow-1"))
    await asyncio.wait_for(agent.processor.started.wait(), 5)
    retry = asyncio.create_task(send(agent, "BAMF?", "slow-1"))
    await asyncio.sleep(0.2)  # the retry is waiting for the lock
    agent.processor.hold.set()
    (_, answers), (result, replayed) = await asyncio.wait_for(
        asyncio.gather(first, retry), 10
    )
    assert result == REPLAYED and replayed == answers
    assert agent.processor.ran == ["BAMF?"]
    assert len(user_events(agent)) == 1


async def test_replay_only_never_runs_a_turn(agent):
    result, answers = await send(agent, "", "never-sent#2", replay_only=True)
    assert result is None and answers == []
    assert agent.processor.ran == []


def test_recorded_answers_are_those_of_the_turn_with_the_id():
    events = [
        {"event": "user", "message_id": "a", "text": "1"},
        {"event": "bot", "text": "one"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "message_id": "b", "text": "2"},
        {"event": "bot", "text": "two"},
        {"event": "bot", "text": "two, more"},
    ]
    assert [e["text"] for e in recorded_answers(events, "a")] == ["one"]
    assert [e["text"] for e in recorded_answers(events, "b")] == ["two", "two, more"]
    assert recorded_answers(events, "c") is None
    events.append({"event": "user", "message_id": "c", "text": "3"})
    assert recorded_answers(events, "c") == []  # stored, answered with nothing


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0b6f1c2e-9f1d-4c55-a4c7-7a3f0e6b2d10", True),
        ("web.42:7_x", True),
        ("x" * 100, True),
        ("x" * 101, False),
        ("", False),
        ("a#2", False),  # "#" marks the later turns of one message
        ("with space", False),
        (42, False),
        (None, False),
    ],
)
def test_message_ids_are_short_plain_tokens(value, ok):
    assert (message_id_problem(value) is None) is ok


def test_each_turn_of_a_message_has_its_own_id():
    assert [part_id("m1", n) for n in range(3)] == ["m1", "m1#2", "m1#3"]
