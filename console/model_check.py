"""Score a model on the held-out test sets, for the console's "check" step.

Per language, how many held-out questions (tests/nlu, tests/event_questions) the
model gives the right intent, as ``make evaluate`` counts them. Called in the
training worker (console/model_job.py): the console itself never loads TensorFlow.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict


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
