"""CPU time of the event actions for long messages and many events.

    .venv/bin/python bench/action_cost.py [--events 1000] [--chars 2000]

Writes an events file with N events (cities, formats, topics and titles drawn from
the lookup file and the project's own words), then times the event actions for a
message of about CHARS characters: the details question (title matching), the
search (the whole-text reading of place, period, format and topic) and a short
question for comparison. Prints milliseconds (median of several runs); never fails
on them (the target, under 50 ms at 1,000 events, is for the closing note).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

CITIES = [
    "Hamburg",
    "Kiel",
    "Dresden",
    "München",
    "Köln",
    "Erfurt",
    "Stuttgart",
    "Bremen",
    "Hannover",
    "Leipzig",
    "Mainz",
    "Potsdam",
    "Schwerin",
]
TOPICS = ["reintegration", "return", "networking", "counselling"]
WORDS = (
    "Fachtag Workshop Austausch Beratung Perspektive Heimat StarthilfePlus "
    "Reintegration Kommunen Ehrenamt Netzwerk Rückkehrberatung Praxis Dialog "
    "Forum Schulung Einführung Vertiefung Region Nord Süd West Ost"
).split()


def events_file(folder: Path, count: int) -> Path:
    rng = random.Random(7)
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    lines = ["events:"]
    for number in range(count):
        words = " ".join(rng.sample(WORDS, 3))
        city = rng.choice(CITIES)
        online = rng.random() < 0.3
        day = start + timedelta(days=number % 300, hours=number % 7)
        lines += [
            f"  - id: bench-{number}",
            f'    title: {{en: "{words} {city} {number}", de: "{words} {city} {number}"}}',
            f"    start: {day.isoformat()}",
            f"    end: {(day + timedelta(hours=3)).isoformat()}",
            f"    format: {'online' if online else 'in_person'}",
        ]
        if not online:
            lines.append(f"    city: {city}")
        lines.append(f"    topics: [{rng.choice(TOPICS)}]")
    path = folder / "events.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def long_message(chars: int) -> str:
    rng = random.Random(3)
    context = (
        "Ich arbeite in der Rückkehrberatung und wir haben viele Familien, die über "
        "eine Rückkehr nachdenken, und Kolleginnen aus der Kommune fragen oft nach "
        "Terminen für Schulungen und Austausch mit anderen Beratungsstellen. "
    )
    text = ""
    while len(text) < chars - 80:
        text += context if rng.random() < 0.7 else " ".join(rng.sample(WORDS, 6)) + ". "
    return (
        text[: chars - 80]
        + " Wo kann ich mich für den Workshop Austausch in Dresden anmelden?"
    )


def tracker(text: str, intent: str) -> Any:
    """A German conversation whose latest message is ``text`` with ``intent``, as
    the action server builds it from Rasa's request."""
    from rasa_sdk import Tracker

    return Tracker.from_dict(
        {
            "sender_id": "bench-user",
            "slots": {"language": "de"},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 1.0},
                "entities": [],
            },
            "latest_action_name": "action_listen",
        }
    )


def timed(action, text: str, intent: str, runs: int) -> float:
    from rasa_sdk.executor import CollectingDispatcher

    samples = []
    for run in range(runs):
        # A new text each time: nothing of the message comes from a cache.
        conversation = tracker(f"{run} {text}", intent)
        started = time.perf_counter()
        asyncio.run(action.run(CollectingDispatcher(), conversation, {}))
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    os.environ["OFR_EVENTS_FILE"] = str(events_file(folder, args.events))
    from actions.event_actions import ActionEventDetails, ActionSearchEvents
    from ofr.events.store import default_store

    default_store().index()  # read and index the file once, as the server does
    text = long_message(args.chars)
    short = "Workshops in Dresden?"
    print(
        f"{args.events} events, message of {len(text)} characters (median of {args.runs})"
    )
    for name, action, intent in [
        ("details (title matching)", ActionEventDetails(), "ask_event_details"),
        ("search (whole-text reading)", ActionSearchEvents(), "ask_events"),
    ]:
        timed(action, text, intent, 1)  # warm caches
        long_ms = timed(action, text, intent, args.runs)
        short_ms = timed(action, short, intent, args.runs)
        print(f"  {name:30s} long {long_ms:8.1f} ms   short {short_ms:8.1f} ms")


if __name__ == "__main__":
    main()
