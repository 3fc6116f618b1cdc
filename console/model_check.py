"""Score a model on the held-out test sets, for the console's "check" step.

    python -m console.model_check MODEL OUT.json    (run in the project folder)

Writes per language how many held-out questions (tests/nlu, tests/event_questions)
the model gives the right intent, as ``make evaluate`` counts them. Runs as its own
process: the console itself never loads TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
warnings.simplefilter("ignore")


def scores(model: Path) -> Dict[str, Dict[str, float]]:
    import structlog

    from ofr_tools.evaluation import evaluate

    logging.disable(logging.WARNING)
    # Rasa logs every parsed message through structlog at debug level.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    result = {}
    for language, report in evaluate(model).items():
        right = sum(p.expected == p.predicted for p in report.predictions)
        result[language] = {
            "right": right,
            "total": len(report.predictions),
            "accuracy": round(report.accuracy, 4),
        }
    return result


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    model, out = Path(args[0]), Path(args[1])
    if not model.is_file():
        print(f"No model at {model}.", file=sys.stderr)
        return 1
    out.write_text(json.dumps(scores(model), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
