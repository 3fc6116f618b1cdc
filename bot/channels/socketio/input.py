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

Conversations are stored as ``socketio:<session_id>`` (``bot.storage.conversation_ids``),
and that is also the room the answers go to. A socket holds one session: a new
``session_request`` leaves the old room, and a message for another session than the
socket's own makes that session the socket's one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional

from engineio import packet as eio_packet
from engineio.payload import Payload
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import packet as sio_packet

from bot.dialogue.fair_turns import fair
from bot.dialogue.follow_ups import as_typed, each_message
from bot.services.feedback import feedback_buttons
from bot.services.handover_desk import desk
from bot.services.input_limits import (
    MAX_BODY_BYTES,
    BadRequest,
    check_json_value,
    check_sender,
    clean_text,
    note,
    stored_language,
    text_problem,
)
from bot.services.rate_limits import client_address, shared_limits
from bot.services.side_answers import is_side_question, side_answer
from bot.storage.conversation_ids import channel_of, conversation_id
from bot.storage.tickets import WaitingAnswer
from ofr import settings
from ofr.handover import HANDOVER_KEY

logger = logging.getLogger(__name__)

CHANNEL_NAME = "socketio"
# Engine.IO packets python-engineio handles from a client. Any other (open, ping,
# noop, unknown) makes it disconnect a long-polling client inside the POST, which
# then never answers, and the next request on that session gets a 500.
POLLING_PACKETS = {
    eio_packet.CLOSE,
    eio_packet.PONG,
    eio_packet.MESSAGE,
    eio_packet.UPGRADE,
}
# Acknowledgement ids count up per socket; a bigger one was never given out.
MAX_ACK_ID = 2**31
# A websocket upgrade starts with a "2probe" ping.
WEBSOCKET_PACKETS = POLLING_PACKETS | {eio_packet.PING}


def engineio_frame_ok(frame: Any) -> bool:
    """A websocket frame that python-engineio can safely handle (text only: the web
    chat sends no binary data)."""
    if not isinstance(frame, str) or len(frame) > MAX_BODY_BYTES:
        return False
    try:
        return eio_packet.Packet(encoded_packet=frame).packet_type in WEBSOCKET_PACKETS
    except Exception:  # whatever the decoder trips on: not an Engine.IO packet
        return False


def engineio_payload_ok(body: bytes) -> bool:
    """A long-polling POST body that python-engineio can safely handle."""
    try:
        packets = Payload(encoded_payload=body.decode("utf-8")).packets
    except Exception:  # whatever the decoder trips on: not an Engine.IO payload
        return False
    return all(p.packet_type in POLLING_PACKETS for p in packets)


def socketio_packet_ok(data: Any) -> bool:
    """A Socket.IO packet the server should act on: connect (with an optional auth
    object), disconnect, an event whose name is a string, or the acknowledgement of
    one the server sent (the web chat's "shown" for a staff answer: ``31[true]``)."""
    if not isinstance(data, str):
        return False
    try:
        pkt = sio_packet.Packet(encoded_packet=data)
    except Exception:  # not a Socket.IO packet
        return False
    if pkt.packet_type == sio_packet.CONNECT:
        return pkt.data is None or isinstance(pkt.data, dict)
    if pkt.packet_type == sio_packet.DISCONNECT:
        return True
    if pkt.packet_type == sio_packet.ACK:
        # python-socketio calls the waiting callback with ``*data``: a list, and the
        # id it gave out (ids count up from 1; an unknown one is ignored).
        return (
            isinstance(pkt.id, int)
            and 0 < pkt.id <= MAX_ACK_ID
            and isinstance(pkt.data, list)
        )
    return (
        pkt.packet_type == sio_packet.EVENT
        and isinstance(pkt.data, list)
        and bool(pkt.data)
        and isinstance(pkt.data[0], str)
    )


def _metadata(value: Any) -> Optional[Dict[str, Any]]:
    """The event's metadata if it is an object (or a JSON string of one)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    if not isinstance(value, dict):
        return None
    try:
        check_json_value(value)
    except BadRequest:
        return None
    return value


def _session_id(data: Any) -> Optional[str]:
    """The usable session id in an event's data, else None."""
    if not isinstance(data, dict):
        return None
    try:
        return check_sender(data.get("session_id"))
    except BadRequest:
        return None


class WidgetOutput(SocketIOOutput):
    """Rasa's socket.io output, as the web chat (web/ofr-chat.js) reads it.

    - Custom JSON is sent as the event's data: Rasa 3.6 passes it to ``emit`` as
      keyword arguments, which fails for any key emit does not know
      ({"conversation_deleted": true}).
    - An answer to a question carries ``feedback``: the 👍 / 👎 buttons' payloads.
    - A handover offer carries ``handover`` ({"email": true} when the answer can
      also go by e-mail, so the widget offers a field for the address).
    """

    async def send_custom_json(
        self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any
    ) -> None:
        await self.sio.emit(self.bot_message_evt, json_message, room=recipient_id)

    async def send_text_message(
        self, recipient_id: str, text: str, **kwargs: Any
    ) -> None:
        kwargs.pop("buttons", None)  # Rasa passes the empty part too
        await self.send_text_with_buttons(recipient_id, text, [], **kwargs)

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: List[Dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        """Like Rasa's: a message per paragraph, the buttons on the last one."""
        parts: List[Dict[str, Any]] = [
            {"text": part} for part in (text.strip().split("\n\n") or [text])
        ]
        last = parts[-1]
        if buttons:
            last["quick_replies"] = [
                {
                    "content_type": "text",
                    "title": button["title"],
                    "payload": button["payload"],
                }
                for button in buttons
            ]
        votes = feedback_buttons({**kwargs, "buttons": buttons})
        if votes:
            last["feedback"] = votes
        handover = kwargs.get(HANDOVER_KEY)
        if isinstance(handover, dict):
            last["handover"] = {"email": bool(handover.get("email"))}
        for part in parts:
            await self._send_message(recipient_id, part)


class WaitingAnswers:
    """Shows staff answers waiting for a web chat (bot/services/handover_desk.py)
    to the chats connected to this server: at once when woken (an answer came, a
    user came back), and every few seconds for answers that reached another server
    of the cluster.

    Each answer is offered to the conversation's sockets, one at a time in the
    order staff wrote them, and the widget acknowledges it once shown; then it is
    delivered and no longer waits. Without an acknowledgement within
    ``OFR_STAFF_ANSWER_ACK_SECONDS`` (the chat closed, the connection dropped) it is
    offered again, and later answers of that conversation wait behind it. The
    widget shows an answer it already showed only once (it knows the ``answer_id``).
    """

    POLL_SECONDS = 2.0
    # A server that dies while it offers an answer holds it this much longer than
    # the acknowledgement may take; then another server offers it.
    OFFER_MARGIN_SECONDS = 5.0

    def __init__(self, sio: Any, event: str, namespace: str) -> None:
        self.sio, self.event, self.namespace = sio, event, namespace
        self.ack_seconds = settings.current().staff_answer_ack_seconds
        self._woken = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        # Conversations whose answers are being offered now: one offer at a time.
        self._offering: Dict[str, asyncio.Task] = {}

    def start(self) -> None:
        if not settings.current().handover_available:
            return  # nothing can wait: no database round every few seconds
        desk().on_waiting.append(self.wake)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.wake in desk().on_waiting:
            desk().on_waiting.remove(self.wake)
        tasks = [t for t in (self._task, *self._offering.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        self._woken.set()

    def _sockets(self, room: str) -> List[str]:
        try:
            return [
                sid
                for sid, _ in self.sio.manager.get_participants(self.namespace, room)
            ]
        except KeyError:  # nobody connected to this namespace yet
            return []

    async def show(self) -> None:
        """Start offering the waiting answers of the chats connected here (a
        conversation already being offered its answers goes on as it is)."""
        store = desk().store()
        by_conversation: Dict[str, List[WaitingAnswer]] = {}
        for answer in await asyncio.to_thread(store.waiting):
            if channel_of(answer.conversation) == CHANNEL_NAME:
                by_conversation.setdefault(answer.conversation, []).append(answer)
        for conversation, answers in by_conversation.items():
            if conversation in self._offering or not self._sockets(conversation):
                continue
            task = asyncio.create_task(self.deliver(conversation, answers))
            self._offering[conversation] = task
            task.add_done_callback(functools.partial(self._ended, conversation))

    def _ended(self, conversation: str, task: asyncio.Task) -> None:
        self._offering.pop(conversation, None)
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.error("Offering staff answers failed.", exc_info=task.exception())
        elif task.result():
            self.wake()  # all delivered: one that came meanwhile goes next

    async def deliver(self, conversation: str, answers: List[WaitingAnswer]) -> bool:
        """Offer ``answers`` in order until one is not acknowledged; whether all
        were delivered."""
        store = desk().store()
        for answer in answers:
            sockets = self._sockets(conversation)
            if not sockets or not await asyncio.to_thread(
                store.offer, answer.id, self.ack_seconds + self.OFFER_MARGIN_SECONDS
            ):
                return False  # nobody to show it to, or another server offers it
            data = {
                "text": answer.text,
                "staff_answer": answer.ticket_id,
                "answer_id": answer.id,
            }
            acks = await asyncio.gather(*(self._send(sid, data) for sid in sockets))
            if not any(acks):
                await asyncio.to_thread(store.offer_again, answer.id)
                return False
            await asyncio.to_thread(store.delivered, answer.id)
        return True

    async def _send(self, sid: str, data: Dict[str, Any]) -> bool:
        try:
            await self.sio.call(
                self.event,
                data,
                to=sid,
                namespace=self.namespace,
                timeout=self.ack_seconds,
            )
        except Exception:  # no acknowledgement in time, or the socket is gone
            return False
        return True

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.POLL_SECONDS)
            self._woken.clear()
            try:
                await self.show()
            except Exception:  # a database hiccup: try again at the next round
                logger.exception("Showing waiting staff answers failed.")


class ValidatedSocketIOInput(SocketIOInput):
    """socket.io with checked events (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        on_new_message = fair(on_new_message)
        socketio = super().blueprint(on_new_message)
        sio = self.sio
        sio.eio.max_http_buffer_size = MAX_BODY_BYTES
        self._check_packets(sio)
        namespace = self.namespace or "/"
        tracker_store: Dict[str, Any] = {}

        waiting = WaitingAnswers(sio, self.bot_message_evt, namespace)

        @socketio.listener("after_server_start")
        async def started(app: Any, _: Any) -> None:
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

        def joined(sid: str) -> List[str]:
            """The conversation rooms this socket is in (one after a session_request)."""
            rooms = sio.rooms(sid, namespace=namespace) or []
            return [room for room in rooms if channel_of(str(room)) == CHANNEL_NAME]

        def join(sid: str, conversation: str) -> None:
            """Make ``conversation`` the socket's one room: a socket that asks for
            sessions again and again cannot grow the server's memory."""
            for room in joined(sid):
                if room != conversation:
                    sio.leave_room(sid, room, namespace=namespace)
            sio.enter_room(sid, conversation, namespace=namespace)

        async def session_request(sid: str, *args: Any) -> None:
            session = (_session_id(args[0]) if len(args) == 1 else None) or (
                uuid.uuid4().hex
            )
            if self.session_persistence:
                join(sid, conversation_id(CHANNEL_NAME, session))
            await sio.emit("session_confirm", session, room=sid, namespace=namespace)
            waiting.wake()  # a user who comes back sees the staff answers waiting

        async def handle_message(sid: str, *args: Any) -> None:
            data = args[0] if len(args) == 1 else None
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(data, dict) or not isinstance(text, str):
                logger.warning(
                    "Dropped a socket.io %s event: not an object with a string "
                    "'message'.",
                    self.user_message_evt,
                )
                return
            if self.session_persistence:
                session = _session_id(data)
                if session is None:
                    logger.warning(
                        "Dropped a socket.io %s event without a usable session_id.",
                        self.user_message_evt,
                    )
                    return
            else:
                session = sid
            conversation = conversation_id(CHANNEL_NAME, session)
            if conversation not in joined(sid):
                # A client that skipped session_request, or changed its session:
                # the message's session becomes the socket's only one.
                join(sid, conversation)
            metadata = _metadata(data.get(self.metadata_key))
            text = clean_text(text)
            problem = text_problem(text)
            if not problem and not shared_limits().allow(conversation, address_of(sid)):
                problem = "too_fast"
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
                return
            confirmed = await desk().confirm_email(conversation, text)
            if confirmed is not None:  # a code for the answer by e-mail: not Rasa's
                await sio.emit(
                    self.bot_message_evt,
                    {"text": confirmed},
                    room=conversation,
                    namespace=namespace,
                )
                return
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
            async for part, extra in parts:
                await answer(part, conversation, {**(metadata or {}), **extra})

        async def answer(text: str, conversation: str, metadata: Dict) -> None:
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
                return
            await on_new_message(
                UserMessage(
                    text,
                    WidgetOutput(sio, self.bot_message_evt),
                    conversation,
                    input_channel=self.name(),
                    metadata=metadata,
                )
            )

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return socketio

    @staticmethod
    def _check_packets(sio: Any) -> None:
        """Put the packet checks in front of python-engineio and python-socketio.

        Runs before the blueprint is registered, when the route is created from
        ``sio.eio.handle_request``.
        """
        engineio_request = sio.eio.handle_request
        socketio_message = sio.eio.handlers["message"]

        async def checked_request(request: Request, *args: Any) -> HTTPResponse:
            if request.method == "POST" and not engineio_payload_ok(
                request.body or b""
            ):
                return response.text(
                    "Bad Request: not an Engine.IO payload", status=400
                )
            return await engineio_request(request, *args)

        async def checked_message(eio_sid: str, data: Any) -> None:
            if socketio_packet_ok(data):
                await socketio_message(eio_sid, data)
            else:
                logger.warning("Dropped a malformed Socket.IO packet.")

        sio.eio.handle_request = checked_request
        sio.eio.on("message", checked_message)
        # The websocket transport reads frames with the async driver's WebSocket
        # class; raising OSError there makes python-engineio close the connection
        # quietly (a malformed frame would otherwise end it with a traceback).
        websocket_class: Any = sio.eio._async["websocket"]

        class CheckedWebSocket(websocket_class):
            async def wait(self) -> Any:
                frame = await super().wait()
                if not engineio_frame_ok(frame):
                    logger.warning("Closed a socket.io websocket: malformed frame.")
                    raise OSError("not an Engine.IO packet")
                return frame

        sio.eio._async = {**sio.eio._async, "websocket": CheckedWebSocket}
