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


class ValidatedSocketIOInput(SocketIOInput):
    """socket.io with checked events (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        server: Dict[str, Any] = {}

        def agent_of() -> Any:
            return getattr(getattr(server.get("app"), "ctx", None), "agent", None)

        on_new_message = fair(answered_once(on_new_message, agent_of))
        socketio = super().blueprint(on_new_message)
        sio = self.sio
        sio.eio.max_http_buffer_size = MAX_BODY_BYTES
        check_packets(sio)
        namespace = self.namespace or "/"
        tracker_store: Dict[str, Any] = {}

        waiting = WaitingAnswers(sio, self.bot_message_evt, namespace)

        @socketio.listener("after_server_start")
        async def started(app: Any, _: Any) -> None:
            server["app"] = app
            agent = getattr(app.ctx, "agent", None)
            tracker_store["store"] = getattr(agent, "tracker_store", None)
            desk().attach(agent)
            waiting.start()

        @socketio.listener("before_server_stop")
        async def stopping(app: Any, _: Any) -> None:
            await waiting.stop()

        def address_of(sid: str) -> Optional[str]:
            environ = sio.get_environ(sid, namespace=namespace) or {}
            request = environ.get("sanic.request")
            return client_address(
                getattr(request, "ip", None), environ.get("HTTP_X_REAL_IP")
            )

        async def session_request(sid: str, *args: Any) -> None:
            session = (event_session_id(args[0]) if len(args) == 1 else None) or (
                uuid.uuid4().hex
            )
            if self.session_persistence:
                join(sio, sid, conversation_id(CHANNEL_NAME, session), namespace)
            await sio.emit("session_confirm", session, room=sid, namespace=namespace)
            waiting.wake()  # a user who comes back sees the staff answers waiting

        async def handle_message(sid: str, *args: Any) -> Optional[bool]:
            data = args[0] if len(args) == 1 else None
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(data, dict) or not isinstance(text, str):
                logger.warning(
                    "Dropped a socket.io %s event: not an object with a string "
                    "'message'.",
                    self.user_message_evt,
                )
                return None
            if self.session_persistence:
                session = event_session_id(data)
                if session is None:
                    logger.warning(
                        "Dropped a socket.io %s event without a usable session_id.",
                        self.user_message_evt,
                    )
                    return None
            else:
                session = sid
            conversation = conversation_id(CHANNEL_NAME, session)
            if conversation not in joined(sio, sid, namespace):
                # A client that skipped session_request, or changed its session:
                # the message's session becomes the socket's only one.
                join(sio, sid, conversation, namespace)
            metadata = event_metadata(data.get(self.metadata_key))
            message_id = data.get("message_id")
            if message_id is not None and message_id_problem(message_id):
                message_id = None
            # Only a message sent again can have a stored turn: the first sending
            # costs no extra read.
            again = message_id is not None and data.get("resent") is True
            text = clean_text(text)
            problem = text_problem(text)
            if not problem and not shared_limits().allow(conversation, address_of(sid)):
                problem = "too_fast"
                await record_refusal(tracker_store.get("store"), conversation)
            if problem:
                language = await stored_language(
                    tracker_store.get("store"),
                    conversation,
                    (metadata or {}).get("language"),
                )
                await sio.emit(
                    self.bot_message_evt,
                    {"text": note(problem, language)},
                    room=conversation,
                    namespace=namespace,
                )
                return None
            confirmed = await desk().confirm_email(conversation, text)
            if confirmed is not None:  # a code for the answer by e-mail: not Rasa's
                await sio.emit(
                    self.bot_message_evt,
                    {"text": confirmed},
                    room=conversation,
                    namespace=namespace,
                )
                return None
            parts = (
                as_typed(text)
                if is_side_question(text)
                else each_message(
                    text,
                    conversation,
                    tracker_store.get("store"),
                    (metadata or {}).get("language"),
                )
            )
            output = WidgetOutput(sio, self.bot_message_evt, reply_to=message_id)
            turns = 0  # Rasa turns so far: each has its own id
            async for part, extra in parts:
                done = await answer(
                    part,
                    conversation,
                    {**(metadata or {}), **extra},
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
                        on_new_message,
                        output,
                        conversation,
                        message_id,
                        turns,
                        self.name(),
                    )
                    break
            # The acknowledgement the widget asked for: handled, do not send again.
            return True

        async def answer(
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
                await sio.emit(
                    self.bot_message_evt, parts, room=conversation, namespace=namespace
                )
                return None
            return await on_new_message(
                (IdentifiedMessage if again else UserMessage)(
                    text,
                    output,
                    conversation,
                    input_channel=self.name(),
                    message_id=message_id,
                    metadata=metadata,
                )
            )

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return socketio
