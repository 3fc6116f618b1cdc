"""Pages for the bot's answers: each response's English and German text."""

from __future__ import annotations

from typing import Any, Dict, Optional

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.answers import LANGUAGES, Answer, AnswerError
from console.edits import StaleEdit
from console.search import matching, search_query
from console.services import audit, commit, one_change, services

blueprint = Blueprint("answers", __name__)


@blueprint.get("/answers")
def listing() -> ResponseReturnValue:
    query = search_query()
    found = matching(
        services().answers.all(), query, lambda a: [a.name, *a.texts.values()]
    )
    return render_template("answers.html", answers=found, query=query)


@blueprint.route("/answers/<name>", methods=["GET", "POST"])
@one_change
def edit(name: str) -> ResponseReturnValue:
    answers = services().answers
    answer = answers.get(name)
    if answer is None:
        abort(404)
    if request.method == "GET":
        return _page(answer, answer.texts, saved=request.args.get("saved"))
    texts = {lang: request.form.get(f"text_{lang}", "") for lang in LANGUAGES}
    texts = {lang: text.replace("\r\n", "\n") for lang, text in texts.items()}
    if request.form.get("action") == "preview":
        return _page(
            answer,
            texts,
            preview=True,
            version=request.form.get("version", ""),  # the one the form was made from
        )
    if request.form.get("version") != answer.version:
        stale = StaleEdit(f"the answer {name}", answer.texts, texts)
        return _page(answer, texts, problem=str(stale), theirs=answer.texts), 409
    changed = {lang: t for lang, t in texts.items() if t != answer.texts.get(lang)}
    if not changed:
        return redirect(url_for("answers.edit", name=name, saved="nothing changed"))
    try:
        path = answers.change(name, changed)
    except AnswerError as error:
        return _page(answer, texts, preview=True, problem=str(error)), 422
    audit("answer changed", answer=name, languages=sorted(changed))
    commit(
        [path],
        f"Answer {name} changed ({', '.join(sorted(changed))}) in the staff console",
    )
    return redirect(url_for("answers.edit", name=name, saved="saved"))


def _page(
    answer: Answer,
    texts: Dict[str, str],
    preview: bool = False,
    problem: Optional[str] = None,
    saved: Optional[str] = None,
    **more: Any,
) -> str:
    """The answer's page with ``texts`` in the form (and as users see them when
    ``preview``)."""
    return render_template(
        "answer.html",
        answer=answer,
        texts=texts,
        preview=preview,
        problem=problem,
        saved=saved,
        **more,
    )
