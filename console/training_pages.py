"""Pages for the training data: intents, their examples in both languages."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.notices import problem_key, problem_text
from console.search import matching, search_query
from console.services import audit, commit, one_change, services
from console.training_data import LANGUAGES, StaleExample, TrainingDataError

blueprint = Blueprint("training", __name__)
RETRAIN_NOTE = (
    "The bot learns it with the next training (make train, then make publish)."
)


@blueprint.get("/intents")
def intents() -> ResponseReturnValue:
    query = search_query()
    found = matching(
        services().training.intents(),
        query,
        lambda i: [
            i.name,
            i.description,
            *(e for lang in LANGUAGES for e in i.examples[lang]),
        ],
    )
    return render_template("intents.html", intents=found, query=query)


@blueprint.get("/intents/<name>")
def intent(name: str) -> ResponseReturnValue:
    found = services().training.intent(name)
    if found is None:
        abort(404)
    return render_template(
        "intent.html",
        intent=found,
        problem=problem_text(request.args.get("problem")),
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
    except StaleExample as error:
        # Both versions: the examples as they are now, and the message names yours.
        return render_template(
            "intent.html",
            intent=training.intent(name),
            problem=str(error),
            saved=None,
            editing=(None, None),
        ), 409
    except TrainingDataError as error:
        return redirect(
            url_for("training.intent", name=name, problem=problem_key(str(error)))
        )
    audit(f"example {action}", intent=name, language=language, text=text)
    commit([path], f"Example {action} for {name} ({language}) in the staff console")
    return redirect(url_for("training.intent", name=name, saved=f"{action}: {text}"))


@blueprint.post("/intents/<name>/examples")
@one_change
def add(name: str) -> ResponseReturnValue:
    return _change(name, "added")


@blueprint.post("/intents/<name>/examples/remove")
@one_change
def remove(name: str) -> ResponseReturnValue:
    return _change(name, "removed")


@blueprint.post("/intents/<name>/examples/change")
@one_change
def change(name: str) -> ResponseReturnValue:
    return _change(name, "changed")
