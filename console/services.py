"""What every page of the console shares: the stores, the files and the history,
and the two steps after every change (the audit log, a git commit)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar, cast

from flask import abort, current_app, g, request

from console.accounts import Accounts
from console.answers import Answers
from console.edits import EditBusy, EditLock
from console.events_file import EventsFile
from console.history import History, HistoryError
from console.pipeline import Pipeline
from console.training_data import TrainingData

logger = logging.getLogger(__name__)
KEY = "ofr_console"
View = TypeVar("View", bound=Callable[..., Any])


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


def edit_lock() -> EditLock:
    """The lock every change of the project's files is made under."""
    return EditLock.for_var_dir(services().var_dir)


def one_change(view: View) -> View:
    """A page's POST as one change: its checks against the current files, the
    write, ``make validate``'s rules and the git commit happen under the edit lock,
    so two staff saving at once cannot lose, mix or half-read each other's change."""

    @functools.wraps(view)
    def locked(*args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return view(*args, **kwargs)
        try:
            with edit_lock().held():
                return view(*args, **kwargs)
        except EditBusy as error:
            abort(503, str(error))

    return cast(View, locked)


def commit(paths: List[Path], message: str) -> Optional[str]:
    """The change as a git commit by the logged-in staff member (None: not in git,
    or git refused; then the audit log says that the change is not in the history)."""
    # A change to train comes next: have the training worker ready.
    services().pipeline.warm()
    try:
        return services().history.commit(paths, g.staff.name, message)
    except HistoryError as error:
        logger.error("%s", error)
        audit("change not committed", message=message, error=str(error))
        return None
