"""Move conversations stored under bare ids to ids that carry their channel.

    ofr_tools/migrate_ids.py [--dry-run] [--endpoints FILE]

Since 2026-11-29 each channel stores its conversations as ``<channel>:<id>``
(bot/storage/conversation_ids.py). Conversations stored before keep working only once they
are moved: a Telegram user's history under "telegram:<chat id>", a web chat's under
"socketio:<session id>", anything else under "rest:<sender>" (the channel is read
from the conversation's last user message). Run it once, with the bot stopped; it
prints counts, never ids.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import List, Optional

from bot.storage.conversations import (
    StoreUnavailable,
)
from ofr_tools.store_arguments import add_endpoints_argument, open_store_of

warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Move conversations stored under bare ids to <channel>:<id>."
    )
    parser.add_argument("--dry-run", action="store_true", help="only count")
    add_endpoints_argument(parser)
    args = parser.parse_args(argv)
    try:
        store = open_store_of(args)
        moved, left = store.migrate_ids(dry_run=args.dry_run)
    except StoreUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    verb = "Would move" if args.dry_run else "Moved"
    print(f"{verb} {moved} conversations to ids with their channel in {store.where}.")
    if left:
        print(
            f"Left {left} under their old id: a conversation under the new id exists "
            "already (make purge removes the old one when it is old enough)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
