"""Serve each event as an .ics file from the Rasa server.

Registered in credentials.yml like a channel, which gives it a route on the
bot's own server: ``GET /webhooks/calendar/events/<id>.ics`` (``?lang=en`` for
English titles). It reads the same events file as the action server.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from ofr.events.calendar import ics
from ofr.events.store import default_store

logger = logging.getLogger(__name__)


class CalendarChannel(InputChannel):
    """Not a chat channel: a download route for event calendar files."""

    @classmethod
    def name(cls) -> str:
        return "calendar"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> CalendarChannel:
        return cls()

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

        return calendar
