"""Held-out NLU numbers per language: intent accuracy, macro-F1, language detection.

    .venv/bin/python bench/nlu.py [--model models/ofr.tar.gz] [--errors]

Prints numbers; never fails on them (the floor is checked by the test suite).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import structlog

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ofr_tools.evaluation import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/ofr.tar.gz")
    parser.add_argument(
        "--errors", action="store_true", help="list misclassified examples"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    # Rasa logs every parsed message through structlog at debug level, to stdout.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    started = time.perf_counter()
    reports = evaluate(Path(args.model))
    elapsed = time.perf_counter() - started
    print(
        f"{'language':<9}{'examples':>9}{'accuracy':>10}{'macro-F1':>10}{'language ok':>13}"
        f"{'entity P/R/F1':>20}"
    )
    for language, report in reports.items():
        precision, recall, f1 = report.entity_scores
        print(
            f"{language:<9}{len(report.predictions):>9}{report.accuracy:>10.3f}"
            f"{report.macro_f1:>10.3f}{report.language_accuracy:>13.3f}"
            f"{precision:>8.3f}/{recall:.3f}/{f1:.3f}"
        )
    print(f"evaluation time (load + parse): {elapsed:.1f} s")
    print("\nIntent accuracy per held-out set (examples):")
    names = ["topics", "event questions", "long", "informal", "names", "fresh"]
    print("language " + "".join(f"{name:>17}" for name in names))
    for language, report in reports.items():
        sets = report.by_set()
        cells = "".join(
            f"{sets[name][1]:>11.3f} ({sets[name][0]:>3})"
            if name in sets
            else f"{'-':>17}"
            for name in names
        )
        print(f"{language:<9}{cells}")
    print(
        "\nFallback threshold sweep (accuracy / wrong answers; the rest ask to rephrase):"
    )
    thresholds = [0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7]
    print("language " + "".join(f"{t:>13.2f}" for t in thresholds))
    for language, report in reports.items():
        cells = "".join(
            f"{acc:>7.3f}/{wrong:.3f}"
            for acc, wrong in (report.at_threshold(t) for t in thresholds)
        )
        print(f"{language:<9}{cells}")
    if args.errors:
        for language, report in reports.items():
            for p in report.errors():
                print(
                    f"[{language}] {p.expected:>22} -> {p.predicted:<22} {p.confidence:.2f}  {p.text}"
                )


if __name__ == "__main__":
    main()
