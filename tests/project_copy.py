"""Copies of the project in git repositories of their own, for the staff console's
tests: the console edits, trains and commits there, never in this checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterable

from tests.conftest import ROOT

# What `make validate`'s rules read: a console test that changes project files
# copies these (a test that trains or validates stories adds config.yml).
CHECKED_PARTS = (
    "data",
    "ofr/messages.yml",
    "docs/intents.md",
    "domain.yml",
    "tests/nlu",
    "tests/event_questions",
    "tests/stories",
)


def git_repository(root: Path, ignore: Iterable[str] = ()) -> Path:
    """``root`` as a git repository with one commit by a developer."""
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    ignored = "".join(f"{pattern}\n" for pattern in ignore)
    if ignored:
        (root / ".gitignore").write_text(ignored, encoding="utf-8")
    subprocess.run([*git, "add", "."], check=True)
    author = ["-c", "user.name=dev", "-c", "user.email=dev@example.org"]
    subprocess.run([*git, *author, "commit", "-qm", "start"], check=True)
    return root


def copy_parts(root: Path, parts: Iterable[str]) -> Path:
    """These files and folders of the project, at the same places under ``root``."""
    for part in parts:
        source, target = ROOT / part, root / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        elif source.exists():
            shutil.copy(source, target)
    return root
