"""Stories and rules: every one per file in plain words, a form that changes a
story's steps (intents and answers picked from what the domain has), delete,
a new one, and "save as a test / story / rule" from a reviewed conversation.

Editors and publishers may both do this, as with examples and answers: nothing
reaches the bot before a publisher publishes a model trained and checked on it.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.conversation_pages import _back, _conversation
from console.conversation_review import mark_reviewed
from console.conversation_story import conversation_steps, conversation_version
from console.dialogue_files import (
    AREAS,
    FILE_NAME,
    DialogueError,
    DialogueFiles,
    Flow,
    Step,
    render_steps,
    step_from_form,
)
from console.edits import StaleEdit
from console.notices import problem_key, problem_text
from console.services import audit, commit, one_change, services

blueprint = Blueprint("stories", __name__)
EMPTY_ROWS = 3
MAX_ROWS = 80


def files() -> DialogueFiles:
    return DialogueFiles(services().root)


def _labels() -> Tuple[Dict[str, str], Dict[str, str]]:
    """What each intent means and what each answer says (English), for people."""
    intents = {
        name: what for name, (_, what) in services().training.descriptions().items()
    }
    answers = {
        answer.name: answer.texts.get("en") or answer.texts.get("de") or ""
        for answer in services().answers.all()
    }
    return intents, answers


def _names() -> Dict[str, List[str]]:
    """The names the form offers, per kind of step (from domain.yml)."""
    import yaml

    domain = yaml.safe_load((services().root / "domain.yml").read_text("utf-8")) or {}
    intents = [
        i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []
    ]
    actions = list(domain.get("responses") or {}) + [
        a if isinstance(a, str) else next(iter(a)) for a in domain.get("actions") or []
    ]
    return {
        "intent": sorted(intents),
        "action": sorted(actions),
        "slot": sorted(domain.get("slots") or {}),
    }


@blueprint.get("/stories")
def listing() -> ResponseReturnValue:
    intents, answers = _labels()
    areas = []
    for area, (folder, _, _, what) in AREAS.items():
        per_file = [(name, files().flows(area, name)) for name in files().files(area)]
        areas.append((area, folder, what, per_file))
    return render_template(
        "stories.html",
        areas=areas,
        intents=intents,
        answers=answers,
        saved=problem_text(request.args.get("saved")),
    )


def _rows(steps: Tuple[Step, ...]) -> List[Step]:
    return list(steps) + [Step("", "")] * EMPTY_ROWS


def _form(
    area: str,
    file: str,
    flow: Optional[Flow],
    steps: List[Step],
    problem: str = "",
    status: int = 200,
    theirs: Optional[str] = None,
    yours: Optional[str] = None,
    name: str = "",
) -> ResponseReturnValue:
    intents, answers = _labels()
    return (
        render_template(
            "story.html",
            area=area,
            what=AREAS[area][3],
            file=file,
            files=files().files(area),
            flow=flow,
            rows=steps,
            names=_names(),
            intents=intents,
            answers=answers,
            problem=problem,
            theirs=theirs,
            yours=yours,
            name=name,
        ),
        status,
    )


def _flow_or_404(area: str, file: str, number: str) -> Flow:
    if area not in AREAS or not FILE_NAME.fullmatch(file) or not number.isdigit():
        abort(404)
    found = files().flow(area, file, int(number))
    if found is None:
        abort(404)
    return found


def _steps_from_form() -> List[Step]:
    form = request.form
    try:
        count = min(int(form.get("rows", "0")), MAX_ROWS)
    except ValueError:
        count = 0
    ordered = []
    for row in range(count):
        step = step_from_form(
            form.get(f"kind-{row}", ""),
            form.get(f"name-{row}", ""),
            form.get(f"details-{row}", ""),
            form.get(f"text-{row}", ""),
        )
        if step is None:
            continue
        try:
            position = float(form.get(f"position-{row}", "") or row + 1)
        except ValueError:
            position = row + 1
        ordered.append((position, row, step))
    return [step for _, _, step in sorted(ordered, key=lambda t: (t[0], t[1]))]


@blueprint.get("/stories/<area>/<file>/<number>")
def edit(area: str, file: str, number: str) -> ResponseReturnValue:
    flow = _flow_or_404(area, file, number)
    return _form(area, file, flow, _rows(flow.steps))


@blueprint.post("/stories/<area>/<file>/<number>")
@one_change
def change(area: str, file: str, number: str) -> ResponseReturnValue:
    flow = _flow_or_404(area, file, number)
    try:
        steps = _steps_from_form()
        paths = files().replace(
            area, file, flow.number, request.form.get("version", ""), steps
        )
    except StaleEdit as error:
        return _stale_form(
            area, file, flow.number, error, yours=render_steps(steps, "  ")
        )
    except DialogueError as error:
        rows = _rows(tuple(_safe_steps()))
        return _form(area, file, flow, rows, str(error), 422)
    audit(f"{flow.what} changed", file=f"{AREAS[area][0]}/{file}", story=flow.name)
    commit(
        paths, f"{flow.what.capitalize()} “{flow.name}” changed in the staff console"
    )
    return _done(f"“{flow.name}” was saved.")


def _stale_form(
    area: str, file: str, number: int, error: StaleEdit, yours: str
) -> ResponseReturnValue:
    """409: the story or rule as saved meanwhile, with theirs and yours side by side."""
    current = files().flow(area, file, number)
    return _form(
        area,
        file,
        current,
        _rows(current.steps) if current else [],
        str(error),
        409,
        theirs=error.current,
        yours=yours,
    )


def _safe_steps() -> List[Step]:
    """The rows as the form sent them, for showing them again after a refusal."""
    try:
        return _steps_from_form()
    except DialogueError:
        return []


def _done(text: str) -> ResponseReturnValue:
    return redirect(url_for("stories.listing", saved=problem_key(text)))


@blueprint.post("/stories/<area>/<file>/<number>/delete")
@one_change
def delete(area: str, file: str, number: str) -> ResponseReturnValue:
    flow = _flow_or_404(area, file, number)
    try:
        paths = files().delete(area, file, flow.number, request.form.get("version", ""))
    except StaleEdit as error:
        return _stale_form(area, file, flow.number, error, yours="(delete)")
    except DialogueError as error:
        return _form(area, file, flow, _rows(flow.steps), str(error), 422)
    audit(f"{flow.what} deleted", file=f"{AREAS[area][0]}/{file}", story=flow.name)
    commit(
        paths, f"{flow.what.capitalize()} “{flow.name}” deleted in the staff console"
    )
    return _done(f"“{flow.name}” was deleted.")


@blueprint.get("/stories/<area>/new")
def new(area: str) -> ResponseReturnValue:
    if area not in AREAS:
        abort(404)
    return _form(area, "", None, _rows(()))


@blueprint.post("/stories/<area>/new")
@one_change
def add(area: str) -> ResponseReturnValue:
    if area not in AREAS:
        abort(404)
    file = request.form.get("file", "").strip()
    name = request.form.get("name", "")
    try:
        steps = _steps_from_form()
        paths = files().add(area, _file_name(file), name, steps)
    except DialogueError as error:
        return _form(
            area, file, None, _rows(tuple(_safe_steps())), str(error), 422, name=name
        )
    what = AREAS[area][3]
    audit(f"{what} added", file=f"{AREAS[area][0]}/{file}", story=name)
    commit(paths, f"New {what} “{' '.join(name.split())}” in the staff console")
    return _done(f"“{' '.join(name.split())}” was added.")


def _file_name(file: str) -> str:
    """A file of the area, or a new one named in lower case (``follow_ups.yml``)."""
    file = file.removesuffix(".yml") + ".yml"
    if not FILE_NAME.fullmatch(file):
        raise DialogueError(
            "Name the file in lower case letters, digits and _ (e.g. follow_ups)."
        )
    return file


# ---------------------------------------------------------------- from a conversation


@blueprint.post("/conversations/<key>/story")
@one_change
def from_conversation(key: str) -> ResponseReturnValue:
    """The conversation (the turns staff chose, with their intents) as a test
    story, a training story or a rule."""
    found = _conversation(key)
    form = request.form
    last = max(len(found.turns) - 1, 0)
    if form.get("version") != conversation_version(found):
        stale = StaleEdit("this conversation", None, None)
        return _back(key, last, problem=str(stale))
    area = form.get("area", "")
    if area not in AREAS:
        return _back(key, last, problem="Choose a test story, a story or a rule.")
    chosen = [turn.number for turn in found.turns if form.get(f"include-{turn.number}")]
    intents = {
        turn.number: form.get(f"intent-{turn.number}", "").strip()
        for turn in found.turns
    }
    name = form.get("name", "")
    try:
        if not chosen:
            raise DialogueError("Choose at least one turn.")
        steps = conversation_steps(found, chosen, intents, area, services().root)
        file = _file_name(form.get("file", "").strip())
        paths = files().add(area, file, name, steps)
    except DialogueError as error:
        return _back(key, last, problem=str(error))
    what = AREAS[area][3]
    for number in chosen:
        mark_reviewed(services().accounts.engine, key, number, g.staff.name)
    shown = " ".join(name.split())
    audit(
        f"{what} added",
        file=f"{AREAS[area][0]}/{file}",
        story=shown,
        source="conversation",
        conversation=key,
        turns=[n + 1 for n in chosen],
    )
    commit(paths, f"New {what} “{shown}” from a conversation in the staff console")
    return _back(
        key, last, saved=f"Saved as the {what} “{shown}” in {AREAS[area][0]}/{file}."
    )
