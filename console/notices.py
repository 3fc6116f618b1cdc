"""Problems a page shows after a redirect ("Not saved: …"), by key.

A redirect used to carry the text itself (``?problem=…``), so any link could make
the console show any text in its alert box, e.g. "log in again at
https://evil.example/login" (escaped, but a phishing aid). Now the console keeps
the texts it made, for the staff session that caused them, and the address carries
only a random key: a key the console did not give out, gave to another session, or
gave out more than ``KEEP_SECONDS`` ago shows nothing.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Optional, Tuple

from flask import g

KEEP_SECONDS = 15 * 60
MAX_KEPT = 2_000  # the oldest go first; a few per request at most

_lock = threading.Lock()
_kept: OrderedDict[str, Tuple[str, str, float]] = OrderedDict()


def _session() -> str:
    session = getattr(g, "session", None)
    return getattr(session, "csrf", "") or ""


def problem_key(text: str) -> str:
    """Keep ``text`` for this staff session; the key to put in ``?problem=``."""
    key = secrets.token_urlsafe(12)
    with _lock:
        _kept[key] = (_session(), text, time.monotonic())
        while len(_kept) > MAX_KEPT:
            _kept.popitem(last=False)
    return key


def problem_text(key: Optional[str]) -> Optional[str]:
    """The text the console kept under ``key`` for this session, else None."""
    if not key:
        return None
    with _lock:
        kept = _kept.get(key)
    if kept is None:
        return None
    session, text, at = kept
    if session != _session() or time.monotonic() - at > KEEP_SECONDS:
        return None
    return text
