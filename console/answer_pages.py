"""Pages for the bot's answers: each response's English and German text."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.answers import LANGUAGES, AnswerError
from console.edits import StaleEdit
from console.services import audit, commit, one_change, services

blueprint = Blueprint("answers", __name__)


@blueprint.get("/answers")
def listing() -> ResponseReturnValue:
    query = request.args.get("q", "").strip().lower()
    found = services().answers.all()
    if query:
        found = [
            a
            for a in found
            if query in a.name.lower()
            or any(query in t.lower() for t in a.texts.values())
        ]
    return render_template("answers.html", answers=found, query=query)


@blueprint.route("/answers/<name>", methods=["GET", "POST"])
@one_change
def edit(name: str) -> ResponseReturnValue:
    answers = services().answers
    answer = answers.get(name)
    if answer is None:
        abort(404)
    if request.method == "GET":
        return render_template(
            "answer.html",
            answer=answer,
            texts=answer.texts,
            preview=False,
            problem=None,
            saved=request.args.get("saved"),
        )
    texts = {lang: request.form.get(f"text_{lang}", "") for lang in LANGUAGES}
    texts = {lang: text.replace("\r\n", "\n") for lang, text in texts.items()}
    if request.form.get("action") == "preview":
        return render_template(
            "answer.html",
            answer=answer,
            texts=texts,
            preview=True,
            problem=None,
            saved=None,
            version=request.form.get("version", ""),  # the one the form was made from
        )
    if request.form.get("version") != answer.version:
        stale = StaleEdit(f"the answer {name}", answer.texts, texts)
        return render_template(
            "answer.html",
            answer=answer,
            texts=texts,
            preview=False,
            problem=str(stale),
            saved=None,
            theirs=answer.texts,
        ), 409
    changed = {lang: t for lang, t in texts.items() if t != answer.texts.get(lang)}
    if not changed:
        return redirect(url_for("answers.edit", name=name, saved="nothing changed"))
    try:
        path = answers.change(name, changed)
    except AnswerError as error:
        return render_template(
            "answer.html",
            answer=answer,
            texts=texts,
            preview=True,
            problem=str(error),
            saved=None,
        ), 422
    audit("answer changed", answer=name, languages=sorted(changed))
    commit(
        [path],
        f"Answer {name} changed ({', '.join(sorted(changed))}) in the staff console",
    )
    return redirect(url_for("answers.edit", name=name, saved="saved"))
