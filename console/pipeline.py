"""Train, check, publish: one job at a time, in the background of the console.

1. **Train** a model from the project's files: Rasa fine-tunes the model in use
   where it allows it (same configuration, domain and intents: a changed example
   or answer), else trains from scratch; Rasa's cache in ``.rasa`` keeps every
   part whose inputs did not change, e.g. the dialogue policies after a new example.
2. **Check** it on the held-out test sets (console/model_check.py), beside the
   model the bot answers with now (scored once per model and test sets, then
   remembered in ``$OFR_VAR_DIR/console/scores``), and run the test stories
   (``rasa test core`` on tests/stories, including those saved from reviewed
   conversations) with it and with the model in use (remembered per model and
   version of tests/stories), so staff see which stories the new model fixes.

Training and checking run in a worker process (console/model_job.py) that the
console starts ahead, when staff change something or open the model page: by the
time they press "Train", Rasa is imported and the model in use is scored.
3. **Publish** it through the publish route (``make publish``'s code) when neither
   language got worse and every test story passed; a publisher may publish anyway
   with a reason, which the audit log keeps. ``models/published.json`` then names it
   (ofr_tools/published_model.py): every later start loads it.

Steps run as processes of their own, so the console never loads TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from ofr import settings
from ofr.process_environment import environment_for
from ofr_tools import published_model

MARK = "@@ "  # how the training worker's own messages begin (console/model_job.py)
KEEP_MODELS = 3  # console models kept besides the one in use
LOG_LINES = 12
_MEANINGFUL = ("Starting to train component", "Restored component", "Your Rasa model")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

Scores = Dict[str, Dict[str, float]]


def _digest(root: Path, model: Path, folders: Tuple[str, ...]) -> str:
    """One name for ``model`` and this version of the files in ``folders``."""
    digest = hashlib.sha256()
    with model.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    for folder in folders:
        for path in sorted((root / folder).rglob("*.yml")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def score_file(root: Path, var_dir: Path, model: Path) -> Path:
    """Where the held-out scores of ``model`` are remembered: one file per model
    and version of the test sets."""
    name = _digest(root, model, ("tests/nlu", "tests/event_questions"))
    return var_dir / "console" / "scores" / f"{name}.json"


def story_file(root: Path, var_dir: Path, model: Path) -> Path:
    """Where the test story results of ``model`` are remembered: one file per model
    and version of tests/stories (a story saved from a conversation is a new one)."""
    name = _digest(root, model, ("tests/stories",))
    return var_dir / "console" / "story-results" / f"{name}.json"


class PipelineError(RuntimeError):
    """Why a step cannot start (one sentence)."""


@dataclass
class Job:
    started_by: str
    started: float = field(default_factory=time.time)
    state: str = "training"  # training, checking, ready, publishing, published, failed
    model: Optional[Path] = None
    scores: Optional[Scores] = None
    running: Optional[Scores] = None
    running_model: Optional[str] = None
    error: Optional[str] = None
    lines: List[str] = field(default_factory=list)
    seconds: Dict[str, float] = field(default_factory=dict)
    published_by: Optional[str] = None
    # The test stories with the new model: total, passed, failed (names), error.
    stories: Optional[Dict] = None
    # The same with the model in use, to show what the new model fixes.
    stories_in_use: Optional[Dict] = None

    @property
    def busy(self) -> bool:
        return self.state in ("training", "checking", "publishing")

    @property
    def elapsed(self) -> float:
        return time.time() - self.started

    def worse(self) -> List[str]:
        """The languages in which the new model answers fewer held-out questions
        right than the one in use."""
        if not self.scores or not self.running:
            return []
        return [
            language
            for language, new in self.scores.items()
            if new["accuracy"] < self.running.get(language, {}).get("accuracy", 0.0)
        ]

    def failing_stories(self) -> List[str]:
        """The test stories the new model fails (or why they did not run)."""
        if not self.stories:
            return []
        failed = list(self.stories.get("failed") or [])
        if not failed and self.stories.get("error"):
            failed.append(str(self.stories["error"]))
        return failed

    def fixed_stories(self) -> List[str]:
        """The test stories the model in use fails and the new model passes."""
        if not self.stories or not self.stories_in_use or self.stories.get("error"):
            return []
        failing_now = set(self.stories.get("failed") or [])
        return [
            name
            for name in self.stories_in_use.get("failed") or []
            if name not in failing_now
        ]


def _environment() -> Dict[str, str]:
    """What `make train` sets: the same training as on the command line; none of the
    console's secrets (ofr/process_environment.py)."""
    return {
        **environment_for("training", os.environ),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONHASHSEED": "0",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }


class Worker:
    """A console/model_job.py process; its output is read from the start, so that
    it never blocks on a full pipe while it waits for its job."""

    def __init__(self, root: Path, var_dir: Path, in_use: Path) -> None:
        command = [sys.executable, "-m", "console.model_job", "--var-dir", str(var_dir)]
        if in_use.is_file():
            command += ["--score-first", str(in_use)]
        self.process = subprocess.Popen(
            command,
            cwd=root,
            env=_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def give(self, order: Dict) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(order) + "\n")
        self.process.stdin.flush()

    def lines(self) -> Iterator[str]:
        while (line := self._lines.get()) is not None:
            yield line


class Pipeline:
    def __init__(self, root: Path, var_dir: Path, warm_worker: bool = True) -> None:
        self.root = root
        # Start the training worker ahead (off in tests that never train).
        self.warm_worker = warm_worker
        self.folder = var_dir / "console"
        self.job: Optional[Job] = None
        self._spare: Optional[Worker] = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the model in use

    def published(self) -> Path:
        """The model every start loads (models/published.json, the last
        publication), else the one `make train` made."""
        return published_model.in_use(self.root)

    def _scores_of(self, model: Path) -> Scores:
        """Held-out scores of ``model``, as the worker left them."""
        cached = score_file(self.root, self.folder.parent, model)
        if not cached.is_file():
            raise PipelineError(f"The check left no scores of {model.name}.")
        return json.loads(cached.read_text(encoding="utf-8"))

    # ------------------------------------------------------------ the worker

    def warm(self) -> None:
        """Have a training worker ready (console/model_job.py), unless one is."""
        if not self.warm_worker:
            return
        with self._lock:
            if self._spare is not None and self._spare.alive:
                return
            if self.job is not None and self.job.busy:
                return  # the next one starts when this job ends
            self._spare = Worker(self.root, self.folder.parent, self.published())

    def _take_worker(self) -> Worker:
        with self._lock:
            worker, self._spare = self._spare, None
        if worker is None or not worker.alive:
            worker = Worker(self.root, self.folder.parent, self.published())
        return worker

    # ------------------------------------------------------------ steps

    def start(self, staff: str) -> Job:
        with self._lock:
            if self.job is not None and self.job.busy:
                raise PipelineError(
                    f"{self.job.started_by} started a training "
                    f"{self.job.elapsed:.0f} s ago: wait for it to finish."
                )
            self.job = Job(staff)
            job = self.job
        threading.Thread(target=self._train_and_check, args=(job,), daemon=True).start()
        return job

    def _train_and_check(self, job: Job) -> None:
        try:
            self._tidy_models()
            in_use = self.published()
            job.running_model = in_use.name
            worker = self._take_worker()
            name = time.strftime("console-%Y%m%d-%H%M%S")
            known = str(in_use) if in_use.is_file() else None
            self._work(worker, job, {"name": name, "finetune": known, "in_use": known})
            if job.model is None or not job.model.is_file():
                raise PipelineError(
                    "Training ended without a model: see the lines above."
                )
            job.scores = self._scores_of(job.model)
            if in_use.is_file():
                job.running = self._scores_of(in_use)
            job.state = "ready"
        except PipelineError as error:
            job.state, job.error = "failed", str(error)
        except Exception as error:  # the job must end, or no training starts again
            job.state, job.error = "failed", f"{type(error).__name__}: {error}"
        finally:
            self.warm()

    def _work(self, worker: Worker, job: Job, order: Dict) -> None:
        """Give ``worker`` its job and follow it to the end."""
        worker.give(order)
        tail: List[str] = []
        began = time.time()
        for raw in worker.lines():
            line = _ANSI.sub("", raw).rstrip()
            if not line.startswith(MARK):
                tail = (tail + [line])[-LOG_LINES:]
                if any(mark in line for mark in _MEANINGFUL):
                    job.lines.append(line.split(" - ", 1)[-1].strip())
                continue
            message = json.loads(line[len(MARK) :])
            if "say" in message:
                job.lines.append(message["say"])
            elif "trained" in message:
                job.model = self.root / message["trained"]
                job.seconds["train"] = time.time() - began
                job.state, began = "checking", time.time()
            elif "scored" in message and job.model is not None:
                job.seconds["check"] = time.time() - began
            elif "stories" in message:
                job.stories = message["stories"]
                job.seconds["test stories"] = float(message.get("seconds") or 0)
            elif "stories_in_use" in message:
                job.stories_in_use = message["stories_in_use"]
                job.seconds["test stories, model in use"] = float(
                    message.get("seconds") or 0
                )
            elif "error" in message:
                worker.process.wait()
                raise PipelineError(
                    f"Training failed: {message['error']} | " + " | ".join(tail[-2:])
                )
        if worker.process.wait() != 0:
            raise PipelineError("Training failed: " + " | ".join(tail[-3:]))

    def publish(self, staff: str) -> Job:
        """Publish the checked model (the caller has checked the role and, for a
        worse model, the reason)."""
        with self._lock:
            job = self.job
            if job is None or job.state != "ready" or job.model is None:
                raise PipelineError(
                    "There is no checked model to publish: train one first."
                )
            job.state = "publishing"
        threading.Thread(target=self._publish, args=(job, staff), daemon=True).start()
        return job

    def _publish(self, job: Job, staff: str) -> None:
        from ofr_tools.publish import PublishError, admin_token
        from ofr_tools.publish import publish as publish_to

        assert job.model is not None
        began = time.time()
        try:
            token = admin_token()
            for url in settings.current().rasa_urls:
                publish_to(url, job.model, token, say=job.lines.append)
        except PublishError as error:
            job.state, job.error = "failed", str(error)
            return
        except Exception as error:  # the job must end, or no training starts again
            job.state, job.error = "failed", f"{type(error).__name__}: {error}"
            return
        job.seconds["publish"] = time.time() - began
        # Every later start (make run, the cluster's instances) loads it too.
        published_model.record(self.root, job.model, staff, "console")
        job.state, job.published_by = "published", staff

    # ------------------------------------------------------------ helpers

    def _tidy_models(self) -> None:
        """Old console models go; the published one (every start loads it) and
        the newest stay."""
        models = sorted((self.root / "models").glob("console-*.tar.gz"))
        in_use = self.published().resolve()
        for old in models[:-KEEP_MODELS]:
            if old.resolve() != in_use:
                old.unlink(missing_ok=True)
