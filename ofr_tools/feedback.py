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

from bot.storage.conversations import SQLConversations
from bot.storage.feedback import FeedbackStore, Vote, feedback_store_for
from ofr import settings
from ofr_tools.period_report import run_report
from ofr_tools.store_arguments import open_store_of

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


def main(argv: Optional[List[str]] = None) -> int:
    return run_report(
        argv,
        __doc__.splitlines()[0],
        ("text", "csv"),
        lambda args, start, end: rates(feedback_store(args).votes(start, end)),
        render,
    )


if __name__ == "__main__":
    sys.exit(main())
