"""The index must answer exactly like checking every event with ``matches()``."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ofr.events.event_filter import EventFilter, matches
from ofr.events.index import EventIndex
from ofr.events.model import Event
from ofr.events.periods import Period
from ofr.events.store import EventsStore
from tests.conftest import ROOT

BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
PLACES = [
    ("München", "Bayern"),
    ("Köln", "Nordrhein-Westfalen"),
    ("Hamburg", "Hamburg"),
    ("Berlin", "Berlin"),
]
ASKED_PLACES = [None, "Munich", "muenchen", "Bavaria", "Cologne", "NRW", "Hamburg"]


@st.composite
def events(draw, index: int) -> Event:
    all_day = draw(st.booleans())
    offset = draw(st.integers(0, 24 * 400))
    length = draw(st.integers(0, 24 * 40))
    fmt = draw(st.sampled_from(["in_person", "online", "hybrid"]))
    city, state = draw(st.sampled_from(PLACES))
    start = BASE + timedelta(hours=offset)
    end = start + timedelta(hours=length)
    entry = {
        "id": f"e{index}",
        "title": {"en": f"Meeting {index}", "de": f"Treffen {index}"},
        "start": start.date() if all_day else start,
        "end": end.date() if all_day else end,
        "format": fmt,
        "topics": draw(st.lists(st.sampled_from(["women", "Pakistan", "Ämter"]))),
    }
    if fmt != "online" or draw(st.booleans()):
        entry.update(city=city, state=state)
    return Event.parse_obj(entry)


@st.composite
def event_lists(draw):
    count = draw(st.integers(0, 25))
    return [draw(events(index)) for index in range(count)]


@st.composite
def filters(draw) -> EventFilter:
    period = None
    if draw(st.booleans()):
        first = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 420)))
        period = Period(first, first + timedelta(days=draw(st.integers(1, 90))), "x")
    return EventFilter(
        city=draw(st.sampled_from(ASKED_PLACES)),
        state=draw(st.sampled_from(ASKED_PLACES)),
        period=period,
        format=draw(st.sampled_from([None, "in_person", "online", "hybrid"])),
        topic=draw(st.sampled_from([None, "women", "aemter", "pakistan", "nothing"])),
        scope=draw(st.sampled_from(["upcoming", "past"])),
    )


def by_hand(pool, wanted: EventFilter, now: datetime):
    if wanted.scope == "upcoming":
        chosen = [e for e in pool if e.ends_at > now]
        chosen.sort(key=lambda e: e.starts_at)
    else:
        # Newest first: the chronological order reversed (ties included).
        chosen = [e for e in pool if e.ends_at <= now]
        chosen.sort(key=lambda e: e.starts_at)
        chosen.reverse()
    return [e.id for e in chosen if matches(e, wanted)]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(pool=event_lists(), wanted=filters(), hours=st.integers(0, 24 * 420))
def test_index_agrees_with_matches(pool, wanted, hours):
    now = BASE + timedelta(hours=hours)
    found = [e.id for e in EventIndex(pool).search(wanted, now)]
    assert found == by_hand(pool, wanted, now)


def test_store_index_follows_reloads(tmp_path):
    path = tmp_path / "events.yml"
    path.write_text((ROOT / "tests" / "fixtures" / "events.yml").read_text("utf-8"))
    store = EventsStore(path)
    first = store.index()
    assert store.index() is first
    assert len(first) == len(store.events())
    path.write_text("events: []\n")
    assert len(store.index()) == 0
    assert store.get(first.events[0].id) is None
