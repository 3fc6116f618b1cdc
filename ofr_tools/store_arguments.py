"""The ``--endpoints`` option of the tools that read the tracker store.

purge, unanswered and migrate-ids read the conversations where the running bot
keeps them: the endpoints file ``make run`` wrote, else the project's own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.storage.conversations import (
    RedisConversations,
    SQLConversations,
    default_endpoints,
    open_store,
)


def add_endpoints_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoints",
        type=Path,
        help="endpoints file naming the tracker store "
        "(default: $OFR_VAR_DIR/endpoints.yml if it exists, else endpoints.yml)",
    )


def open_store_of(args: argparse.Namespace) -> SQLConversations | RedisConversations:
    """The store named by --endpoints; raises StoreUnavailable with one sentence."""
    return open_store(args.endpoints or default_endpoints())
