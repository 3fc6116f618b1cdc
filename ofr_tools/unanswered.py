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
import warnings
from typing import List, Optional

from ofr_tools.period_report import run_report
from ofr_tools.store_arguments import open_store_of
from ofr_tools.unanswered_report import Group, find_unanswered, group, render

# Sanic (imported by Rasa) shows every deprecation once; the report needs none.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def unanswered(args: argparse.Namespace, start: float, end: float) -> List[Group]:
    """The unanswered questions of the period, grouped by wording."""
    store = open_store_of(args)
    return group(find_unanswered(store.conversations(start, end), start, end))


def main(argv: Optional[List[str]] = None) -> int:
    return run_report(
        argv,
        "List the questions the bot could not answer, grouped by wording.",
        ("text", "markdown", "csv"),
        unanswered,
        render,
    )


if __name__ == "__main__":
    sys.exit(main())
