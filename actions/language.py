"""The conversation's language, as the actions see it."""

from __future__ import annotations

import re
from typing import Any, Optional

from rasa_sdk import Tracker

LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "de"

_REQUESTS = {
    "en": re.compile(r"\b(english|englisch|engl\.?|inglese|anglais)\b", re.I),
    "de": re.compile(r"\b(german|deutsch|deutsche|allemand|tedesco)\b", re.I),
}


def normalise(value: Any) -> Optional[str]:
    """'de-DE', 'de_AT', 'German' → 'de'; None for anything else."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = re.split(r"[-_]", value.strip().lower())[0]
    if code in LANGUAGES:
        return code
    for language, pattern in _REQUESTS.items():
        if pattern.fullmatch(value.strip()):
            return language
    return None


def conversation_language(tracker: Tracker) -> str:
    """The language every answer of this turn is written in."""
    return normalise(tracker.get_slot("language")) or DEFAULT_LANGUAGE


def requested_language(text: str) -> Optional[str]:
    """The language a message asks for by name ("auf Englisch bitte"), if exactly one."""
    found = [lang for lang, pattern in _REQUESTS.items() if pattern.search(text or "")]
    return found[0] if len(found) == 1 else None
