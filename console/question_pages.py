"""The page that adds a new question: intent, answers, rule, examples (often
started from a question in the inbox that no intent fits)."""

from __future__ import annotations

from typing import Dict, List

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.inbox_pages import _dismiss
from console.new_question import (
    HELD_OUT_PER_LANGUAGE,
    NEEDED,
    NewQuestion,
    QuestionError,
    Questions,
)
from console.services import audit, commit, one_change, services
from console.training_data import LANGUAGES

blueprint = Blueprint("questions", __name__)


def questions() -> Questions:
    return Questions(services().root)


def _lines(text: str) -> List[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _form(
    values: Dict[str, object], problem: str = "", status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "question.html",
            topics=questions().topics(),
            needed=NEEDED,
            held_out=HELD_OUT_PER_LANGUAGE,
            problem=problem,
            values=values,
        ),
        status,
    )


@blueprint.get("/questions/new")
def new() -> ResponseReturnValue:
    language = request.args.get("lang", "")
    text = request.args.get("text", "")
    values: Dict[str, object] = {
        "lang": language,
        "keys": request.args.getlist("key")[:50],
    }
    if language in LANGUAGES:
        values[f"examples_{language}"] = text
    return _form(values)


@blueprint.post("/questions")
@one_change
def add() -> ResponseReturnValue:
    form = request.form
    answers: Dict[str, str] = {
        lang: form.get(f"answer_{lang}", "") for lang in LANGUAGES
    }
    examples = {lang: _lines(form.get(f"examples_{lang}", "")) for lang in LANGUAGES}
    question = NewQuestion(
        intent=form.get("intent", "").strip(),
        topic=form.get("topic", ""),
        description=form.get("description", "").strip(),
        answers=answers,
        examples=examples,
        labels={lang: form.get(f"label_{lang}", "") for lang in LANGUAGES},
    )
    keys = [k for k in form.getlist("key") if k][:50]
    try:
        paths = questions().add(question)
    except QuestionError as error:
        values: Dict[str, object] = {
            key: form.get(key, "") for key in form if key not in ("csrf", "key")
        }
        return _form({**values, "keys": keys}, str(error), 422)
    if keys and form.get("lang") in LANGUAGES:
        _dismiss(form["lang"], keys, g.staff.name)
    audit(
        "question added",
        intent=question.intent,
        topic=question.topic,
        examples={lang: len(found) for lang, found in examples.items()},
    )
    commit(paths, f"New question {question.intent} from the staff console")
    return redirect(
        url_for(
            "training.intent",
            name=question.intent,
            saved=f"the new question {question.intent}, with its answer and rule",
        )
    )
