"""Serve each event as an .ics file from the Rasa server.

Registered in credentials.yml like a channel, which gives it routes on the
bot's own server (``?lang=en`` for English titles on both):

- ``GET /webhooks/calendar/events/<id>.ics``: one event;
- ``GET /webhooks/calendar/feed.ics``: a feed calendar apps subscribe to, of the
  upcoming events matching the optional ``state``, ``city``, ``format`` and
  ``topic``; cancelled ones stay in it marked CANCELLED, and an event's SEQUENCE
  rises whenever it changes (bot/storage/event_alerts.py records the versions).

It reads the same events file as the action server.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.routes.no_chat import NoChatChannel
from bot.storage.event_alerts import alert_store_for
from ofr import settings
from ofr.events.calendar import feed, ics
from ofr.events.event_filter import FORMATS, EventFilter, matches
from ofr.events.places import canonical
from ofr.events.store import default_store

logger = logging.getLogger(__name__)


class CalendarChannel(NoChatChannel):
    """Not a chat channel: a download route for event calendar files."""

    channel_name = "calendar"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        calendar = Blueprint("calendar_webhook", __name__)

        @calendar.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @calendar.route("/events/<event_id:str>", methods=["GET"])
        async def event_file(request: Request, event_id: str) -> HTTPResponse:
            if not event_id.endswith(".ics"):
                return response.json({"error": "not found"}, status=404)
            event = default_store().get(event_id[: -len(".ics")])
            if event is None:
                return response.json({"error": "no such event"}, status=404)
            language = "en" if request.args.get("lang") == "en" else "de"
            return response.raw(
                ics(event, language),
                content_type="text/calendar; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{event.id}.ics"'
                },
            )

        @calendar.route("/feed.ics", methods=["GET"])
        async def event_feed(request: Request) -> HTTPResponse:
            fmt = request.args.get("format") or None
            if fmt is not None and fmt not in FORMATS:
                return response.json(
                    {"error": f"format must be one of {', '.join(FORMATS)}"},
                    status=400,
                )
            wanted = EventFilter(
                city=canonical(request.args.get("city")),
                state=canonical(request.args.get("state")),
                format=fmt,
                topic=(request.args.get("topic") or "").strip() or None,
            )
            language = "en" if request.args.get("lang") == "en" else "de"
            body = await asyncio.to_thread(
                _feed, wanted, language, _tracker_store(request)
            )
            return response.raw(
                body,
                content_type="text/calendar; charset=utf-8",
                headers={"Cache-Control": "max-age=300"},
            )

        return calendar


def _tracker_store(request: Request) -> Any:
    agent = getattr(request.app.ctx, "agent", None)
    return getattr(agent, "tracker_store", None)


def _feed(wanted: EventFilter, language: str, tracker_store: Any) -> bytes:
    """The feed's calendar, with the SEQUENCE each event has reached."""
    events = default_store().events()
    moment = datetime.now(timezone.utc)
    store = alert_store_for(tracker_store, settings.current().var_dir)
    store.record_changes(events, moment.timestamp())
    versions = store.versions()
    chosen = sorted(
        (e for e in events if e.ends_at > moment and matches(e, wanted)),
        key=lambda e: e.starts_at,
    )
    entries = [(e, versions[e.id].sequence if e.id in versions else 0) for e in chosen]
    return feed(entries, language, moment, name="OFR")
