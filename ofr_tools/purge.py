"""Delete conversations older than DAYS days: `make purge DAYS=90` runs this.

    ofr_tools/purge.py [--days DAYS] [--dry-run] [--endpoints FILE]

A conversation is deleted whole (every stored event of it) when its last event is
more than DAYS days old (default: $DAYS, else 90). Works on the SQL tracker store
(SQLite, PostgreSQL) and on Redis; prints how many conversations and events were
deleted, never which.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import datetime
from typing import List, Optional

from bot.storage.conversations import (
    RedisConversations,
    StoreUnavailable,
    cutoff_for,
)
from ofr_tools.store_arguments import add_endpoints_argument, open_store_of

# Sanic (imported by Rasa) shows every deprecation once; the report needs none.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Delete the conversations whose last message is older than DAYS."
    )
    parser.add_argument(
        "--days",
        default=os.environ.get("DAYS") or "90",
        help="keep conversations active in the last DAYS days (default $DAYS or 90)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="only count, delete nothing"
    )
    add_endpoints_argument(parser)
    args = parser.parse_args(argv)
    try:
        args.days = int(args.days)
    except ValueError:
        args.days = 0
    if args.days < 1:
        parser.error("DAYS must be a whole number of days, at least 1 (e.g. 90).")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cutoff = cutoff_for(args.days)
    try:
        store = open_store_of(args)
        conversations, events = store.purge(cutoff, dry_run=args.dry_run)
    except StoreUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    before = datetime.fromtimestamp(cutoff).strftime("%Y-%m-%d %H:%M")
    verb = "Would delete" if args.dry_run else "Deleted"
    print(
        f"{verb} {conversations} conversations ({events} events) whose last message "
        f"is older than {args.days} day{'' if args.days == 1 else 's'} "
        f"(before {before}) from {store.where}."
    )
    if args.dry_run:
        print("Nothing was changed (--dry-run).")
    if isinstance(store, RedisConversations):
        print(
            "Tip: set record_exp (seconds) under tracker_store in the endpoints file "
            "and Redis expires idle conversations by itself."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
