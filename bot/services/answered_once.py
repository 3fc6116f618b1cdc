"""A REST message sent again with the same ``message_id`` is answered once.

In the cluster, an instance that dies while it handles a request leaves its client
with nginx's 503 (deploy/nginx.conf.template): the client cannot tell whether the
turn was stored, so it sends the message again with the same ``message_id``
(docs/deployment.md). That is safe because:

- Rasa stores a turn only at its end, in one write, under the conversation's lock
  (``Agent.handle_message`` → ``MessageProcessor.handle_message`` → the tracker
  store's save; the SQL store inserts the turn's rows in one transaction). A turn
  cut short by a dying instance is stored whole or not at all.
- Here, under that same lock and before the turn runs, the conversation is read:
  when it holds a user event with the message's id, that turn ran, and its stored
  bot messages go to the output channel again, as Rasa sent them the first time;
  the turn does not run again.
- Because the check waits for the lock, a retry that arrives while the first try
  still runs (nginx gave up waiting: 504 → 503) answers from what that try stored.

The web chat (bot/channels/socketio/input.py) gives its messages ids too: the
widget sends a message again, same id, when its connection came back before the
turn's acknowledgement. Telegram's turns carry ``telegram-<update_id>`` ids: an
update taken over from a dead instance (bot/storage/telegram_pending.py) runs
with ``resend_stored=False``, since a stored turn's answers were sent already.

A text the REST channel splits into several turns (bot/dialogue/follow_ups.py)
gives each its own id: the client's for the first, ``<id>#2``, ``<id>#3`` … after.
Messages without a client id go to Rasa as before, with no extra read.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import Event

from bot.storage.rasa_stores import unwrap

logger = logging.getLogger(__name__)

Handler = Callable[[UserMessage], Awaitable[Any]]

# What ``answered_once``'s handler returns when it answered from a stored turn.
REPLAYED = "replayed"
# A client's id: a UUID fits, and so does any short token ("#" marks parts).
MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def message_id_problem(value: Any) -> Optional[str]:
    """Why ``value`` cannot be a client's message id (None: it can)."""
    if isinstance(value, str) and MESSAGE_ID.fullmatch(value):
        return None
    return "'message_id' must be 1 to 100 letters, digits, '.', '_', ':' or '-'"


def part_id(message_id: str, number: int) -> str:
    """The id of the ``number``-th turn (from 0) a client's message stands for."""
    return message_id if number == 0 else f"{message_id}#{number + 1}"


class IdentifiedMessage(UserMessage):
    """A user message whose id the client chose: answered once however often sent.

    ``replay_only``: answer from the stored turn if there is one, never run it.
    ``resend_stored``: False when a stored turn's answers reached the user already
    (a channel that sends as the turn runs, with no client to answer): then a
    stored turn sends nothing.
    """

    def __init__(
        self,
        *args: Any,
        replay_only: bool = False,
        resend_stored: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.replay_only = replay_only
        self.resend_stored = resend_stored


def identified(
    message: UserMessage, message_id: str, resend_stored: bool = True
) -> IdentifiedMessage:
    """``message`` carrying the client's id (for Rasa's streamed answers)."""
    return IdentifiedMessage(
        message.text,
        message.output_channel,
        message.sender_id,
        input_channel=message.input_channel,
        message_id=message_id,
        metadata=message.metadata,
        resend_stored=resend_stored,
    )


def recorded_answers(
    events: Sequence[Dict[str, Any]], message_id: str
) -> Optional[List[Dict[str, Any]]]:
    """The bot events of the stored turn whose user message has ``message_id``
    (up to the next user message); None when no such turn is stored."""
    found: Optional[List[Dict[str, Any]]] = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if found is not None:
                break
            if event.get("message_id") == message_id:
                found = []
        elif kind == "bot" and found is not None:
            found.append(event)
    return found


async def stored_events(tracker_store: Any, conversation: str) -> List[Dict[str, Any]]:
    """The latest session of ``conversation`` as event dicts (the SQL store reads
    them without building a tracker)."""
    store = unwrap(tracker_store)
    if hasattr(store, "session_event_dicts"):
        return store.session_event_dicts(conversation)
    tracker = await tracker_store.retrieve(conversation)
    return [event.as_dict() for event in tracker.events] if tracker else []


async def replay(message: UserMessage, answers: List[Dict[str, Any]]) -> None:
    """Send a stored turn's bot messages again, as Rasa's processor sent them."""
    for data in answers:
        event = Event.from_parameters(data)
        if event is not None:
            await message.output_channel.send_response(
                message.sender_id,
                event.message(),
            )


async def replay_later_turns(
    on_new_message: Handler,
    output: Any,
    conversation: str,
    message_id: str,
    number: int,
    input_channel: str,
) -> None:
    """The stored answers of turns ``number``, ``number + 1`` … of a message sent
    again, as long as there are any (its text, read again against a conversation
    that moved on, could split otherwise: nothing new runs)."""
    while True:
        again = IdentifiedMessage(
            "",
            output,
            conversation,
            input_channel=input_channel,
            message_id=part_id(message_id, number),
            replay_only=True,
        )
        try:
            if await on_new_message(again) != REPLAYED:
                return
        except Exception:
            logger.exception("Replaying the stored turns of a message failed.")
            return
        number += 1


def answered_once(on_new_message: Handler, agent_of: Callable[[], Any]) -> Handler:
    """``on_new_message``, except that an ``IdentifiedMessage`` whose turn is
    stored is answered from it; ``agent_of`` gives the agent in use (a published
    model swaps it)."""

    async def handle(message: UserMessage) -> Any:
        if not isinstance(message, IdentifiedMessage):
            return await on_new_message(message)
        agent = agent_of()
        if agent is None or not agent.is_ready():
            return None if message.replay_only else await on_new_message(message)
        # Agent.handle_message, with the check inside its lock.
        async with agent.lock_store.lock(message.sender_id):
            events = await stored_events(agent.tracker_store, message.sender_id)
            answers = recorded_answers(events, message.message_id)
            if answers is not None:
                logger.info("A message sent again was answered from its stored turn.")
                if message.resend_stored:
                    await replay(message, answers)
                return REPLAYED
            if message.replay_only:
                return None
            return await agent.processor.handle_message(message)

    return handle
