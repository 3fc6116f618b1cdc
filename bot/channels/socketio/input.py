"""Rasa's socket.io channel with every event checked before Rasa sees it.

Registered in credentials.yml as ``bot.channels.socketio.input.ValidatedSocketIOInput``
with the same options as Rasa's ``socketio`` (the name stays "socketio", the path
``/socket.io``), so the web chat widget is unchanged.

Rasa's handlers index the event data without checking it; a list, a number or a
dict ``session_id`` raises inside the handler (python-socketio logs it, the server
lives on) or reaches the tracker store. Here:

- a packet over 64 KiB is refused by Engine.IO (HTTP 413 for long-polling, the
  connection is closed for websockets);
- a long-polling POST that Engine.IO cannot decode, or with packets it does not
  handle (python-engineio then hangs on the POST and answers 500 to the next one),
  gets 400;
  such a websocket frame closes the connection quietly;
- a Socket.IO packet other than connect, disconnect, a text event or a text
  acknowledgement (with an id and a list) is dropped (binary events and
  acknowledgements would wait for attachments, holding memory);
- ``session_request`` with anything but nothing, ``{}`` or a string ``session_id``
  starts a fresh session;
- ``user_uttered`` that is not an object with a string ``message`` (and, with
  session persistence, a usable ``session_id``) is dropped with a warning; metadata
  that is not an object (or a JSON string of one) is ignored;
- an empty message or one over 2,000 characters gets a polite note in the
  conversation's language; any other text is cleaned and goes to Rasa.

A ``user_uttered`` may carry the widget's ``message_id`` (as REST's: 1 to 100
letters, digits, ``.``, ``_``, ``:``, ``-``; another value counts as none) and ask
for an acknowledgement, which comes when the message is handled. The widget sends
a message again, same id and ``"resent": true``, when its connection dropped before
that (the instance died, the network blinked): a turn already stored is answered
from the store, as REST's (``bot.services.answered_once``), and the answers carry
``in_reply_to`` and ``answer_index`` so that the widget shows none twice.

Conversations are stored as ``socketio:<session_id>`` (``bot.storage.conversation_ids``),
and that is also the room the answers go to. A socket holds one session: a new
``session_request`` leaves the old room, and a message for another session than the
socket's own makes that session the socket's one.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.socketio.checks import (
    check_packets,
    event_metadata,
    event_session_id,
)
from bot.channels.socketio.output import WidgetOutput
from bot.channels.socketio.rooms import CHANNEL_NAME, join, joined
from bot.channels.socketio.waiting_answers import WaitingAnswers
from bot.dialogue.fair_turns import fair
from bot.dialogue.follow_ups import as_typed, each_message
from bot.services.answered_once import (
    REPLAYED,
    IdentifiedMessage,
    answered_once,
    message_id_problem,
    part_id,
    replay_later_turns,
)
from bot.services.handover_desk import desk
from bot.services.input_limits import (
    MAX_BODY_BYTES,
    clean_text,
    note,
    stored_language,
    text_problem,
)
from bot.services.rate_limits import (
    client_address,
    record_refusal,
    shared_limits,
)
from bot.services.side_answers import is_side_question, side_answer
from bot.storage.conversation_ids import conversation_id

logger = logging.getLogger(__name__)


class ChatEventHandlers:
    """The socket.io event handlers and server listeners of one blueprint: they
    share the server, the namespace, the channel's options and, once the server
    has started, its tracker store."""

    def __init__(
        self,
        channel: ValidatedSocketIOInput,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        self.channel = channel
        self.on_new_message = on_new_message
        self.sio = channel.sio
        self.namespace = channel.namespace or "/"
        self.tracker_store: Any = None
        self.app: Any = None
        self.waiting = WaitingAnswers(self.sio, channel.bot_message_evt, self.namespace)

    def register(self, socketio: Blueprint) -> None:
        """Route the server's start and stop and the chat events to the methods."""
        socketio.listener("after_server_start")(self.started)
        socketio.listener("before_server_stop")(self.stopping)
        namespace = self.channel.namespace
        self.sio.on("session_request", self.session_request, namespace=namespace)
        self.sio.on(
            self.channel.user_message_evt, self.handle_message, namespace=namespace
        )

    def agent(self) -> Any:
        """The server's agent once it started (the model in use now)."""
        return getattr(getattr(self.app, "ctx", None), "agent", None)

    async def started(self, app: Any, _: Any) -> None:
        self.app = app
        agent = getattr(app.ctx, "agent", None)
        self.tracker_store = getattr(agent, "tracker_store", None)
        desk().attach(agent)
        self.waiting.start()

    async def stopping(self, app: Any, _: Any) -> None:
        await self.waiting.stop()

    def address_of(self, sid: str) -> Optional[str]:
        environ = self.sio.get_environ(sid, namespace=self.namespace) or {}
        request = environ.get("sanic.request")
        return client_address(
            getattr(request, "ip", None), environ.get("HTTP_X_REAL_IP")
        )

    async def session_request(self, sid: str, *args: Any) -> None:
        session = (event_session_id(args[0]) if len(args) == 1 else None) or (
            uuid.uuid4().hex
        )
        if self.channel.session_persistence:
            join(self.sio, sid, conversation_id(CHANNEL_NAME, session), self.namespace)
        await self.sio.emit(
            "session_confirm", session, room=sid, namespace=self.namespace
        )
        self.waiting.wake()  # a user who comes back sees the staff answers waiting

    async def handle_message(self, sid: str, *args: Any) -> Optional[bool]:
        """True, the acknowledgement the widget asked for, once the message is
        handled (it then does not send it again); None for a dropped event."""
        data = args[0] if len(args) == 1 else None
        text = data.get("message") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(text, str):
            logger.warning(
                "Dropped a socket.io %s event: not an object with a string "
                "'message'.",
                self.channel.user_message_evt,
            )
            return None
        if self.channel.session_persistence:
            session = event_session_id(data)
            if session is None:
                logger.warning(
                    "Dropped a socket.io %s event without a usable session_id.",
                    self.channel.user_message_evt,
                )
                return None
        else:
            session = sid
        conversation = conversation_id(CHANNEL_NAME, session)
        if conversation not in joined(self.sio, sid, self.namespace):
            # A client that skipped session_request, or changed its session:
            # the message's session becomes the socket's only one.
            join(self.sio, sid, conversation, self.namespace)
        metadata = event_metadata(data.get(self.channel.metadata_key)) or {}
        message_id = data.get("message_id")
        if message_id is not None and message_id_problem(message_id):
            message_id = None
        # Only a message sent again can have a stored turn: the first sending
        # costs no extra read.
        again = message_id is not None and data.get("resent") is True
        text = clean_text(text)
        problem = text_problem(text)
        if not problem and not shared_limits().allow(
            conversation, self.address_of(sid)
        ):
            problem = "too_fast"
            await record_refusal(self.tracker_store, conversation)
        if problem:
            language = await stored_language(
                self.tracker_store, conversation, metadata.get("language")
            )
            await self.emit({"text": note(problem, language)}, conversation)
            return None
        confirmed = await desk().confirm_email(conversation, text)
        if confirmed is not None:  # a code for the answer by e-mail: not Rasa's
            await self.emit({"text": confirmed}, conversation)
            return None
        parts = (
            as_typed(text)
            if is_side_question(text)
            else each_message(
                text, conversation, self.tracker_store, metadata.get("language")
            )
        )
        output = WidgetOutput(
            self.sio, self.channel.bot_message_evt, reply_to=message_id
        )
        turns = 0  # Rasa turns so far: each has its own id
        async for part, extra in parts:
            done = await self.answer(
                part,
                conversation,
                {**metadata, **extra},
                output,
                part_id(message_id, turns) if message_id else None,
                again,
            )
            if is_side_question(part):
                continue
            turns += 1
            if done == REPLAYED and message_id:
                # Sent again: its other stored turns answer as they were.
                await replay_later_turns(
                    self.on_new_message,
                    output,
                    conversation,
                    message_id,
                    turns,
                    self.channel.name(),
                )
                break
        return True

    async def answer(
        self,
        text: str,
        conversation: str,
        metadata: Dict,
        output: WidgetOutput,
        message_id: Optional[str],
        again: bool,
    ) -> Any:
        """One message: a side button's reply, or Rasa's answer."""
        if is_side_question(text):
            reply = await side_answer(text, conversation, CHANNEL_NAME, metadata)
            parts: Dict[str, Any] = {"text": reply.text}
            if reply.buttons:
                parts["quick_replies"] = [
                    {"content_type": "text", **button} for button in reply.buttons
                ]
            await self.emit(parts, conversation)
            return None
        return await self.on_new_message(
            (IdentifiedMessage if again else UserMessage)(
                text,
                output,
                conversation,
                input_channel=self.channel.name(),
                message_id=message_id,
                metadata=metadata,
            )
        )

    async def emit(self, data: Dict[str, Any], conversation: str) -> None:
        """A bot message straight to the conversation's room, not through Rasa."""
        await self.sio.emit(
            self.channel.bot_message_evt,
            data,
            room=conversation,
            namespace=self.namespace,
        )


class ValidatedSocketIOInput(SocketIOInput):
    """socket.io with checked events (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        handlers: Optional[ChatEventHandlers] = None

        def agent_of() -> Any:
            return handlers.agent() if handlers is not None else None

        on_new_message = fair(answered_once(on_new_message, agent_of))
        socketio = super().blueprint(on_new_message)
        self.sio.eio.max_http_buffer_size = MAX_BODY_BYTES
        check_packets(self.sio)
        handlers = ChatEventHandlers(self, on_new_message)
        handlers.register(socketio)
        return socketio
