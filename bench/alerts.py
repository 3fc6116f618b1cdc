"""Event alerts to many Telegram subscribers: time taken and peak send rate.

    .venv/bin/python bench/alerts.py [--subscribers 1000]

Runs the real alert service (bot/channels/telegram/alerts.py) with python-telegram-bot
and its rate limiter against a local Bot API stand-in that only records when each
call arrived, on a SQLite alert store: one new event for N subscribers of "all
events". Prints the time until every alert was sent and the highest number of
calls in any one second overall and per chat (Telegram allows about 30 per second
overall and one per second per chat). Never fails on the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Tuple

import sqlalchemy as sa
from aiohttp import web

EVENT = """events:
  - id: bench-{n}
    title: {{en: "Bench meeting {n}", de: "Bench-Treffen {n}"}}
    start: {start}
    format: online
"""


async def stand_in(calls: List[Tuple[float, str, str]]) -> Tuple[web.AppRunner, int]:
    """A Bot API that answers every method and notes (time, method, chat)."""

    async def handle(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        calls.append((time.monotonic(), method, str(params.get("chat_id", ""))))
        result: object = True
        if method == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "B", "username": "b_bot"}
        elif method in ("sendMessage", "sendDocument"):
            result = {
                "message_id": len(calls),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
            }
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def run(subscribers: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ofr-bench-alerts-"))
    events_file = folder / "events.yml"
    start = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    events_file.write_text(EVENT.format(n=1, start=start.isoformat()), "utf-8")
    os.environ["OFR_EVENTS_FILE"] = str(events_file)

    from telegram.ext import Application

    from bot.channels.telegram.alerts import AlertService
    from bot.channels.telegram.input import rate_limiter
    from bot.storage.event_alerts import AlertStore, Subscription
    from ofr.events.store import default_store

    calls: List[Tuple[float, str, str]] = []
    runner, port = await stand_in(calls)
    base = f"http://127.0.0.1:{port}/bot"
    application = (
        Application.builder()
        .token("1:bench")
        .updater(None)
        .rate_limiter(rate_limiter())
        .base_url(base)
        .base_file_url(base.replace("/bot", "/file/bot"))
        .build()
    )
    await application.initialize()
    store = AlertStore(sa.create_engine(f"sqlite:///{folder / 'alerts.db'}"))
    for chat in range(subscribers):
        store.subscribe(Subscription(str(10_000 + chat), {}, "de"), time.time())
    store.record_changes(default_store().events(), time.time())  # the first look
    service = AlertService(application)
    service.store, service._sender_lock = store, store.sender_lock()

    # Staff add an event: one message and one calendar file per subscriber.
    text = events_file.read_text("utf-8")
    later = (start + timedelta(days=1)).isoformat()
    events_file.write_text(
        text + EVENT.format(n=2, start=later).split("events:\n", 1)[1], "utf-8"
    )
    os.utime(events_file, None)
    calls.clear()
    began = time.monotonic()
    sent = await service.check_once()
    took = time.monotonic() - began
    await application.shutdown()
    await runner.cleanup()

    sends = [(t, chat) for t, method, chat in calls if method.startswith("send")]
    per_second = Counter(int(t - began) for t, _ in sends)
    per_chat_second = Counter((chat, int(t - began)) for t, chat in sends)
    print(f"subscribers                {subscribers}")
    print(f"alerts sent                {sent} ({len(sends)} Bot API calls)")
    print(f"time until all were sent   {took:.1f} s")
    print(
        f"peak calls in one second   {max(per_second.values(), default=0)} (limit ~30)"
    )
    print(
        f"peak per chat and second   {max(per_chat_second.values(), default=0)} (limit 1)"
    )
    print(f"pending after the round    {len(store.unsent())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.subscribers))


if __name__ == "__main__":
    main()
