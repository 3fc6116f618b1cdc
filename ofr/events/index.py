"""An index over one version of the events file, built once per (re)load.

A query for "online events in Munich in March" must stay fast with thousands of
events, so the index keeps start times in order (time filters become a bisect),
positions by place and by format, and folded texts for topics. Only what is left
after the cheapest narrowing is checked one event at a time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, datetime, time
from typing import Dict, Iterable, List, Optional

from ofr.events.event_filter import EventFilter
from ofr.events.model import BERLIN, Event
from ofr.events.places import canonical, fold


def place_key(name: Optional[str]) -> Optional[str]:
    """One key for every spelling of a place ("Munich", "muenchen" → "muenchen")."""
    if not name or not name.strip():
        return None
    return fold(canonical(name) or name)


def _topic_text(event: Event) -> str:
    texts = list(event.topics) + [event.title.en, event.title.de]
    if event.description:
        texts += [event.description.en, event.description.de]
    return "\n".join(fold(text) for text in texts)


class EventIndex:
    """Events sorted by start, with lookups for the filters of EventFilter."""

    def __init__(self, events: Iterable[Event]) -> None:
        self.events: List[Event] = sorted(events, key=lambda e: e.starts_at)
        self._starts = [e.starts_at.timestamp() for e in self.events]
        self._ends = [e.ends_at.timestamp() for e in self.events]
        # The longest event bounds how far back an event can start and still overlap.
        self._longest = max(
            (end - start for start, end in zip(self._starts, self._ends, strict=False)),
            default=0.0,
        )
        self._topics = [_topic_text(event) for event in self.events]
        self._by_id = {event.id: event for event in self.events}
        by_place: Dict[str, List[int]] = {}
        by_format: Dict[str, List[int]] = {}
        for position, event in enumerate(self.events):
            for key in {place_key(event.city), place_key(event.state)} - {None}:
                assert key is not None
                by_place.setdefault(key, []).append(position)
            if event.format:
                by_format.setdefault(event.format, []).append(position)
        self._by_place = {key: _Positions(p) for key, p in by_place.items()}
        # A hybrid event can be attended online and in person: it is listed under both.
        hybrid = by_format.get("hybrid", [])
        self._by_format = {
            key: _Positions(sorted(p + hybrid) if key != "hybrid" else p)
            for key, p in by_format.items()
        }
        for key in ("online", "in_person"):
            if key not in self._by_format and hybrid:
                self._by_format[key] = _Positions(hybrid)

    def __len__(self) -> int:
        return len(self.events)

    def get(self, event_id: str) -> Optional[Event]:
        return self._by_id.get(event_id)

    def search(self, wanted: EventFilter, now: datetime) -> List[Event]:
        """Events matching ``wanted``: upcoming soonest first, past newest first."""
        starts, ends, moment = self._starts, self._ends, now.timestamp()
        # [low, high): events whose start allows a match; inside [sure_low, sure_high)
        # the time conditions hold without looking at the end.
        low, high = 0, len(self.events)
        sure_low, sure_high = 0, high
        period_start = None
        looks_back = wanted.scope in ("past", "latest")
        if not looks_back:
            low = bisect_left(starts, moment - self._longest)
            sure_low = bisect_right(starts, moment)
        else:
            high = bisect_right(starts, moment)
            sure_high = bisect_left(starts, moment - self._longest)
        if wanted.period:
            period_start = _midnight(wanted.period.start)
            period_end = _midnight(wanted.period.end)
            low = max(low, bisect_left(starts, period_start - self._longest))
            high = min(high, bisect_left(starts, period_end))
            sure_low = max(sure_low, bisect_left(starts, period_start))
        sure_high = min(sure_high, high)

        def time_ok(i: int) -> bool:
            if not looks_back:
                if ends[i] <= moment:
                    return False
            elif ends[i] > moment:
                return False
            return period_start is None or ends[i] > period_start

        indexes = [
            self._by_place.get(place_key(name) or "", _NOWHERE)
            for name in (wanted.city, wanted.state)
            if name
        ]
        if wanted.format:
            indexes.append(self._by_format.get(wanted.format, _NOWHERE))
        indexes.sort(key=len)
        candidates: Iterable[int]
        if indexes:
            candidates = indexes[0].within(low, high)
            for other in indexes[1:]:
                candidates = [i for i in candidates if i in other.members]
        else:
            candidates = range(low, high)

        topic = fold(wanted.topic) if wanted.topic else None
        texts = self._topics
        found = [
            self.events[i]
            for i in candidates
            if (sure_low <= i < sure_high or time_ok(i))
            and (topic is None or topic in texts[i])
            and not self.events[i].cancelled
        ]
        if looks_back:
            found.reverse()
        return found


class _Positions:
    """Sorted positions of events sharing a key, as a list and as a set."""

    def __init__(self, positions: List[int]) -> None:
        self.ordered = positions
        self.members = frozenset(positions)

    def __len__(self) -> int:
        return len(self.ordered)

    def within(self, low: int, high: int) -> List[int]:
        return self.ordered[
            bisect_left(self.ordered, low) : bisect_left(self.ordered, high)
        ]


_NOWHERE = _Positions([])


def _midnight(day: date) -> float:
    return datetime.combine(day, time.min, BERLIN).timestamp()
