"""How helpful the answers were, per intent: `make feedback` runs this.

    ofr_tools/feedback.py [--since DAYS | --from DATE --to DATE] [--format text|csv]
                          [--endpoints FILE]

Counts the 👍 and 👎 given under answers (bot/storage/feedback.py) per intent and
language, least helpful first, so the answers to improve come first. The votes hold
no user identity; the 👎 questions themselves are in `make unanswered`.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from bot.storage.conversations import SQLConversations, StoreUnavailable
from bot.storage.feedback import FeedbackStore, Vote, feedback_store_for
from ofr import settings
from ofr_tools.store_arguments import add_endpoints_argument, open_store_of
from ofr_tools.unanswered import add_period_arguments, period

warnings.filterwarnings("ignore", category=DeprecationWarning)


@dataclass
class Rate:
    intent: str
    language: str
    answers: List[str]
    helpful: int = 0
    not_helpful: int = 0

    @property
    def votes(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def share(self) -> float:
        return self.helpful / self.votes if self.votes else 0.0


def rates(votes: List[Vote]) -> List[Rate]:
    """Per intent and language; least helpful first, then most votes."""
    found: Dict[Tuple[str, str], Rate] = {}
    for vote in votes:
        rate = found.setdefault(
            (vote.intent, vote.language), Rate(vote.intent, vote.language, [])
        )
        if vote.answer not in rate.answers:
            rate.answers.append(vote.answer)
        if vote.helpful:
            rate.helpful += 1
        else:
            rate.not_helpful += 1
    return sorted(
        found.values(), key=lambda r: (r.share, -r.votes, r.intent, r.language)
    )


def render(found: List[Rate], fmt: str, label: str) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["intent", "language", "votes", "helpful", "not_helpful", "rate", "answers"]
        )
        for r in found:
            writer.writerow(
                [
                    r.intent,
                    r.language,
                    r.votes,
                    r.helpful,
                    r.not_helpful,
                    f"{r.share:.2f}",
                    " ".join(r.answers),
                ]
            )
        return out.getvalue()
    lines = [f"Feedback on answers, {label}"]
    if not found:
        return "\n".join(lines + ["No votes."]) + "\n"
    rows = [("intent", "lang", "votes", "👍", "👎", "helpful", "answer")]
    for r in found:
        rows.append(
            (
                r.intent,
                r.language,
                str(r.votes),
                str(r.helpful),
                str(r.not_helpful),
                f"{r.share:.0%}",
                ", ".join(r.answers),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines.append("")
    for row in rows:
        cells = [
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  " + "  ".join(cells) + "  " + row[-1])
    total = sum(r.votes for r in found)
    helpful = sum(r.helpful for r in found)
    lines += ["", f"{total} votes, {helpful / total:.0%} helpful."]
    return "\n".join(lines) + "\n"


def feedback_store(args: argparse.Namespace) -> FeedbackStore:
    """Beside the conversations, as the running bot keeps them."""
    store = open_store_of(args)
    if isinstance(store, SQLConversations):
        return FeedbackStore(store.engine)
    return feedback_store_for(None, settings.current().var_dir)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_endpoints_argument(parser)
    add_period_arguments(parser)
    parser.add_argument("--format", choices=("text", "csv"), default="text")
    args = parser.parse_args(argv)
    if args.since < 1:
        parser.error("--since must be a whole number of days, at least 1.")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start, end, label = period(args)
    if start >= end:
        print("--from must be on or before --to.", file=sys.stderr)
        return 2
    try:
        votes = feedback_store(args).votes(start, end)
    except StoreUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    sys.stdout.write(render(rates(votes), args.format, label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
