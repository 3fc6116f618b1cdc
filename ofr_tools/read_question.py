"""Show how the bot reads an event question: the filter it searches with.

    make read-question Q="any webinars in bavaria before christmas?"
    .venv/bin/python ofr_tools/read_question.py --language de --intent inform_event_filter \
        --previous '{"city": "Hamburg"}' "und online?"

For staff who wonder why the bot listed what it listed; the rules are in
docs/event-questions.md.
"""

from __future__ import annotations

import argparse
import json
from datetime import date

from ofr.events.event_filter import EventFilter
from ofr.events.query import read_question


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", help="the question as the user wrote it")
    parser.add_argument("--language", choices=["en", "de"], default="en")
    parser.add_argument("--intent", default="ask_events")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    parser.add_argument(
        "--previous", default=None, help="the previous question's filter, as JSON"
    )
    args = parser.parse_args()
    try:
        previous = (
            EventFilter.from_slot(json.loads(args.previous)) if args.previous else None
        )
    except json.JSONDecodeError:
        parser.error('--previous must be JSON, e.g. \'{"city": "Hamburg"}\'')
    wanted = read_question(args.text, args.language, args.today, previous, args.intent)
    for key, value in wanted.to_slot().items():
        if value:
            print(f"{key:>9}: {value}")


if __name__ == "__main__":
    main()
