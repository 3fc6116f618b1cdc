"""A local Bot API for benchmarks: answers like Telegram and notes when each call came.

python-telegram-bot talks to ``{TELEGRAM_API_BASE_URL}{token}/{method}``; this
aiohttp app answers every method (getMe, sendMessage with a message id, ...) and
calls each listener with the moment the call arrived. Benchmarks must not import
tests/ (tests/test_architecture.py), so this is the benchmarks' own, smaller
counterpart of tests/fake_telegram.py; the update builders make the JSON that
Telegram posts to a webhook.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any, Callable, Dict, List, Optional

from aiohttp import web

BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "OFR",
    "username": "ofr_bench_bot",
}
# (arrival time.monotonic(), method, params, result)
Listener = Callable[[float, str, Dict[str, Any], Any], None]
_ids = itertools.count(10**6)


def _user(chat_id: int, language: str) -> Dict[str, Any]:
    return {
        "id": chat_id,
        "is_bot": False,
        "first_name": "B",
        "language_code": language,
    }


def message_update(chat_id: int, text: str, language: str) -> Dict[str, Any]:
    """A private message, as Telegram posts it (commands marked as such)."""
    msg: Dict[str, Any] = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "B"},
        "from": _user(chat_id, language),
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": next(_ids), "message": msg}


def callback_update(
    chat_id: int, data: str, language: str, message_id: Optional[int] = None
) -> Dict[str, Any]:
    """A pressed inline button under the bot's message ``message_id``."""
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": str(next(_ids)),
            "from": _user(chat_id, language),
            "chat_instance": "bench",
            "data": data,
            "message": {
                "message_id": message_id or next(_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": "…",
            },
        },
    }


class BotApiStandIn:
    """Runs in the caller's event loop: ``await start()``, ``await stop()``."""

    def __init__(self) -> None:
        self.listeners: List[Listener] = []
        self.port = 0
        self._message_id = 100
        self._runner: Optional[web.AppRunner] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> BotApiStandIn:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        at = time.monotonic()
        result = self._result(method, params)
        for listener in self.listeners:
            listener(at, method, params, result)
        return web.json_response({"ok": True, "result": result})

    def _result(self, method: str, params: Dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "sendDocument"):
            self._message_id += 1
            result: Dict[str, Any] = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "from": BOT_USER,
            }
            if method == "sendMessage":
                result["text"] = params.get("text", "")
            else:
                result["document"] = {"file_id": "f", "file_unique_id": "u"}
            return result
        return True  # setMyCommands, answerCallbackQuery, ...


async def _params(request: web.Request) -> Dict[str, Any]:
    """The call's parameters, from JSON or a form (files by their name only)."""
    if request.content_type == "application/json":
        return await request.json()
    if not request.can_read_body:
        return {}
    params: Dict[str, Any] = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            params[key] = value.filename
            continue
        try:
            params[key] = json.loads(value)
        except (TypeError, ValueError):
            params[key] = value
    return params
