"""The staff console's training worker: trains a model and scores it, in a process
that got ready before it was needed.

    python -m console.model_job [--score-first MODEL]   (run in the project folder)

Importing Rasa, building spaCy's pipelines and loading the language detector take
about 15 s of a training's time; the console starts this process ahead (when a
member of staff changes something, or opens the model page), so a training begins
at once. While it waits, it scores the model in use (``--score-first``) when no
score of it is remembered yet. Then it reads one job from stdin (a JSON line:
``{"name": ..., "finetune": MODEL or null, "in_use": MODEL or null}``), trains,
scores the new model and the model in use on the held-out questions, runs the
test stories (``rasa test core`` on tests/stories) with the new model and with the
model in use (unless remembered for this version of the stories) and ends: a
fresh process for every training, so nothing of one training carries over into
the next.

Rasa's log lines go to stdout as they come; the worker's own messages are lines
starting with ``@@ `` and a JSON object: ``{"ready": true}``, ``{"say": ...}``,
``{"trained": MODEL, "seconds": ...}``, ``{"scored": MODEL, "seconds": ...}``,
``{"stories": {"total", "passed", "failed": [names], "error"}, "seconds": ...}``,
``{"stories_in_use": {the same}, "seconds": ...}``,
``{"error": ...}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import select
import sys
import time
import warnings
from pathlib import Path
from typing import Any, List, Optional

from ofr_tools import training

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
warnings.simplefilter("ignore")

IDLE_SECONDS = 30 * 60  # a warm worker nobody used ends


def tell(**message: Any) -> None:
    from console.pipeline import MARK

    print(MARK + json.dumps(message), flush=True)


def score(model: Path, var_dir: Path) -> float:
    """Held-out scores of ``model`` into the console's score cache; the seconds."""
    from console.model_check import scores
    from console.pipeline import score_file

    began = time.time()
    target = score_file(Path.cwd(), var_dir, model)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps(scores(model), indent=2), encoding="utf-8")
        partial.replace(target)
        logging.disable(logging.NOTSET)  # scores() quietens Rasa; training speaks
    return time.time() - began


def story_results(model: Path, var_dir: Path) -> dict:
    """``rasa test core`` on the test stories (tests/stories) with ``model``, the
    model reading the user's texts where a story has them: how many passed, and
    the names of the failing ones."""
    from ofr_tools.evaluation_report import run_story_tests

    folder = var_dir / "console" / "stories" / model.name.removesuffix(".tar.gz")
    stories = Path.cwd() / "tests" / "stories"
    results = run_story_tests(model, stories, folder, read_texts=True, in_process=True)
    failed = failing_stories(results.failed_stories)
    total = results.total
    return {
        "total": total,
        "passed": None if total is None else total - len(failed),
        "failed": failed,
        "error": results.error,
    }


# A step of a failed story as Rasa writes it: "- intent: a  # predicted: b: text"
# or "- action: a  # predicted: b".
_STEP = re.compile(r"^\s*- (?:intent|action): (\S+)\s+# predicted: ([^:\s]+)", re.M)


def failing_stories(failed_stories: str) -> List[str]:
    """The names of the stories in Rasa's failed stories where the model read a
    text as another intent or chose another action. Rasa also fails a story whose
    entities differ, and the language detector adds an entity to every text that
    no hand-written story marks: those are not counted."""
    names = []
    for block in re.split(r"^\s*- story: ", failed_stories, flags=re.M)[1:]:
        title, _, steps = block.partition("\n")
        if any(step != predicted for step, predicted in _STEP.findall(steps)):
            # Rasa adds the file in brackets to the name.
            names.append(title.strip().rsplit(" (", 1)[0].strip("\"'"))
    return names


def remembered_story_results(model: Path, var_dir: Path) -> dict:
    """``story_results`` of ``model``, run once per model and version of the test
    stories (the model in use is run again only when a story changed)."""
    from console.pipeline import story_file

    target = story_file(Path.cwd(), var_dir, model)
    if target.is_file():
        return json.loads(target.read_text(encoding="utf-8"))
    found = story_results(model, var_dir)
    if not found["error"]:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps(found), encoding="utf-8")
        partial.replace(target)
    return found


def read_job(timeout: float) -> Optional[dict]:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if not ready:
        return None
    line = sys.stdin.readline()
    return json.loads(line) if line.strip() else None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--score-first", help="the model in use, scored while waiting")
    parser.add_argument("--var-dir", required=True)
    args = parser.parse_args(argv)
    var_dir = Path(args.var_dir)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(name)s - %(message)s"
    )
    try:
        training.warm_up()
        tell(ready=True)
        if args.score_first and Path(args.score_first).is_file():
            tell(
                scored=args.score_first, seconds=score(Path(args.score_first), var_dir)
            )
            # Remembered for the job's check, so it runs only the new model's.
            remembered_story_results(Path(args.score_first), var_dir)
        job = read_job(IDLE_SECONDS)
        if job is None:
            return 0
        began = time.time()
        model = training.train(
            str(job["name"]), job.get("finetune"), lambda text: tell(say=text)
        )
        tell(trained=str(model), seconds=time.time() - began)
        tell(say="Checking the new model on the held-out questions…")
        tell(scored=str(model), seconds=score(model, var_dir))
        in_use = job.get("in_use")
        if in_use and Path(in_use).is_file():  # at once when scored while waiting
            tell(scored=in_use, seconds=score(Path(in_use), var_dir))
        tell(say="Running the test stories (tests/stories) with the new model…")
        began = time.time()
        tell(stories=story_results(model, var_dir), seconds=time.time() - began)
        if in_use and Path(in_use).is_file():
            tell(say="Running the test stories with the model in use…")
            began = time.time()
            tell(
                stories_in_use=remembered_story_results(Path(in_use), var_dir),
                seconds=time.time() - began,
            )
        return 0
    except Exception as error:  # reported to the console page, in one sentence
        tell(error=f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
