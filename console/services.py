"""What every page of the console shares: the stores, the files and the history,
and the two steps after every change (the audit log, a git commit)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

from flask import current_app, g

from console.accounts import Accounts
from console.answers import Answers
from console.events_file import EventsFile
from console.history import History, HistoryError
from console.pipeline import Pipeline
from console.training_data import TrainingData

logger = logging.getLogger(__name__)
KEY = "ofr_console"


@dataclass
class Services:
    root: Path
    var_dir: Path
    accounts: Accounts
    history: History
    events: EventsFile
    training: TrainingData
    pipeline: Pipeline
    answers: Answers


def services() -> Services:
    return current_app.extensions[KEY]


def audit(action: str, **detail: Any) -> None:
    services().accounts.audit(g.staff.name, action, **detail)


def commit(paths: List[Path], message: str) -> Optional[str]:
    """The change as a git commit by the logged-in staff member (None: not in git)."""
    # A change to train comes next: have the training worker ready.
    services().pipeline.warm()
    try:
        return services().history.commit(paths, g.staff.name, message)
    except HistoryError as error:
        logger.error("%s", error)
        return None
