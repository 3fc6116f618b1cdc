"""What the period reports (`make unanswered`, `make feedback`) share: --since or
--from/--to, the tracker store named by --endpoints, --format, and the exit codes
(0 done, 1 the store could not be read, 2 an empty period)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from typing import Callable, List, Optional, Sequence, TypeVar

from bot.storage.conversations import StoreUnavailable
from ofr_tools.store_arguments import add_endpoints_argument

Found = TypeVar("Found")


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


def run_report(
    argv: Optional[List[str]],
    description: str,
    formats: Sequence[str],
    read: Callable[[argparse.Namespace, float, float], Found],
    render: Callable[[Found, str, str], str],
) -> int:
    """Parse the arguments, ``read`` the period (args, start, end) and print it
    with ``render`` (what was read, the format, how to say the period)."""
    parser = argparse.ArgumentParser(description=description)
    add_endpoints_argument(parser)
    add_period_arguments(parser)
    parser.add_argument("--format", choices=tuple(formats), default="text")
    args = parser.parse_args(argv)
    if args.since < 1:
        parser.error("--since must be a whole number of days, at least 1.")
    start, end, label = period(args)
    if start >= end:
        print("--from must be on or before --to.", file=sys.stderr)
        return 2
    try:
        found = read(args, start, end)
    except StoreUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    sys.stdout.write(render(found, args.format, label))
    return 0
