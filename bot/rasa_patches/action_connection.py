"""One kept-alive HTTP connection pool for the calls to the action server.

Rasa 3.6 opens a new aiohttp session, and so a new TCP connection, for every custom
action. Each connect is another wait in the event loop's queue behind the other
conversations' work: under load, answers that need the action server (events, a new
session) were the slowest by far (docs/performance.md). Here the action endpoint hands
out one session per event loop that stays open.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import aiohttp
from rasa.utils.endpoints import EndpointConfig

_MARK = "_ofr_kept_alive"


class _Borrowed:
    """``async with endpoint.session()`` without closing the shared session."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


def keep_alive(endpoint: EndpointConfig) -> EndpointConfig:
    """Make ``endpoint.session()`` reuse one open session per event loop."""
    if getattr(endpoint, _MARK, False):
        return endpoint
    make_session = endpoint.session
    sessions: Dict[int, aiohttp.ClientSession] = {}

    def session() -> _Borrowed:
        loop = asyncio.get_running_loop()
        shared = sessions.get(id(loop))
        if shared is None or shared.closed or shared._loop is not loop:
            shared = sessions[id(loop)] = make_session()
        return _Borrowed(shared)

    endpoint.session = session
    setattr(endpoint, _MARK, True)
    return endpoint
