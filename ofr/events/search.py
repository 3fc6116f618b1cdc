"""Searching events with a filter: the soonest first, or the latest past first."""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterable, List, Union

from ofr.events.event_filter import EventFilter
from ofr.events.index import EventIndex
from ofr.events.model import BERLIN, Event

Events = Union[EventIndex, Iterable[Event]]


def _indexed(events: Events) -> EventIndex:
    return events if isinstance(events, EventIndex) else EventIndex(events)


def upcoming(events: Events, now: datetime) -> List[Event]:
    """Events not yet over, soonest first."""
    return _indexed(events).search(EventFilter(), now)


def search(events: Events, wanted: EventFilter, now: datetime) -> List[Event]:
    """Upcoming matches soonest first, or past ones newest first (``wanted.scope``).

    Pass the store's ``index()``; a plain list is indexed on the spot.
    """
    return _indexed(events).search(wanted, now)


def today_in_berlin(now: datetime) -> date:
    return now.astimezone(BERLIN).date()
