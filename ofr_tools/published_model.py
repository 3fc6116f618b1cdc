"""Which model every start loads: the one published last, until the next publication
or the next ``make train``.

    python -m ofr_tools.published_model start [--model PATH]   (scripts/run.sh)
    python -m ofr_tools.published_model forget                 (make train)

A publication (the console's *Publish*, ``make publish``) writes one record,
``models/published.json``: the model, who published it, when and how. ``make run``,
``make shell`` and each instance of ``make run-cluster`` start that model, and
``make run`` does not retrain ``models/ofr.tar.gz`` over it (the Makefile sees the
record). ``make train`` is a developer's explicit new model: it removes the record,
and ``models/ofr.tar.gz`` starts again. ``OFR_MODEL`` overrides both.

As ``rasa run`` looks in ``models/`` for the model to load, so do we; the record
only says which one. A record whose model is missing (deleted by hand) starts
``models/ofr.tar.gz`` with a warning rather than not at all: a restart at night
must not become an outage, and the warning says what to do. The record lives in
the project folder the console trains in (``OFR_PROJECT_DIR``, else this one).
Standard library only: the start scripts run this before every start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

RECORD = Path("models") / "published.json"
TRAINED = Path("models") / "ofr.tar.gz"
COPY_PREFIX = "published-"  # make publish's copies of models/ofr.tar.gz


class RecordError(ValueError):
    """The record cannot be read (one sentence saying why)."""


@dataclass(frozen=True)
class Publication:
    model: Path  # as recorded: relative to the project folder when inside it
    by: str
    at: str  # ISO 8601, local time with its offset
    via: str  # "console" or "make publish"

    def describe(self) -> str:
        when = self.at.replace("T", " ")[:16]
        place = "in the console" if self.via == "console" else f"with {self.via}"
        return f"published by {self.by} {place}, {when}"


def project_root() -> Path:
    """``OFR_PROJECT_DIR`` when it names a project folder, else the current one."""
    raw = os.environ.get("OFR_PROJECT_DIR", "")
    if raw and (Path(raw) / "domain.yml").is_file():
        return Path(raw)
    return Path(".")  # paths printed for the scripts stay relative


def _relative(root: Path, model: Path) -> Path:
    try:
        return model.resolve().relative_to(root.resolve())
    except ValueError:
        return model.resolve()


def read(root: Path) -> Optional[Publication]:
    """The publication in force, None when there is none; RecordError when the
    record is not one."""
    path = root / RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Publication(
            Path(data["model"]), str(data["by"]), str(data["at"]), str(data["via"])
        )
    except (ValueError, KeyError, TypeError) as error:
        raise RecordError(
            f"{RECORD} is not a publication record ({type(error).__name__}: {error})"
        ) from None


def model_path(root: Path, publication: Publication) -> Path:
    return root / publication.model  # an absolute recorded path stays as it is


def record(root: Path, model: Path, by: str, via: str) -> Publication:
    """Record ``model`` as published now; older copies made by ``make publish``
    that the record no longer names go."""
    publication = Publication(
        _relative(root, model),
        by,
        time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        via,
    )
    path = root / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(
        json.dumps(
            {
                "model": str(publication.model),
                "by": publication.by,
                "at": publication.at,
                "via": publication.via,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    partial.replace(path)  # a start never reads half a record
    kept = model.resolve()
    for old in (root / "models").glob(f"{COPY_PREFIX}*.tar.gz"):
        if old.resolve() != kept:
            old.unlink(missing_ok=True)
    return publication


def forget(root: Path) -> Optional[str]:
    """Remove the record (``make train``); what it said, for the message."""
    try:
        publication = read(root)
    except RecordError:
        publication = None
    path = root / RECORD
    if not path.exists():
        return None
    path.unlink()
    if publication is None:
        return "an unreadable publication record"
    return f"{publication.model.name} ({publication.describe()})"


def in_use(root: Path) -> Path:
    """The model a start loads now (no OFR_MODEL): the published one if its file
    is there, else models/ofr.tar.gz."""
    try:
        publication = read(root)
    except RecordError:
        publication = None
    if publication is not None and model_path(root, publication).is_file():
        return model_path(root, publication)
    return root / TRAINED


def choose(root: Path, explicit: str = "") -> Tuple[Path, str, List[str]]:
    """The model to start, why (one line for the start-up log) and warnings."""
    if explicit:
        return Path(explicit), "set by OFR_MODEL", []
    warnings: List[str] = []
    try:
        publication = read(root)
    except RecordError as error:
        publication = None
        warnings.append(
            f"Warning: {error}: starting {TRAINED} instead; publish again, or "
            f"delete {RECORD}."
        )
    if publication is not None:
        path = model_path(root, publication)
        if path.is_file():
            return path, publication.describe(), []
        warnings.append(
            f"Warning: {RECORD} names {publication.model} "
            f"({publication.describe()}), which is missing: starting {TRAINED} "
            "instead; publish again from the console or with make publish."
        )
    trained = root / TRAINED
    if trained.is_file():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(trained.stat().st_mtime))
        why = f"trained {when}; no model published since"
    else:
        why = "not trained yet"
    return trained, why, warnings


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser(
        "start", help="print the model to start, then why (two lines)"
    )
    start.add_argument("--model", default="", help="OFR_MODEL, when set")
    commands.add_parser("forget", help="make train: models/ofr.tar.gz starts again")
    args = parser.parse_args(argv)
    root = project_root()
    if args.command == "forget":
        replaced = forget(root)
        if replaced:
            print(
                f"{TRAINED} is the model make run starts from now on, in place of "
                f"{replaced}; make publish switches the running bot to it."
            )
        return 0
    model, why, warnings = choose(root, args.model)
    for warning in warnings:
        print(warning, file=sys.stderr)
    print(model)
    print(why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
