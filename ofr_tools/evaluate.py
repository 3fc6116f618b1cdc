"""Write the evaluation report: held-out NLU per language and the story tests.

    .venv/bin/python ofr_tools/evaluate.py [--model models/ofr.tar.gz] [--out reports]
                                         [--skip-stories]

Writes <out>/evaluation.md, <out>/confusion_en.png, <out>/confusion_de.png and Rasa's
story-test files in <out>/stories/. A report, not a test: it exits 0 whatever the
numbers (`make test` checks the floors).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
warnings.simplefilter("ignore", DeprecationWarning)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/ofr.tar.gz", type=Path)
    parser.add_argument("--out", default="reports", type=Path)
    parser.add_argument(
        "--skip-stories", action="store_true", help="leave out rasa test core"
    )
    args = parser.parse_args()
    model, out = args.model.resolve(), args.out.resolve()
    if not model.is_file():
        print(
            f"No trained model at {args.model}: run make train first.", file=sys.stderr
        )
        return 1
    os.chdir(ROOT)  # the test sets are tests/nlu and tests/stories

    import sanic  # noqa: F401  (importing it turns deprecation warnings back on)

    warnings.simplefilter("ignore", DeprecationWarning)
    from ofr_tools.evaluation import evaluate
    from ofr_tools.evaluation_report import run_story_tests, summary, write_report

    logging.disable(logging.WARNING)
    # Rasa logs every parsed message through structlog at debug level, to stdout.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    started = time.perf_counter()
    print("Parsing the held-out test sets (tests/nlu)...", flush=True)
    nlu = evaluate(model)
    nlu_seconds = time.perf_counter() - started
    stories = None
    if not args.skip_stories:
        print(
            "Running the story tests (rasa test core on tests/stories)...", flush=True
        )
        stories = run_story_tests(model, Path("tests/stories"), out / "stories")
    seconds = time.perf_counter() - started
    path = write_report(nlu, out, model, stories, seconds=seconds)

    for language, report in nlu.items():
        s = summary(report)
        print(
            f"{language}: accuracy {s.accuracy:.3f}, macro-F1 {s.macro_f1:.3f}, "
            f"{s.errors} of {s.examples} misclassified"
        )
    line = f"NLU: {nlu_seconds:.0f} s"
    if stories is not None and stories.total is not None:
        line += f"; stories: {stories.passed} of {stories.total} passed"
        line += f" ({stories.seconds:.0f} s)"
    print(line)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"Report: {shown}")
    if stories is not None and stories.error:
        print(f"Story tests: {stories.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
