"""Settings of the action server, read once from the environment (see README)."""

from __future__ import annotations

import os

# Public address of the Rasa server, used in links the bot sends (.ics files).
PUBLIC_URL = os.environ.get("OFR_PUBLIC_URL", "http://localhost:5005").rstrip("/")
# Events listed per answer before a "Show more" button.
EVENTS_PAGE_SIZE = int(os.environ.get("OFR_EVENTS_PAGE_SIZE", "3"))


def calendar_url(event_id: str) -> str:
    """Where the Rasa server serves an event's .ics file (bot/channels/calendar.py)."""
    return f"{PUBLIC_URL}/webhooks/calendar/events/{event_id}.ics"
