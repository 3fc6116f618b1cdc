"""Every change made in the console is a git commit, authored by the staff member.

Developers then see and review staff changes like any other (``git log``). Only the
changed files go into the commit, so whatever else is being edited in the working
tree stays out of it. Outside a git repository nothing is committed.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

COMMITTER = ("OFR staff console", "console@ofr-assistant.invalid")
INDEX_LOCK_WAIT = 5.0  # seconds to wait for another git process's index.lock


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
        changed or there is no repository.

        Only these paths go into the commit, with their content as it is now: a
        tracked file is committed by ``git commit -- <path>`` alone, which stages
        nothing when it fails, and a new file is unstaged again when its commit
        fails. A ``.git/index.lock`` (git busy elsewhere) is waited for a few
        seconds; if it stays, HistoryError says so and nothing is left staged."""
        root = self.root.resolve()
        inside = [
            str(p.resolve().relative_to(root))
            for p in paths
            if p.resolve().is_relative_to(root)
        ]
        if not self.enabled or not inside:
            return None  # e.g. an events file outside the project (OFR_EVENTS_FILE)
        status = self._git_waiting(
            "status", "--porcelain", "-z", "--untracked-files=all", "--", *inside
        )
        if not status.strip("\0"):
            return None
        new = [entry[3:] for entry in status.split("\0") if entry.startswith("?? ")]
        author = f"{staff} <{staff}@staff.ofr-assistant.invalid>"
        if new:
            self._git_waiting("add", "--", *new)
        try:
            self._git_waiting(
                "commit", "--quiet", f"--author={author}", "-m", message, "--", *inside
            )
        except HistoryError as error:
            if new:
                try:
                    self._git_waiting("reset", "--quiet", "--", *new)
                except HistoryError:
                    raise HistoryError(
                        f"{error} The new files {', '.join(new)} stay staged: a "
                        "developer should commit or unstage them (git reset -- "
                        "<file>)."
                    ) from error
            raise
        return self._git("rev-parse", "HEAD").strip()

    def _git_waiting(self, *args: str, wait: float = INDEX_LOCK_WAIT) -> str:
        """``_git``, waiting while another git process holds ``.git/index.lock``."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._git(*args)
            except HistoryError as error:
                if "index.lock" not in str(error):
                    raise
                if time.monotonic() >= deadline:
                    raise HistoryError(
                        f"git is busy: {self.root / '.git' / 'index.lock'} stayed "
                        f"for {wait:.0f} seconds, so the change is saved in the file "
                        "but not in the history. If no git command is running, a "
                        "developer removes that file; the next change of the same "
                        "file then commits both."
                    ) from error
                time.sleep(0.1)

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
