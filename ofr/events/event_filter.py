"""What an event question asks for: place, Bundesland, period, format, topic, scope.

The filter is a plain dict in the ``event_filter`` slot so that follow-up questions
("and in Munich?", "only online ones?") can change one part and keep the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Dict, Optional

from ofr.events.model import BERLIN, Event
from ofr.events.periods import Period
from ofr.events.places import fold, same_place

FORMATS = ("in_person", "online", "hybrid")
SCOPES = ("upcoming", "next", "past", "latest")


@dataclass(frozen=True)
class EventFilter:
    city: Optional[str] = None
    state: Optional[str] = None
    period: Optional[Period] = None
    format: Optional[str] = None
    topic: Optional[str] = None
    # "upcoming", "next" (the soonest), "past" or "latest" (the most recent past)
    scope: str = "upcoming"

    @property
    def looks_back(self) -> bool:
        return self.scope in ("past", "latest")

    def is_empty(self) -> bool:
        return not (self.city or self.state or self.period or self.format or self.topic)

    def feed_filters(self) -> Dict[str, str]:
        """The part a calendar feed can follow (bot/channels/routes/calendar.py): a feed
        always holds the upcoming events, so the period and direction are left out."""
        fields = {
            "city": self.city,
            "state": self.state,
            "format": self.format,
            "topic": self.topic,
        }
        return {name: value for name, value in fields.items() if value}

    def to_slot(self) -> Dict[str, Any]:
        return {
            "city": self.city,
            "state": self.state,
            "period": self.period.to_dict() if self.period else None,
            "format": self.format,
            "topic": self.topic,
            "scope": self.scope,
        }

    @classmethod
    def from_slot(cls, value: Any) -> EventFilter:
        if not isinstance(value, dict):
            return cls()
        period = value.get("period")
        try:
            parsed = Period.from_dict(period) if isinstance(period, dict) else None
        except (KeyError, ValueError):
            parsed = None
        fmt = value.get("format") if value.get("format") in FORMATS else None
        scope = str(value["scope"]) if value.get("scope") in SCOPES else "upcoming"
        return cls(
            city=value.get("city") or None,
            state=value.get("state") or None,
            period=parsed,
            format=fmt,
            topic=value.get("topic") or None,
            scope=scope,
        )

    def changed(self, **changes: Any) -> EventFilter:
        """A copy with some parts replaced; a new city replaces the Land and vice versa."""
        if changes.get("city"):
            changes.setdefault("state", None)
        if changes.get("state"):
            changes.setdefault("city", None)
        return replace(self, **changes)


def place_and_format(
    base: EventFilter,
    place_field: Optional[str],
    place: Optional[str],
    fmt: Optional[str],
) -> Dict[str, Any]:
    """The changes a question's place (``place_field``: "city" or "state") and format
    make to the conversation's filter: a place contradicts a kept "online", and
    "online" without a place drops the kept place (online events have none)."""
    changes: Dict[str, Any] = {}
    if place_field:
        changes[place_field] = place
        if base.format == "online":
            changes["format"] = None
    if fmt:
        changes["format"] = fmt
        if fmt == "online" and not place_field:
            changes["city"] = None
            changes["state"] = None
    return changes


def format_matches(actual: Optional[str], wanted: str) -> bool:
    """A hybrid event can be attended online and in person."""
    return actual == wanted or (actual == "hybrid" and wanted in FORMATS)


def _in_period(event: Event, period: Period) -> bool:
    start = datetime.combine(period.start, datetime.min.time(), BERLIN)
    end = datetime.combine(period.end, datetime.min.time(), BERLIN)
    return event.starts_at < end and (event.starts_at >= start or event.ends_at > start)


def _about(event: Event, topic: str) -> bool:
    wanted = fold(topic)
    texts = list(event.topics) + [event.title.en, event.title.de]
    if event.description:
        texts += [event.description.en, event.description.de]
    return any(wanted in fold(text) for text in texts)


def matches(event: Event, wanted: EventFilter) -> bool:
    """Whether ``event`` fits ``wanted`` (cancelled or not: lists leave cancelled
    events out in EventIndex.search, questions about one event still find them)."""
    if wanted.city and not (
        same_place(event.city, wanted.city) or same_place(event.state, wanted.city)
    ):
        return False
    if wanted.state and not (
        same_place(event.state, wanted.state) or same_place(event.city, wanted.state)
    ):
        return False
    if wanted.format and not format_matches(event.format, wanted.format):
        return False
    if wanted.period and not _in_period(event, wanted.period):
        return False
    if wanted.topic and not _about(event, wanted.topic):
        return False
    return True


def format_code(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    text = fold(value)
    if text in FORMATS or text == "inperson":
        return "in_person" if text == "inperson" else text
    return None


def filter_key(wanted: Dict[str, str]) -> str:
    """One key per feed filter (``EventFilter.feed_filters``): "all", or
    "city=Hamburg", "format=online&state=Bayern", ... An alert subscription is kept
    under it, and a subscribe button carries it."""
    parts = [f"{name}={wanted[name]}" for name in sorted(wanted) if wanted[name]]
    return "&".join(parts) or "all"
