"""Place names in English and German spelling, read from the NLU lookup file.

``data/nlu/lookups/places.yml`` lists cities and Länder with their synonyms for the
NLU; the events search uses the same file so that "Munich", "München" and
"muenchen" all find an event whose city is "München".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

PLACES_FILE = (
    Path(__file__).resolve().parents[2] / "data" / "nlu" / "lookups" / "places.yml"
)

# Long official forms the NLU may extract for the city-states.
_PREFIXES = re.compile(
    r"^(?:land|bundesland|freistaat|freie und hansestadt|freien und hansestadt|"
    r"freie hansestadt|state of|city of|stadt)\s+",
    re.IGNORECASE,
)


def fold(name: str) -> str:
    """Compare names ignoring case, umlaut spelling, accents, dashes and spaces."""
    text = name.casefold().strip()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s\-_/.()]+", "", text)


@lru_cache(maxsize=1)
def _aliases() -> Dict[str, str]:
    content = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8")) or {}
    aliases: Dict[str, str] = {}
    for block in content.get("nlu", []):
        if "synonym" in block:
            canonical = str(block["synonym"])
            aliases[fold(canonical)] = canonical
            for line in str(block.get("examples", "")).splitlines():
                name = line.strip().lstrip("-").strip()
                if name:
                    aliases[fold(name)] = canonical
    return aliases


def place_names() -> List[Tuple[str, str, bool]]:
    """(spelling, name in the events file, is a Land) for every place in the lookups."""
    content = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8")) or {}
    aliases = _aliases()
    names: List[Tuple[str, str, bool]] = []
    for block in content.get("nlu", []):
        if block.get("lookup") not in ("city", "state"):
            continue
        for line in str(block.get("examples", "")).splitlines():
            spelling = line.strip().lstrip("-").strip()
            if spelling:
                name = aliases.get(fold(spelling), spelling)
                names.append((spelling, name, block["lookup"] == "state"))
    return names


def canonical(name: Optional[str]) -> Optional[str]:
    """The name used in the events file ("Munich" → "München"), or the input tidied."""
    if not name or not name.strip():
        return None
    tidy = _PREFIXES.sub("", name.strip())
    return _aliases().get(fold(tidy), tidy)


def same_place(a: Optional[str], b: Optional[str]) -> bool:
    if not a or not b:
        return False
    return fold(canonical(a) or a) == fold(canonical(b) or b)
