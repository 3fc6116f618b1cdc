"""Every change made in the console is a git commit, authored by the staff member.

Developers then see and review staff changes like any other (``git log``). Only the
changed files go into the commit, so whatever else is being edited in the working
tree stays out of it. Outside a git repository nothing is committed.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

COMMITTER = ("OFR staff console", "console@ofr-assistant.invalid")


class HistoryError(RuntimeError):
    """git refused (one sentence, with git's own words)."""


@dataclass(frozen=True)
class Change:
    commit: str
    author: str
    when: str
    subject: str


class History:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def enabled(self) -> bool:
        return (self.root / ".git").exists()

    def _git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_COMMITTER_NAME": COMMITTER[0],
            "GIT_COMMITTER_EMAIL": COMMITTER[1],
        }
        result = subprocess.run(
            ["git", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if result.returncode != 0:
            raise HistoryError(
                f"git {args[0]} failed: {(result.stderr or result.stdout).strip()}"
            )
        return result.stdout

    def commit(self, paths: Sequence[Path], staff: str, message: str) -> Optional[str]:
        """Commit ``paths`` as ``staff``; the new commit, or None when nothing
        changed or there is no repository."""
        root = self.root.resolve()
        inside = [
            str(p.resolve().relative_to(root))
            for p in paths
            if p.resolve().is_relative_to(root)
        ]
        if not self.enabled or not inside:
            return None  # e.g. an events file outside the project (OFR_EVENTS_FILE)
        self._git("add", "--", *inside)
        if not self._git("diff", "--cached", "--name-only", "--", *inside).strip():
            return None
        author = f"{staff} <{staff}@staff.ofr-assistant.invalid>"
        self._git(
            "commit", "--quiet", f"--author={author}", "-m", message, "--", *inside
        )
        return self._git("rev-parse", "HEAD").strip()

    def revert(self, commit: str, staff: str) -> str:
        """Undo one of the console's commits with a new commit by ``staff``; the
        files it changed; HistoryError when later changes stand in the way."""
        if not any(change.commit == commit for change in self.changes(500)):
            raise HistoryError("That is not a change made in the console.")
        changed = self._git("show", "--name-only", "--format=", commit).split()
        author = f"{staff} <{staff}@staff.ofr-assistant.invalid>"
        try:
            self._git("revert", "--no-edit", "--no-commit", commit)
        except HistoryError:
            self._git("revert", "--abort")
            raise HistoryError(
                "This change cannot be undone on its own: later changes touch the same "
                "lines. Undo those first, or ask a developer."
            ) from None
        subject = self._git("log", "-n1", "--format=%s", commit).strip()
        self._git(
            "commit",
            "--quiet",
            f"--author={author}",
            "-m",
            f"Undo: {subject}",
            "--",
            *changed,
        )
        return "\n".join(changed)

    def changes(self, limit: int = 50) -> List[Change]:
        """The latest commits made in the console (by their committer)."""
        if not self.enabled:
            return []
        out = self._git(
            "log",
            f"--committer={COMMITTER[1]}",
            f"-n{limit}",
            "--format=%H%x1f%an%x1f%ad%x1f%s",
            "--date=format:%Y-%m-%d %H:%M",
        )
        return [Change(*line.split("\x1f")) for line in out.splitlines() if line]
