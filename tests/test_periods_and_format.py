"""Date phrases in both languages with a fixed "today", and dates written for people."""

from __future__ import annotations

from datetime import date

import pytest

from ofr.events.formatting import details, line, when
from ofr.events.periods import parse_period
from ofr.events.store import EventsStore
from tests.conftest import ROOT

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("phrase", "language", "start", "end"),
    [
        ("im Dezember", "de", date(2026, 12, 1), date(2027, 1, 1)),
        ("in December", "en", date(2026, 12, 1), date(2027, 1, 1)),
        ("im März", "de", date(2027, 3, 1), date(2027, 4, 1)),
        ("next month", "en", date(2026, 12, 1), date(2027, 1, 1)),
        ("nächsten Monat", "de", date(2026, 12, 1), date(2027, 1, 1)),
        ("diese Woche", "de", date(2026, 11, 23), date(2026, 11, 30)),
        ("this week", "en", date(2026, 11, 23), date(2026, 11, 30)),
        ("between March and May", "en", date(2027, 3, 1), date(2027, 6, 1)),
        ("zwischen März und Mai", "de", date(2027, 3, 1), date(2027, 6, 1)),
        ("von Dezember bis Februar", "de", date(2026, 12, 1), date(2027, 3, 1)),
        ("2018", "en", date(2018, 1, 1), date(2019, 1, 1)),
        ("im Jahr 2020", "de", date(2020, 1, 1), date(2021, 1, 1)),
        ("next year", "en", date(2027, 1, 1), date(2028, 1, 1)),
        ("tomorrow", "en", date(2026, 11, 26), date(2026, 11, 27)),
        ("morgen", "de", date(2026, 11, 26), date(2026, 11, 27)),
        ("am 3. Februar", "de", date(2027, 2, 3), date(2027, 2, 4)),
        ("im Frühjahr", "de", date(2027, 3, 1), date(2027, 6, 1)),
        ("May 2023", "en", date(2023, 5, 1), date(2023, 6, 1)),
    ],
)
def test_date_phrases(phrase, language, start, end) -> None:
    period = parse_period(phrase, language, TODAY)
    assert (period.start, period.end) == (start, end)
    assert period.label == phrase


def test_past_preference_picks_the_last_occurrence() -> None:
    period = parse_period("im März", "de", TODAY, prefer="past")
    assert period.start == date(2026, 3, 1)


@pytest.mark.parametrize("phrase", ["", "   ", "hello", "bitte"])
def test_not_a_date(phrase) -> None:
    assert parse_period(phrase, "de", TODAY) is None


@pytest.fixture(scope="module")
def events():
    return {
        e.id: e
        for e in EventsStore(ROOT / "tests" / "fixtures" / "events.yml").events()
    }


def test_time_range_in_both_languages(events) -> None:
    event = events["test-2027-hamburg"]
    assert when(event, "en") == "Wednesday, 3 February 2027, 10:00–16:00"
    assert when(event, "de") == "Mittwoch, 3. Februar 2027, 10:00–16:00 Uhr"


def test_all_day_multi_day_and_imprecise_dates(events) -> None:
    assert when(events["test-2027-munich"], "de") == "Mittwoch, 10. März 2027"
    assert when(events["test-2027-cologne"], "en") == (
        "Wednesday, 24 March 2027, 09:30 – Thursday, 25 March 2027, 13:00"
    )
    assert when(events["test-2019-series"], "en") == "2019"


def test_line_and_details(events) -> None:
    event = events["test-2027-hamburg"]
    assert line(event, "de", 1) == (
        "1. Netzwerktreffen Hamburg — Mittwoch, 3. Februar 2027, 10:00–16:00 Uhr — "
        "Hamburg, Rathaus (vor Ort)"
    )
    text = details(event, "en", "http://x/cal.ics")
    assert "Where: Hamburg, Rathaus (in person)" in text
    assert "Registration: https://example.org/register/hamburg" in text
    assert "Add to calendar: http://x/cal.ics" in text
    assert "online" in line(events["test-2026-online-women"], "en")


def test_the_part_asked_about_in_the_tense_of_the_event(events) -> None:
    """Tried as a user: "wo war das?" about a 2021 event got "findet statt"."""
    from ofr.events.formatting import aspect_answer

    event = events["test-2027-hamburg"]
    assert aspect_answer(event, "place", "de") == (
        "„Netzwerktreffen Hamburg“ findet statt: Hamburg, Rathaus (vor Ort)."
    )
    assert aspect_answer(event, "place", "de", past=True) == (
        "„Netzwerktreffen Hamburg“ fand statt: Hamburg, Rathaus (vor Ort)."
    )
    assert aspect_answer(event, "format", "en", past=True).endswith("was in person.")
