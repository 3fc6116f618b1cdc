"""iCalendar (.ics) files for events, so users can add one to their calendar."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Optional, Tuple

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from ofr.events.model import Event, localized

PRODUCT_ID = "-//OFR assistant//Option Freiwillige Rueckkehr//EN"
UID_DOMAIN = "ofr-assistant"


def ics(
    event: Event,
    language: str = "de",
    now: Optional[datetime] = None,
    sequence: int = 0,
) -> bytes:
    """An RFC 5545 calendar holding ``event`` (UID, DTSTAMP, DTSTART/DTEND with TZID)."""
    return feed([(event, sequence)], language, now)


def feed(
    entries: Iterable[Tuple[Event, int]],
    language: str = "de",
    now: Optional[datetime] = None,
    name: Optional[str] = None,
) -> bytes:
    """A calendar of several events, each with its SEQUENCE (raised when it changed);
    calendar apps that subscribe to it update their copies by UID."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    for event, sequence in entries:
        calendar.add_component(_entry(event, language, stamp, sequence))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _entry(
    event: Event, language: str, stamp: datetime, sequence: int
) -> CalendarEvent:
    entry = CalendarEvent()
    entry.add("uid", f"{event.id}@{UID_DOMAIN}")
    entry.add("dtstamp", stamp)
    entry.add("sequence", sequence)
    if event.cancelled:
        entry.add("status", "CANCELLED")
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
    return entry
