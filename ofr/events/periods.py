"""Turn a date phrase ("im Dezember", "next month", "between March and May") into a period.

dateparser reads single dates in both languages and says how precise they are
(day, week, month, year); this module adds what it has no notion of: ranges
("zwischen März und Mai"), seasons, a bare year, and the choice between the next
and the last occurrence of a month.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

warnings.filterwarnings("ignore", module="dateparser")


@dataclass(frozen=True)
class Period:
    """Days from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: date
    end: date
    label: str

    def to_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Period:
        return cls(
            date.fromisoformat(data["start"]),
            date.fromisoformat(data["end"]),
            data["label"],
        )


_RANGE = re.compile(
    r"^(?:between|from|zwischen|von|vom)?\s*(?P<a>.+?)\s+(?:and|to|until|till|-|–|und|bis)\s+(?P<b>.+)$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")
_FILLER = re.compile(
    r"^(?:in|im|on|am|at|for|für|during|während|ab|from|the|des|der|dem|den|diesem|jahr|year)\s+",
    re.IGNORECASE,
)
_SEASONS = {
    # name: (first month, number of months)
    "spring": (3, 3),
    "frühjahr": (3, 3),
    "frühling": (3, 3),
    "fruehjahr": (3, 3),
    "summer": (6, 3),
    "sommer": (6, 3),
    "autumn": (9, 3),
    "fall": (9, 3),
    "herbst": (9, 3),
    "winter": (12, 3),
}


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _strip(text: str) -> str:
    text = text.strip(" ?!.,")
    previous = None
    while previous != text:
        previous, text = text, _FILLER.sub("", text).strip()
    return text


def _parser(language: str, today: date, prefer: str) -> DateDataParser:
    # Imported on first use: the Rasa server imports this module (event filters in
    # the calendar route) but never parses a date phrase.
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=[language, "en" if language == "de" else "de"],
        settings={
            "PREFER_DATES_FROM": prefer,
            "RELATIVE_BASE": datetime.combine(today, datetime.min.time()),
            "PREFER_DAY_OF_MONTH": "first",
        },
    )


def _single(text: str, language: str, today: date, prefer: str) -> Optional[Period]:
    phrase = _strip(text)
    if not phrase:
        return None
    lowered = phrase.lower()
    for name, (first, months) in _SEASONS.items():
        if re.search(rf"\b{name}\b", lowered):
            year_match = _YEAR.search(lowered)
            year = int(year_match.group(1)) if year_match else today.year
            start = _month_start(year, first)
            if (
                not year_match
                and prefer == "future"
                and _month_start(year, first + months) <= today
            ):
                start = _month_start(year + 1, first)
            if not year_match and prefer == "past" and start > today:
                start = _month_start(year - 1, first)
            return Period(
                start, _month_start(start.year, start.month + months), text.strip()
            )
    if re.fullmatch(r"(?:19|20)\d{2}", phrase):
        year = int(phrase)
        return Period(date(year, 1, 1), date(year + 1, 1, 1), text.strip())
    data = _parser(language, today, prefer).get_date_data(phrase)
    if data.date_obj is None:
        year_match = _YEAR.search(phrase)
        if year_match:  # "im Jahr 2020", "the year 2019"
            year = int(year_match.group(1))
            return Period(date(year, 1, 1), date(year + 1, 1, 1), text.strip())
        return None
    found = data.date_obj.date()
    if data.period == "year":
        return Period(date(found.year, 1, 1), date(found.year + 1, 1, 1), text.strip())
    if data.period == "month":
        start = date(found.year, found.month, 1)
        explicit_year = _YEAR.search(phrase) is not None
        if not explicit_year and prefer == "past" and start > today:
            start = date(start.year - 1, start.month, 1)
        return Period(start, _month_start(start.year, start.month + 1), text.strip())
    if data.period == "week":
        start = found - timedelta(days=found.weekday())
        return Period(start, start + timedelta(days=7), text.strip())
    return Period(found, found + timedelta(days=1), text.strip())


def parse_period(
    text: Optional[str],
    language: str = "de",
    today: Optional[date] = None,
    prefer: str = "future",
) -> Optional[Period]:
    """The period a date phrase means, or None when it is not a date.

    ``prefer`` is "future" for upcoming events and "past" for the event history: it
    decides whether "im März" means the next or the last March.
    """
    if not text or not text.strip():
        return None
    today = today or date.today()
    match = _RANGE.match(_strip(text))
    if match:
        first = _single(match.group("a"), language, today, prefer)
        last = _single(match.group("b"), language, today, prefer)
        if first and last:
            end = last.end
            if end <= first.start:  # "November to February" crosses the new year
                end = date(last.end.year + 1, last.end.month, last.end.day)
            return Period(first.start, end, text.strip())
    return _single(text, language, today, prefer)
