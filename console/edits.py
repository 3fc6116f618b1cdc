"""What keeps staff changes whole when several staff save at the same moment.

- ``EditLock``: one change at a time (write, check, git commit), for the threads of
  this process (waitress serves four) and, through ``fcntl.flock`` on a file in
  ``OFR_VAR_DIR``, for a second console process or a command that edits the same
  checkout.
- ``write_atomically``: a file is replaced in one step (a temporary file beside it,
  then ``os.replace``), so a reader sees the old or the new text, never half of it.
- ``version``: a short hash of what a form was made from; a form whose version no
  longer matches is refused ("someone changed this meanwhile") instead of
  overwriting the other change.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

LOCK_FILE = "console-edits.lock"
WAIT_SECONDS = 120.0


class EditBusy(RuntimeError):
    """Another change took longer than the wait (one sentence)."""


class StaleEdit(ValueError):
    """The form was made from a version that someone changed meanwhile."""

    def __init__(self, what: str, current: Any, yours: Any) -> None:
        self.what, self.current, self.yours = what, current, yours
        super().__init__(
            f"Someone changed {what} meanwhile, after you opened the form, so "
            "nothing was saved. Both versions are shown: make the form say what "
            "should stay, then save again."
        )


def version(value: Any) -> str:
    """A short, stable hash of ``value`` (text, or anything JSON can write)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def write_atomically(
    path: Path, text: str, check: Optional[Callable[[Path], None]] = None
) -> None:
    """Replace ``path`` with ``text`` in one step, keeping its permissions and
    line ends; ``check`` may refuse the written text (by raising) before then."""
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}-", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as written:
            written.write(text)
            written.flush()
            os.fsync(written.fileno())
        if check is not None:
            check(Path(temporary))
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class EditLock:
    """One change at a time across threads and processes; re-entrant per thread."""

    _by_path: Dict[Path, EditLock] = {}
    _registry = threading.Lock()

    @classmethod
    def for_var_dir(cls, var_dir: Path) -> EditLock:
        """The one lock of this process for ``var_dir``."""
        path = (var_dir / LOCK_FILE).resolve()
        with cls._registry:
            if path not in cls._by_path:
                cls._by_path[path] = cls(path)
            return cls._by_path[path]

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0
        self._file: Optional[int] = None

    @contextmanager
    def held(self, wait: float = WAIT_SECONDS) -> Iterator[None]:
        deadline = time.monotonic() + wait
        if not self._threads.acquire(timeout=wait):
            raise EditBusy("Another change is still being saved: try again shortly.")
        try:
            if self._depth == 0:
                self._lock_file(deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._file is not None:
                    fcntl.flock(self._file, fcntl.LOCK_UN)
                    os.close(self._file)
                    self._file = None
        finally:
            self._threads.release()

    def _lock_file(self, deadline: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(handle)
                    raise EditBusy(
                        "Another console or command is still saving a change "
                        f"({self.path} is locked): try again shortly."
                    ) from None
                time.sleep(0.05)
        self._file = handle
