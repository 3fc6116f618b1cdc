"""List the user questions the bot could not answer: `make unanswered` runs this.

    ofr_tools/unanswered.py [--endpoints FILE] [--since DAYS | --from DATE --to DATE]
                          [--format text|markdown|csv]

Reads the tracker store named by the endpoints file (default $OFR_VAR_DIR/
endpoints.yml as written by `make run`, else endpoints.yml) and prints, per
language, how often similar unanswered questions were asked and when last (day
only). No sender ids; e-mail addresses, phone numbers and long numbers are masked.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import date, datetime, timedelta
from typing import List, Optional

from bot.storage.conversations import (
    StoreUnavailable,
)
from ofr_tools.store_arguments import add_endpoints_argument, open_store_of
from ofr_tools.unanswered_report import find_unanswered, group, render

# Sanic (imported by Rasa) shows every deprecation once; the report needs none.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def day(text: str) -> date:
    """A date as YYYY-MM-DD, for --from and --to."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-05-31."
        ) from None


def add_period_arguments(parser: argparse.ArgumentParser) -> None:
    """--since DAYS, or --from and --to: the period a report covers (``period``)."""
    parser.add_argument(
        "--since",
        type=int,
        default=30,
        metavar="DAYS",
        help="the last DAYS days (default 30)",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=day,
        metavar="YYYY-MM-DD",
        help="first day (instead of --since)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=day,
        metavar="YYYY-MM-DD",
        help="last day, included (default today)",
    )


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="List the questions the bot could not answer, grouped by wording."
    )
    add_endpoints_argument(parser)
    add_period_arguments(parser)
    parser.add_argument("--format", choices=("text", "markdown", "csv"), default="text")
    args = parser.parse_args(argv)
    if args.since < 1:
        parser.error("--since must be a whole number of days, at least 1.")
    return args


def period(args: argparse.Namespace) -> tuple[float, float, str]:
    """Start and end (epoch seconds, local days) and how to say it."""
    now = time.time()
    if args.start:
        start = datetime.combine(args.start, datetime.min.time()).timestamp()
    elif args.end:
        start = datetime.combine(
            args.end - timedelta(days=args.since - 1), datetime.min.time()
        ).timestamp()
    else:
        start = now - args.since * 86400
    end = (
        datetime.combine(args.end + timedelta(days=1), datetime.min.time()).timestamp()
        if args.end
        else now
    )
    first = datetime.fromtimestamp(start).date()
    last = datetime.fromtimestamp(end - 1).date()
    if args.start or args.end:
        return start, end, f"{first} to {last}"
    return start, end, f"last {args.since} days ({first} to {last})"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start, end, label = period(args)
    if start >= end:
        print("--from must be on or before --to.", file=sys.stderr)
        return 2
    try:
        store = open_store_of(args)
        messages = find_unanswered(store.conversations(start, end), start, end)
    except StoreUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    sys.stdout.write(render(group(messages), args.format, label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
