"""The socket.io channel's checks: Engine.IO and Socket.IO packets before
python-engineio and python-socketio handle them, and the data of the events
(bot/channels/socketio/input.py has the whole list)."""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional

from engineio import packet as eio_packet
from engineio.payload import Payload
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import packet as sio_packet

from bot.services.input_limits import (
    MAX_BODY_BYTES,
    BadRequest,
    check_json_value,
    check_sender,
)

logger = logging.getLogger(__name__)

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


def event_metadata(value: Any) -> Optional[Dict[str, Any]]:
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


def event_session_id(data: Any) -> Optional[str]:
    """The usable session id in an event's data, else None."""
    if not isinstance(data, dict):
        return None
    try:
        return check_sender(data.get("session_id"))
    except BadRequest:
        return None


def check_packets(sio: Any) -> None:
    """Put the packet checks in front of python-engineio and python-socketio.

    Runs before the blueprint is registered, when the route is created from
    ``sio.eio.handle_request``.
    """
    engineio_request = sio.eio.handle_request
    socketio_message = sio.eio.handlers["message"]

    async def checked_request(request: Request, *args: Any) -> HTTPResponse:
        if request.method == "POST" and not engineio_payload_ok(request.body or b""):
            return response.text("Bad Request: not an Engine.IO payload", status=400)
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
