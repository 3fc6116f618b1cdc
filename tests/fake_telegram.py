"""A local stand-in for the Telegram Bot API that records every call.

python-telegram-bot talks to ``{TELEGRAM_API_BASE_URL}{token}/{method}``; this
aiohttp app answers like Telegram does and keeps the calls for assertions. Failures
can be injected per method (e.g. a 429 with retry_after, or a 400), and calls held
until a test releases them (a reply the bot cannot finish sending yet).

The bot's webhook answers 200 before it processes an update (finding 8 of issue 29);
``wait_until_processed`` waits until the bot has finished every update it took.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

import requests
from aiohttp import web

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "OFR", "username": "ofr_test_bot"}
_update_ids = itertools.count(10**6)


def telegram_user(
    user_id: int, language: str = "de", first_name: str = "Test"
) -> Dict[str, Any]:
    """A person writing to the bot, as an update's "from" names them."""
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "language_code": language,
    }


def message_update(
    chat_id: int, text: Optional[str] = None, language: str = "de", **extra: Any
) -> Dict[str, Any]:
    msg: Dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
        "from": telegram_user(chat_id, language),
    }
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            msg["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(command)}
            ]
    msg.update(extra)
    return {"update_id": next(_update_ids), "message": msg}


def callback_update(
    chat_id: int,
    data: str,
    language: str = "de",
    reply_markup: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """A pressed inline button (under a message with ``reply_markup``, if given)."""
    update = {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": telegram_user(chat_id, language),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": next(_update_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": "…",
            },
        },
    }
    if reply_markup is not None:
        update["callback_query"]["message"]["reply_markup"] = reply_markup
    return update


def group_message_update(
    chat_id: int, text: str, reply_to: Optional[int] = None, user: int = 31337
) -> Dict[str, Any]:
    """A message in a group, as a staff member writes it (a reply to one of the
    bot's messages when ``reply_to`` names it: how staff answer a ticket)."""
    msg: Dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "supergroup", "title": "OFR staff"},
        "from": telegram_user(user, "de", "Staff"),
        "text": text,
    }
    if reply_to is not None:
        msg["reply_to_message"] = {
            "message_id": reply_to,
            "date": int(time.time()),
            "chat": msg["chat"],
            "from": BOT_USER,
            "text": "Ticket",
        }
    return {"update_id": next(_update_ids), "message": msg}


def wait_until_processed(
    base_url: str, secret: str, timeout: float = 120
) -> Dict[str, Any]:
    """Wait until the bot at ``base_url`` has finished every Telegram update it took
    (its ``/webhooks/telegram/queue``); its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        status = requests.get(
            f"{base_url}/webhooks/telegram/queue",
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            timeout=30,
        )
        status.raise_for_status()
        state = status.json()
        if state["pending"] == 0 or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


class FakeTelegram:
    def __init__(self) -> None:
        self.calls: List[Tuple[str, Dict[str, Any]]] = []
        self.failures: Dict[str, List[Tuple[int, Dict[str, Any]]]] = {}
        self.delays: Dict[str, float] = {}
        # (method, chat id) whose calls wait until released; chat id None: all chats.
        self.held: Set[Tuple[str, Optional[int]]] = set()
        # The held calls now waiting: (method, chat id, their request).
        self._waiting: List[Tuple[str, int, web.Request]] = []
        # What getUpdates hands out (polling): every update from the asked offset on,
        # as Telegram does until a later call's offset confirms it.
        self.pending_updates: List[Dict[str, Any]] = []
        # (method, what it answered), for the message ids of sent messages.
        self.results: List[Tuple[str, Any]] = []
        self._message_id = 100
        self._lock = threading.Lock()
        self.port = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def fail(
        self, method: str, status: int, body: Dict[str, Any], times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` answer ``status`` with ``body``."""
        with self._lock:
            self.failures.setdefault(method, []).extend([(status, body)] * times)

    def slow_down(self, method: str, seconds: float) -> None:
        """Every call of ``method`` takes ``seconds`` before it is answered (0: off)."""
        with self._lock:
            self.delays[method] = seconds

    def hold(self, method: str, chat_id: Optional[int] = None) -> None:
        """Calls of ``method`` (to ``chat_id`` only, if given) wait until released;
        they are recorded in ``calls`` only then."""
        with self._lock:
            self.held.add((method, chat_id))

    def release(self, method: str, chat_id: Optional[int] = None) -> None:
        with self._lock:
            self.held.discard((method, chat_id))

    def waiting_calls(self, method: str, chat_id: Optional[int] = None) -> int:
        """Held calls of ``method`` (to ``chat_id``) whose caller still waits for the
        answer (python-telegram-bot gives up after its 5-second timeout)."""
        with self._lock:
            return sum(
                1
                for name, chat, request in self._waiting
                if name == method
                and chat_id in (None, chat)
                and request.transport is not None
                and not request.transport.is_closing()
            )

    def _is_held(self, method: str, chat: int) -> bool:
        with self._lock:
            return (method, None) in self.held or (method, chat) in self.held

    def recover(self, method: str) -> None:
        """``method`` answers normally again."""
        with self._lock:
            self.failures.pop(method, None)

    def calls_of(self, method: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.results.clear()

    def sent_to(self, chat_id: int) -> List[Dict[str, Any]]:
        """The messages the bot sent to ``chat_id`` as Telegram answered them (with
        their ``message_id``)."""
        with self._lock:
            return [
                result
                for method, result in self.results
                if method == "sendMessage" and result["chat"]["id"] == chat_id
            ]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 60
    ) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_of(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.calls_of(method)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: Dict[str, Any] = {}
        if request.content_type == "application/json":
            params = await request.json()
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if hasattr(value, "file"):
                    params[key] = {
                        "filename": value.filename,
                        "content": value.file.read(),
                    }
                    continue
                try:
                    params[key] = json.loads(value)
                except (TypeError, ValueError):
                    params[key] = value
        delay = self.delays.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if method == "getUpdates" and not self._result(method, params):
            await asyncio.sleep(0.2)  # a short long poll
        try:
            chat = int(params.get("chat_id", 0))
        except (TypeError, ValueError):
            chat = 0
        if self._is_held(method, chat):
            waiting = (method, chat, request)
            with self._lock:
                self._waiting.append(waiting)
            try:
                while self._is_held(method, chat):
                    await asyncio.sleep(0.02)
            finally:
                with self._lock:
                    self._waiting.remove(waiting)
        with self._lock:
            self.calls.append((method, params))
            failure = self.failures.get(method, []) and self.failures[method].pop(0)
        if failure:
            status, body = failure
            return web.json_response(body, status=status)
        result = self._result(method, params)
        with self._lock:
            self.results.append((method, result))
        return web.json_response({"ok": True, "result": result})

    def _result(self, method: str, params: Dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with self._lock:
                return [u for u in self.pending_updates if u["update_id"] >= offset]
        if method in ("sendMessage", "sendDocument"):
            self._message_id += 1
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "from": BOT_USER,
            }
            if method == "sendMessage":
                result["text"] = params.get("text", "")
            else:
                result["document"] = {
                    "file_id": "f1",
                    "file_unique_id": "u1",
                    "file_name": "e.ics",
                }
            return result
        return True

    def start(self) -> FakeTelegram:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application(client_max_size=20 * 1024 * 1024)
            app.router.add_route("*", "/bot{token}/{method}", self._handle)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                10
            )
            self._loop.call_soon_threadsafe(self._loop.stop)
