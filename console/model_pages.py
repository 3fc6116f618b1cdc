"""The page that trains, checks and publishes a model."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.notices import problem_key, problem_text
from console.pipeline import Pipeline, PipelineError
from console.services import audit, services

blueprint = Blueprint("model", __name__)
MIN_REASON = 10


def pipeline() -> Pipeline:
    return services().pipeline


@blueprint.get("/model")
def page() -> ResponseReturnValue:
    pipeline().warm()
    job = pipeline().job
    return render_template(
        "model.html",
        job=job,
        in_use=pipeline().published().name,
        problem=problem_text(request.args.get("problem")),
        refresh=job is not None and job.busy,
    )


@blueprint.post("/model/train")
def train() -> ResponseReturnValue:
    try:
        pipeline().start(g.staff.name)
    except PipelineError as error:
        return redirect(url_for("model.page", problem=problem_key(str(error))))
    audit("training started")
    return redirect(url_for("model.page"))


@blueprint.post("/model/publish")
def publish() -> ResponseReturnValue:
    if not g.staff.can_publish:
        abort(403, "Only publishers may publish a model.")
    job = pipeline().job
    if job is None or job.state != "ready":
        return redirect(
            url_for("model.page", problem=problem_key("Train and check a model first."))
        )
    reason = request.form.get("reason", "").strip()
    worse = job.worse()
    failing = job.failing_stories()
    if (worse or failing) and len(reason) < MIN_REASON:
        why = []
        if worse:
            why.append(
                "worse in "
                + " and ".join({"en": "English", "de": "German"}[w] for w in worse)
            )
        if failing:
            why.append(
                f"fails {len(failing)} test stor{'y' if len(failing) == 1 else 'ies'}"
            )
        return redirect(
            url_for(
                "model.page",
                problem=problem_key(
                    "The new model is "
                    + " and ".join(why)
                    + ": give a reason to publish it anyway."
                ),
            )
        )
    try:
        pipeline().publish(g.staff.name)
    except PipelineError as error:
        return redirect(url_for("model.page", problem=problem_key(str(error))))
    audit(
        "publishing started" if not worse else "publishing a worse model started",
        model=job.model.name if job.model else "",
        scores=job.scores,
        running=job.running,
        failing_stories=failing,
        reason=reason,
    )
    return redirect(url_for("model.page"))
