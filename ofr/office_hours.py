"""When IOM staff answer handed-over questions: office hours in Berlin time.

``OFR_STAFF_HOURS`` is written like ``Mon-Fri 09:00-17:00`` (days in English, a range
or one day; times as HH:MM). Outside those hours the bot tells the user when staff
are back, so nobody waits for an answer at night without knowing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from babel.dates import format_date

BERLIN = ZoneInfo("Europe/Berlin")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(
    r"^\s*(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$",
    re.IGNORECASE,
)
DEFAULT = "Mon-Fri 09:00-17:00"


@dataclass(frozen=True)
class OfficeHours:
    first_day: int  # 0 = Monday
    last_day: int
    opens: time
    closes: time

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(BERLIN)
        return self._workday(local.weekday()) and (
            self.opens <= local.time() < self.closes
        )

    def next_opening(self, moment: datetime) -> datetime:
        """The next moment staff are in, from ``moment`` on (itself if open)."""
        local = moment.astimezone(BERLIN)
        if self.is_open(local):
            return local
        day = local.date()
        if local.time() >= self.opens or not self._workday(day.weekday()):
            day += timedelta(days=1)
        while not self._workday(day.weekday()):
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, BERLIN)

    def _workday(self, weekday: int) -> bool:
        return self.first_day <= weekday <= self.last_day

    def describe(self, language: str) -> str:
        """'Monday to Friday, 09:00–17:00' / 'Montag bis Freitag, 09:00–17:00 Uhr'."""
        monday = datetime(2024, 1, 1)  # a Monday
        names = [
            format_date(monday + timedelta(days=d), "EEEE", locale=language)
            for d in (self.first_day, self.last_day)
        ]
        days = names[0] if names[0] == names[1] else f"{names[0]} – {names[1]}"
        suffix = " Uhr" if language == "de" else ""
        return f"{days}, {self.opens:%H:%M}–{self.closes:%H:%M}{suffix}"


def parse(text: str) -> Optional[OfficeHours]:
    """The hours ``text`` names; None when it cannot be read."""
    match = _SPEC.match(text or "")
    if not match:
        return None
    first = match["first"].lower()
    last = (match["last"] or first).lower()
    if first not in DAYS or last not in DAYS:
        return None
    try:
        opens = time.fromisoformat(match["start"].zfill(5))
        closes = time.fromisoformat(match["end"].zfill(5))
    except ValueError:
        return None
    if DAYS.index(last) < DAYS.index(first) or closes <= opens:
        return None
    return OfficeHours(DAYS.index(first), DAYS.index(last), opens, closes)


def default() -> OfficeHours:
    hours = parse(DEFAULT)
    assert hours is not None
    return hours
