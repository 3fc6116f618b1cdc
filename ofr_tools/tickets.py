"""List the questions handed over to IOM staff: `make tickets` runs this.

    ofr_tools/tickets.py [--status open|answered] [--endpoints FILE]

Newest first: number, status, when opened and answered, channel, language and the
question as the user agreed to pass it on. Nothing else of the conversation (no chat
ids, no turns, no e-mail address): the staff group holds what staff need to answer.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from datetime import datetime
from typing import List, Optional

from bot.storage.conversations import SQLConversations, StoreUnavailable
from bot.storage.tickets import Ticket, TicketStore, ticket_store_for
from ofr import settings
from ofr_tools.store_arguments import add_endpoints_argument, open_store_of

warnings.filterwarnings("ignore", category=DeprecationWarning)
QUESTION_WIDTH = 70


def tickets_store(args: argparse.Namespace) -> TicketStore:
    """Beside the conversations, as the running bot keeps them."""
    store = open_store_of(args)
    if isinstance(store, SQLConversations):
        return TicketStore(store.engine)
    return ticket_store_for(None, settings.current().var_dir)


def _when(moment: Optional[float]) -> str:
    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


def lines(tickets: List[Ticket]) -> List[str]:
    rows = [("#", "status", "opened", "answers", "channel", "lang", "question")]
    for ticket in tickets:
        question = " ".join(ticket.question.split())
        if len(question) > QUESTION_WIDTH:
            question = question[: QUESTION_WIDTH - 1] + "…"
        rows.append(
            (
                str(ticket.id),
                ticket.status,
                _when(ticket.created),
                str(len(ticket.answers)),
                ticket.channel,
                ticket.language,
                question,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status", choices=["open", "answered"])
    add_endpoints_argument(parser)
    args = parser.parse_args(argv)
    try:
        found = tickets_store(args).listing(args.status)
    except StoreUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    if not found:
        print("No tickets" + (f" {args.status}" if args.status else "") + ".")
        return 0
    open_count = sum(1 for t in found if t.status == "open")
    print("\n".join(lines(found)))
    print(f"\n{len(found)} tickets, {open_count} open.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
