"""iCalendar (.ics) files for events, so users can add one to their calendar."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from ofr.events.model import Event, localized

PRODUCT_ID = "-//OFR assistant//Option Freiwillige Rueckkehr//EN"
UID_DOMAIN = "ofr-assistant"


def ics(event: Event, language: str = "de", now: Optional[datetime] = None) -> bytes:
    """An RFC 5545 calendar holding ``event`` (UID, DTSTAMP, DTSTART/DTEND with TZID)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"{event.id}@{UID_DOMAIN}")
    entry.add("dtstamp", (now or datetime.now(timezone.utc)).astimezone(timezone.utc))
    entry.add("summary", event.title.get(language))
    if event.all_day:
        entry.add("dtstart", event.starts_at.date())
        entry.add("dtend", event.ends_at.date())
    else:
        entry.add("dtstart", event.starts_at)
        entry.add("dtend", event.ends_at if event.end else event.starts_at)
    venue = localized(event.venue, language)
    location = ", ".join(part for part in (venue, event.city) if part)
    if event.format == "online":
        location = location or "Online"
    if location:
        entry.add("location", location)
    description = event.description.get(language) if event.description else ""
    if event.registration_url:
        description = f"{description}\n\n{event.registration_url}".strip()
        entry.add("url", str(event.registration_url))
    if description:
        entry.add("description", description)
    calendar.add_component(entry)
    calendar.add_missing_timezones()
    return calendar.to_ical()
