"""The history of the console's changes, each one a git commit, with "undo"."""

from __future__ import annotations

import re

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.history import HistoryError
from console.notices import problem_key, problem_text
from console.services import audit, one_change, services

blueprint = Blueprint("history", __name__)
COMMIT = re.compile(r"[0-9a-f]{40}")


@blueprint.get("/history")
def changes() -> ResponseReturnValue:
    history = services().history
    return render_template(
        "history.html",
        changes=history.changes(100),
        enabled=history.enabled,
        saved=problem_text(request.args.get("saved")),
        problem=problem_text(request.args.get("problem")),
    )


@blueprint.post("/history/<commit>/undo")
@one_change
def undo(commit: str) -> ResponseReturnValue:
    if not COMMIT.fullmatch(commit):
        abort(404)
    try:
        files = services().history.revert(commit, g.staff.name)
    except HistoryError as error:
        return redirect(url_for("history.changes", problem=problem_key(str(error))))
    audit("change undone", commit=commit, files=files)
    return redirect(
        url_for("history.changes", saved=problem_key(f"Undone: {commit[:10]}."))
    )
