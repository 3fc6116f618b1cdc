"""The history of the console's changes, each one a git commit, with "undo"."""

from __future__ import annotations

import re

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.history import HistoryError
from console.services import audit, services

blueprint = Blueprint("history", __name__)
COMMIT = re.compile(r"[0-9a-f]{40}")


@blueprint.get("/history")
def changes() -> ResponseReturnValue:
    history = services().history
    return render_template(
        "history.html",
        changes=history.changes(100),
        enabled=history.enabled,
        saved=request.args.get("saved"),
        problem=request.args.get("problem"),
    )


@blueprint.post("/history/<commit>/undo")
def undo(commit: str) -> ResponseReturnValue:
    if not COMMIT.fullmatch(commit):
        abort(404)
    try:
        files = services().history.revert(commit, g.staff.name)
    except HistoryError as error:
        return redirect(url_for("history.changes", problem=str(error)))
    audit("change undone", commit=commit, files=files)
    return redirect(url_for("history.changes", saved=f"Undone: {commit[:10]}."))
