"""The socket.io channel's name, and the conversation room a socket is in: a socket
holds one session, stored as ``socketio:<session_id>``, which is also the room the
answers go to."""

from __future__ import annotations

from typing import Any, List

from bot.storage.conversation_ids import channel_of

CHANNEL_NAME = "socketio"


def joined(sio: Any, sid: str, namespace: str) -> List[str]:
    """The conversation rooms this socket is in (one after a session_request)."""
    rooms = sio.rooms(sid, namespace=namespace) or []
    return [room for room in rooms if channel_of(str(room)) == CHANNEL_NAME]


def join(sio: Any, sid: str, conversation: str, namespace: str) -> None:
    """Make ``conversation`` the socket's one room: a socket that asks for
    sessions again and again cannot grow the server's memory."""
    for room in joined(sio, sid, namespace):
        if room != conversation:
            sio.leave_room(sid, room, namespace=namespace)
    sio.enter_room(sid, conversation, namespace=namespace)
