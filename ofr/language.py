"""Language codes: reading them from slots, channel hints and requests by name."""

from __future__ import annotations

import re
from typing import Any, Optional, Protocol

LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "de"

_REQUESTS = {
    "en": re.compile(r"\b(english|englisch|engl\.?|inglese|anglais)\b", re.I),
    "de": re.compile(r"\b(german|deutsch|deutsche|allemand|tedesco)\b", re.I),
}


def language_code(value: Any) -> Optional[str]:
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


class HasSlots(Protocol):
    """A tracker of Rasa or rasa_sdk: all that is needed of it here."""

    def get_slot(self, key: str) -> Any: ...


def answer_language(tracker: HasSlots) -> str:
    """The language every answer of this turn is written in."""
    return language_code(tracker.get_slot("language")) or DEFAULT_LANGUAGE


def requested_language(text: str) -> Optional[str]:
    """The language a message asks for by name ("auf Englisch bitte"), if exactly one."""
    found = [lang for lang, pattern in _REQUESTS.items() if pattern.search(text or "")]
    return found[0] if len(found) == 1 else None
