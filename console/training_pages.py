"""Pages for the training data: intents, their examples in both languages."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.services import audit, commit, services
from console.training_data import LANGUAGES, TrainingDataError

blueprint = Blueprint("training", __name__)
RETRAIN_NOTE = (
    "The bot learns it with the next training (make train, then make publish)."
)


@blueprint.get("/intents")
def intents() -> ResponseReturnValue:
    query = request.args.get("q", "").strip().lower()
    found = services().training.intents()
    if query:
        found = [
            i
            for i in found
            if query in i.name.lower()
            or query in i.description.lower()
            or any(query in e.lower() for lang in LANGUAGES for e in i.examples[lang])
        ]
    return render_template("intents.html", intents=found, query=query)


@blueprint.get("/intents/<name>")
def intent(name: str) -> ResponseReturnValue:
    found = services().training.intent(name)
    if found is None:
        abort(404)
    return render_template(
        "intent.html",
        intent=found,
        problem=request.args.get("problem"),
        saved=request.args.get("saved"),
        editing=(request.args.get("lang"), request.args.get("text")),
    )


def _change(name: str, action: str) -> ResponseReturnValue:
    training = services().training
    if training.intent(name) is None:
        abort(404)
    language = request.form.get("lang", "")
    if language not in LANGUAGES:
        abort(422, "Choose English or German.")
    text = request.form.get("text", "")
    try:
        if action == "added":
            path = training.add(name, language, text)
        elif action == "removed":
            path = training.remove(name, language, text)
        else:
            path = training.replace(name, language, request.form.get("old", ""), text)
    except TrainingDataError as error:
        return redirect(url_for("training.intent", name=name, problem=str(error)))
    audit(f"example {action}", intent=name, language=language, text=text)
    commit([path], f"Example {action} for {name} ({language}) in the staff console")
    return redirect(url_for("training.intent", name=name, saved=f"{action}: {text}"))


@blueprint.post("/intents/<name>/examples")
def add(name: str) -> ResponseReturnValue:
    return _change(name, "added")


@blueprint.post("/intents/<name>/examples/remove")
def remove(name: str) -> ResponseReturnValue:
    return _change(name, "removed")


@blueprint.post("/intents/<name>/examples/change")
def change(name: str) -> ResponseReturnValue:
    return _change(name, "changed")
