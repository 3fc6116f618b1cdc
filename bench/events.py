"""Events store speed with a generated file of 10,000 events.

A query is what the search action does: the store's index, one EventFilter.

    .venv/bin/python bench/events.py [--events 10000] [--queries 2000]

Prints p50/p99 of a filtered query and of a reload, and checks that an unchanged file
is not read again. Numbers only; nothing fails on timing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from ofr.events import store as events_store
from ofr.events.event_filter import EventFilter
from ofr.events.periods import parse_period
from ofr.events.search import search

CITIES = [
    ("Hamburg", "Hamburg"),
    ("München", "Bayern"),
    ("Köln", "Nordrhein-Westfalen"),
    ("Leipzig", "Sachsen"),
    ("Berlin", "Berlin"),
    ("Nürnberg", "Bayern"),
]


def generate(count: int, path: Path) -> None:
    rng = random.Random(42)
    start = datetime(2027, 1, 1, 9, tzinfo=timezone.utc)
    events = []
    for index in range(count):
        begin = start + timedelta(hours=rng.randrange(0, 24 * 365 * 2))
        fmt = rng.choice(["in_person", "online", "hybrid"])
        city, state = rng.choice(CITIES)
        entry = {
            "id": f"bench-{index}",
            "title": {"en": f"Meeting {index}", "de": f"Treffen {index}"},
            "start": begin.isoformat(),
            "end": (begin + timedelta(hours=3)).isoformat(),
            "format": fmt,
            "topics": rng.sample(
                ["reintegration", "women", "counselling", "Pakistan"], 2
            ),
        }
        if fmt != "online":
            entry.update(city=city, state=state)
        events.append(entry)
    path.write_text(yaml.safe_dump({"events": events}, allow_unicode=True), "utf-8")


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--reloads", type=int, default=10)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "events.yml"
    generate(args.events, path)
    store = events_store.EventsStore(path)

    reloads = []
    for _ in range(args.reloads):
        store._signature = None  # force a reload, as after an edit
        started = time.perf_counter()
        store.index()
        reloads.append(time.perf_counter() - started)

    reads = 0
    original = events_store.parse_events

    def counting(p):
        nonlocal reads
        reads += 1
        return original(p)

    events_store.parse_events = counting
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    march = parse_period("im März", "de", now.date())
    filters = [
        EventFilter(city="Munich"),
        EventFilter(state="Bavaria", format="in_person"),
        EventFilter(format="online", period=march),
        EventFilter(topic="women", city="Köln"),
        EventFilter(),
    ]
    timings = []
    for index in range(args.queries):
        started = time.perf_counter()
        search(store.index(), filters[index % len(filters)], now)
        timings.append(time.perf_counter() - started)
    events_store.parse_events = original

    print(f"events in file:          {len(store.events())}")
    print(
        f"reload   p50 / p99:      {statistics.median(reloads) * 1000:8.1f} ms / {percentile(reloads, .99) * 1000:.1f} ms"
    )
    print(
        f"query    p50 / p99:      {percentile(timings, .5) * 1000:8.2f} ms / {percentile(timings, .99) * 1000:.2f} ms"
    )
    print(f"file reads during {args.queries} queries (unchanged file): {reads}")


if __name__ == "__main__":
    main()
