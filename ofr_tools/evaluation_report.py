"""The evaluation report staff read: ``reports/evaluation.md`` with its images.

Turns the held-out NLU predictions of ``ofr_tools.evaluation`` and the files ``rasa test
core`` writes into one Markdown page: a summary per language, a per-intent table
(worst F1 first), a confusion matrix per language (PNG, drawn with Rasa's own
plotting helper), the misclassified test examples and the failed test stories.
``ofr_tools/evaluate.py`` runs it; nothing here fails on the numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, TextIO, Tuple

from sklearn.metrics import classification_report, confusion_matrix

from ofr_tools.evaluation import LanguageReport, Prediction

LANGUAGE_NAMES = {"en": "English", "de": "German"}
REPORT_FILE = "evaluation.md"

# What `rasa test core --out <folder>` writes (rasa/core/constants.py in Rasa 3.6).
STORY_REPORT = "story_report.json"
FAILED_STORIES = "failed_test_stories.yml"
STORIES_WITH_WARNINGS = "stories_with_warnings.yml"
STORY_CONFUSION_MATRIX = "story_confusion_matrix.png"
STORY_LOG = "rasa_test_core.log"
# The name start of the files `rasa test core --e2e` reads (Rasa's
# TEST_STORIES_FILE_PREFIX).
TEST_PREFIX = "test_"


@dataclass
class IntentRow:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int
    # The wrong predictions for this intent's examples, most frequent first.
    confused_with: List[Tuple[str, int]]


@dataclass
class Summary:
    examples: int
    errors: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    language_accuracy: float


@dataclass
class StoryResults:
    folder: Path
    total: Optional[int] = None
    passed: Optional[int] = None
    with_warnings: int = 0
    # failed_test_stories.yml as Rasa wrote it; "" when no story failed.
    failed_stories: str = ""
    # Why there are no results (rasa test core crashed, files missing); "" if fine.
    error: str = ""
    seconds: Optional[float] = None

    @property
    def failed(self) -> Optional[int]:
        if self.total is None or self.passed is None:
            return None
        return self.total - self.passed

    @property
    def confusion_matrix(self) -> Optional[Path]:
        path = self.folder / STORY_CONFUSION_MATRIX
        return path if path.exists() else None


# --- NLU --------------------------------------------------------------------


def _report_dict(report: LanguageReport) -> Dict[str, dict]:
    expected = [p.expected for p in report.predictions]
    predicted = [p.predicted for p in report.predictions]
    return classification_report(
        expected,
        predicted,
        labels=sorted(set(expected)),
        output_dict=True,
        zero_division=0,
    )


def summary(report: LanguageReport) -> Summary:
    """The headline numbers of one language."""
    weighted = (
        _report_dict(report).get("weighted avg", {}) if report.predictions else {}
    )
    return Summary(
        examples=len(report.predictions),
        errors=len(report.errors()),
        accuracy=report.accuracy,
        macro_f1=report.macro_f1 if report.predictions else 0.0,
        weighted_f1=float(weighted.get("f1-score", 0.0)),
        language_accuracy=report.language_accuracy,
    )


def intent_rows(report: LanguageReport) -> List[IntentRow]:
    """Precision, recall, F1 and support per expected intent, worst F1 first."""
    if not report.predictions:
        return []
    metrics = _report_dict(report)
    intents = {p.expected for p in report.predictions}
    confused: Dict[str, Counter] = {}
    for p in report.errors():
        confused.setdefault(p.expected, Counter())[p.predicted] += 1
    rows = [
        IntentRow(
            intent=intent,
            precision=float(values["precision"]),
            recall=float(values["recall"]),
            f1=float(values["f1-score"]),
            support=int(values["support"]),
            confused_with=confused.get(intent, Counter()).most_common(),
        )
        for intent, values in metrics.items()
        if intent in intents
    ]
    return sorted(rows, key=lambda r: (r.f1, r.recall, r.intent))


def plot_confusion(report: LanguageReport, path: Path, title: str) -> Path:
    """Write the intent confusion matrix of ``report`` as a PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from rasa.utils.plotting import plot_confusion_matrix

    expected = [p.expected for p in report.predictions]
    predicted = [p.predicted for p in report.predictions]
    labels = sorted(set(expected) | set(predicted))
    matrix = confusion_matrix(expected, predicted, labels=labels)
    figure = plt.figure()
    # Rasa's helper draws on the current figure (log colour scale, counts in cells).
    plot_confusion_matrix(matrix, labels, title=title)
    axes, colour_bar = figure.axes[0], figure.axes[1:]
    # Counts are written in the cells; a log-scale colour bar only puzzles readers.
    for bar in colour_bar:
        bar.remove()
    # It writes every count, zeros included: with 34 intents the few errors would
    # drown in a thousand zeros, so empty cells stay empty. On its log scale a
    # single error is almost white: errors get a red cell and red bold digits.
    for text in list(axes.texts):
        column, row = text.get_position()
        if text.get_text() == "0":
            text.remove()
            continue
        text.set_fontsize(9)
        if row != column:
            text.set_color("#a00000")
            text.set_fontweight("bold")
            axes.add_patch(
                Rectangle((column - 0.5, row - 0.5), 1, 1, color="#ffd0d0", zorder=2)
            )
    # Thin lines between cells help follow a row or a column across the matrix.
    ticks = [i - 0.5 for i in range(1, len(labels))]
    axes.set_xticks(ticks, minor=True)
    axes.set_yticks(ticks, minor=True)
    axes.grid(which="minor", color="#e4e4e4", linewidth=0.5)
    axes.set_axisbelow(True)  # the lines show in empty (transparent) cells only
    axes.images[0].set_zorder(1)
    axes.tick_params(which="minor", length=0)
    axes.tick_params(labelsize=10)
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    side = max(6.0, 0.3 * len(labels) + 3)
    figure.set_size_inches(side, side * 0.92)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


# --- Story tests -----------------------------------------------------------


def run_story_tests(
    model: Path,
    stories: Path,
    folder: Path,
    rasa: Sequence[str] = (),
    read_texts: bool = False,
    in_process: bool = False,
) -> StoryResults:
    """Run ``rasa test core`` (errors do not fail it) and read what it wrote.

    With ``read_texts`` the model also reads the user's text of each step that has
    one (``--e2e``), and the step fails when it gets another intent or other
    entities: without it Rasa takes the intent written in the story, so a test
    story saved from a misread conversation could not fail.

    ``in_process`` runs Rasa's own command in this process (the console's warm
    worker, which has Rasa loaded): 4 to 8 s instead of 14 s for a new process that
    imports Rasa first. The console runs the stories twice per check."""
    folder.mkdir(parents=True, exist_ok=True)
    # An earlier `make test-stories` that stopped at the first error leaves old files.
    for path in rasa_files(folder):
        path.unlink()
    arguments = ["test", "core"]
    if in_process:  # the console shows no plots
        arguments.append("--no-plot")
    if read_texts:
        stories = conversation_test_copy(stories, folder / "conversation-tests")
        arguments.append("--e2e")
    arguments += [
        "--stories",
        str(stories),
        "--model",
        str(model),
        "--out",
        str(folder),
    ]
    started = time.perf_counter()
    with open(folder / STORY_LOG, "w", encoding="utf-8") as log:
        if in_process:
            code = _rasa_here(arguments, log)
        else:
            code = _rasa_process(
                [*(rasa or (sys.executable, "-m", "rasa"))], arguments, log
            )
    results = read_story_results(folder)
    results.seconds = time.perf_counter() - started
    if code != 0:
        results.error = (
            f"rasa test core exited with code {code}; see {folder / STORY_LOG}."
        )
    return results


def _rasa_process(rasa: List[str], arguments: List[str], log: TextIO) -> int:
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
    }
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return subprocess.run(
        [*rasa, *arguments], stdout=log, stderr=subprocess.STDOUT, env=env, check=False
    ).returncode


def _rasa_here(arguments: List[str], log: TextIO) -> int:
    """``rasa test core`` through Rasa's own parser and command, in this process;
    what it prints goes to ``log``, its exit code is returned."""
    import asyncio

    from rasa.__main__ import create_argument_parser
    from rasa.cli.test import run_core_test_async

    args = create_argument_parser().parse_args(arguments)
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            asyncio.run(run_core_test_async(args))
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else 1
        except Exception:  # reported like a failed process: see the log
            traceback.print_exc(file=log)
            return 1
    return 0


def conversation_test_copy(stories: Path, target: Path) -> Path:
    """``stories`` (a file or a folder of them) copied to ``target``, every file
    named ``test_*.yml``: with ``--e2e`` Rasa reads only files named so."""
    shutil.rmtree(target, ignore_errors=True)
    files = sorted(stories.rglob("*.yml")) if stories.is_dir() else [stories]
    for path in files:
        relative = path.relative_to(stories) if stories.is_dir() else Path(path.name)
        name = relative.name
        if not name.startswith(TEST_PREFIX):
            name = TEST_PREFIX + name
        copy = target / relative.parent / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    return target


def rasa_files(folder: Path) -> List[Path]:
    """The files ``rasa test core`` wrote to ``folder`` (sorted, log excluded)."""
    names = {
        STORY_REPORT,
        FAILED_STORIES,
        STORIES_WITH_WARNINGS,
        STORY_CONFUSION_MATRIX,
    }
    # Entity evaluation per extractor, e.g. TEDPolicy_report.json, _errors.json.
    patterns = ("*_report.json", "*_errors.json", "*_successes.json", "*_matrix.png")
    found = {p for p in folder.glob("*") if p.is_file() and p.name in names}
    for pattern in patterns:
        found.update(p for p in folder.glob(pattern) if p.is_file())
    return sorted(found)


def read_story_results(folder: Path) -> StoryResults:
    """The story counts and failed stories from a ``rasa test core --out`` folder."""
    results = StoryResults(folder=folder)
    failed_file = folder / FAILED_STORIES
    if failed_file.exists():
        text = failed_file.read_text(encoding="utf-8")
        # With no failures Rasa writes a single comment line.
        if re.search(r"^\s*- story:", text, re.MULTILINE):
            results.failed_stories = text.strip()
    report_file = folder / STORY_REPORT
    if not report_file.exists():
        results.error = f"rasa test core wrote no {report_file}."
        return results
    conversations = json.loads(report_file.read_text(encoding="utf-8")).get(
        "conversation_accuracy", {}
    )
    if "total" in conversations:
        results.total = int(conversations["total"])
        results.passed = int(conversations.get("correct", 0))
        results.with_warnings = int(conversations.get("with_warnings", 0))
    return results


# --- Markdown ----------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_<>\[\]|])")


def cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (one line, | and markup escaped)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(marks[a] for a in align) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _code(name: str) -> str:
    return f"`{name}`"


def _predicted(p: Prediction) -> str:
    text = _code(p.predicted)
    if p.predicted == "nlu_fallback" and p.top_intent and p.top_intent != p.predicted:
        text += f" (best: {_code(p.top_intent)} {p.top_confidence:.2f})"
    return text


def _display_path(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path


def language_section(
    language: str, report: LanguageReport, image: Optional[str]
) -> str:
    name = LANGUAGE_NAMES.get(language, language)
    parts = [f"## {name} ({language})"]
    if image:
        parts.append(
            "Rows are the expected intents, columns the predicted ones; numbers off "
            "the diagonal (red) are errors. The `nlu_fallback` column counts the "
            "questions the bot would have asked to rephrase (confidence below the "
            "fallback threshold).\n\n"
            f"![Intent confusion matrix, {name}]({image})"
        )
    rows = intent_rows(report)
    parts.append(f"### Intents, worst F1 first ({len(rows)})")
    parts.append(
        _table(
            ["intent", "precision", "recall", "F1", "support", "mistaken for"],
            [
                [
                    _code(r.intent),
                    f"{r.precision:.3f}",
                    f"{r.recall:.3f}",
                    f"{r.f1:.3f}",
                    str(r.support),
                    ", ".join(f"{_code(i)} ×{n}" for i, n in r.confused_with),
                ]
                for r in rows
            ],
            "lrrrrl",
        )
    )
    errors = sorted(report.errors(), key=lambda p: (p.file, p.expected, p.text))
    parts.append(
        f"### Misclassified test examples ({len(errors)} of {len(report.predictions)})"
    )
    if errors:
        parts.append(
            _table(
                ["text", "expected", "predicted", "confidence", "file"],
                [
                    [
                        cell(p.text),
                        _code(p.expected),
                        _predicted(p),
                        f"{p.confidence:.2f}",
                        cell(_display_path(p.file)) if p.file else "",
                    ]
                    for p in errors
                ],
                "lllrl",
            )
        )
    else:
        parts.append("Every test example was recognised.")
    return "\n\n".join(parts)


def stories_section(results: StoryResults, out: Path) -> str:
    parts = ["## Story tests"]
    folder = os.path.relpath(results.folder, out)
    if results.error:
        parts.append(f"**The story tests gave no complete result:** {results.error}")
    warnings = ""
    if results.with_warnings:
        warnings = (
            f" ({results.with_warnings} with warnings, see "
            f"[{STORIES_WITH_WARNINGS}]({folder}/{STORIES_WITH_WARNINGS}))"
        )
    if results.total is not None and not results.failed:
        parts.append(f"All {results.total} test stories passed{warnings}.")
    elif results.total is not None:
        parts.append(
            f"{results.total} test stories: {results.passed} passed{warnings}, "
            f"**{results.failed} failed**."
        )
    if results.failed_stories:
        parts.append(
            f"Failed stories ([{FAILED_STORIES}]({folder}/{FAILED_STORIES}); "
            "`# predicted:` comments mark the wrong predictions):"
        )
        parts.append(f"```yaml\n{results.failed_stories}\n```")
    links = []
    if (results.folder / STORY_REPORT).exists():
        links.append(f"[{STORY_REPORT}]({folder}/{STORY_REPORT}) (per action)")
    if results.confusion_matrix is not None:
        links.append(
            f"the action confusion matrix [{STORY_CONFUSION_MATRIX}]"
            f"({folder}/{STORY_CONFUSION_MATRIX})"
        )
    if links:
        parts.append("Rasa's own results: " + ", ".join(links) + ".")
    return "\n\n".join(parts)


def render(
    nlu: Dict[str, LanguageReport],
    model: Path,
    out: Path,
    images: Dict[str, str],
    stories: Optional[StoryResults],
    generated: datetime,
    seconds: Optional[float] = None,
) -> str:
    """The Markdown text of the report."""
    stamp = "%Y-%m-%d %H:%M"
    model_time = (
        "file dated " + datetime.fromtimestamp(model.stat().st_mtime).strftime(stamp)
        if model.exists()
        else "file missing"
    )
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    sections = [("Held-out NLU", "held-out-nlu-test-sets")]
    sections += [
        (
            LANGUAGE_NAMES.get(language, language),
            f"{LANGUAGE_NAMES.get(language, language).lower()}-{language}",
        )
        for language in nlu
    ]
    if stories is not None:
        sections.append(("Story tests", "story-tests"))
    parts = [
        "# OFR assistant: evaluation report",
        f"Generated {generated.strftime(stamp)}{took}. Model: "
        f"`{_display_path(str(model))}` ({model_time}).",
        "Contents: "
        + " · ".join(f"[{title}](#{anchor})" for title, anchor in sections),
        "## Held-out NLU test sets",
        "The test questions in `tests/nlu/<language>/` are never used for training. "
        "Macro-F1 weighs every intent the same; weighted F1 weighs them by their "
        "number of examples. *Language detected* counts the messages whose detected "
        "language is not the other one (undecided keeps the conversation's language).",
    ]
    rows = []
    for language, report in nlu.items():
        s = summary(report)
        rows.append(
            [
                LANGUAGE_NAMES.get(language, language),
                str(s.examples),
                str(s.errors),
                f"{s.accuracy:.3f}",
                f"{s.macro_f1:.3f}",
                f"{s.weighted_f1:.3f}",
                f"{s.language_accuracy:.3f}",
            ]
        )
    parts.append(
        _table(
            [
                "language",
                "examples",
                "errors",
                "accuracy",
                "macro-F1",
                "weighted F1",
                "language detected",
            ],
            rows,
            "lrrrrrr",
        )
    )
    for language, report in nlu.items():
        parts.append(language_section(language, report, images.get(language)))
    if stories is not None:
        parts.append(stories_section(stories, out))
    return "\n\n".join(parts) + "\n"


def write_report(
    nlu: Dict[str, LanguageReport],
    out: Path,
    model: Path,
    stories: Optional[StoryResults] = None,
    generated: Optional[datetime] = None,
    seconds: Optional[float] = None,
) -> Path:
    """Write ``out/evaluation.md`` and ``out/confusion_<language>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    images: Dict[str, str] = {}
    for language, report in nlu.items():
        if report.predictions:
            name = f"confusion_{language}.png"
            title = f"Intent confusion matrix, {LANGUAGE_NAMES.get(language, language)}"
            plot_confusion(report, out / name, title)
            images[language] = name
    text = render(
        nlu, model, out, images, stories, generated or datetime.now(), seconds
    )
    path = out / REPORT_FILE
    path.write_text(text, encoding="utf-8")
    return path
