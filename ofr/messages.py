"""Bilingual texts for custom actions, read from ``ofr/messages.yml``.

Rasa renders ``utter_message(response=...)`` with the tracker as it was *before* the
action's own events, so an action that changes the language (or the events filter)
would answer in the old language. Actions therefore pick the text for the language
they decided on themselves, from this file.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

MESSAGES_FILE = Path(__file__).with_name("messages.yml")


class _KeepUnknown(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_last_good: Dict[str, Dict[str, str]] = {}


def _messages() -> Dict[str, Dict[str, str]]:
    """The file's texts, read again when it changes (the staff console adds the
    button label of a new question while the action server runs); a file that does
    not read keeps the last good version."""
    stat = MESSAGES_FILE.stat()
    return _read(stat.st_mtime_ns, stat.st_size, MESSAGES_FILE)


@lru_cache(maxsize=1)
def _read(_mtime: int, _size: int, path: Path) -> Dict[str, Dict[str, str]]:
    global _last_good
    try:
        texts = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        texts = None
    if isinstance(texts, dict):
        _last_good = texts
    return _last_good


def has_message(name: str, language: str) -> bool:
    return language in (_messages().get(name) or {})


def message(name: str, language: str, **values: Any) -> str:
    """The text ``name`` in ``language`` with ``{placeholders}`` filled in."""
    try:
        template = _messages()[name][language]
    except KeyError as error:
        raise KeyError(
            f"{MESSAGES_FILE} has no '{language}' text for '{name}'."
        ) from error
    return string.Formatter().vformat(template, (), _KeepUnknown(values))
