"""The event-question parser against its table and the held-out questions.

The table (tests/event_questions/table.yml) holds every rule of
docs/event-questions.md: each phrasing must give exactly its filter. The held-out
questions were written by people who never saw the parser or the training data;
at least 95% per language must give exactly the expected filter.
"""

from __future__ import annotations

from datetime import date

import pytest

from ofr.events.event_filter import EventFilter
from ofr.events.query import find_place, read_question
from tests.event_filter_cases import expected, load_cases, parsed

FLOOR = 0.95
TABLE = [case for case in load_cases("table.yml") if case.is_event_question]
HELD_OUT = [case for case in load_cases("heldout_*.yml") if case.is_event_question]


def test_table_is_large_and_bilingual():
    assert len(TABLE) >= 200
    assert {case.language for case in TABLE} == {"en", "de"}


@pytest.mark.parametrize(
    "case", TABLE, ids=[f"{c.language}-{c.kind}-{i}" for i, c in enumerate(TABLE)]
)
def test_table(case):
    assert parsed(case) == expected(case), case.text


@pytest.mark.parametrize("language", ["en", "de"])
def test_held_out_filters_floor(language):
    cases = [case for case in HELD_OUT if case.language == language]
    assert len(cases) >= 100
    wrong = [
        f"[{c.kind}] {c.text!r} previous={c.previous}\n  got {parsed(c)}\n  "
        f"expected {expected(c)}"
        for c in cases
        if parsed(c) != expected(c)
    ]
    score = 1 - len(wrong) / len(cases)
    assert score >= FLOOR, f"{language}: {score:.3f}\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "kind",
    ["format", "time", "place", "next", "followup", "details", "recent", "topic"],
)
def test_held_out_covers_every_kind(kind):
    for language in ("en", "de"):
        count = sum(1 for c in HELD_OUT if c.kind == kind and c.language == language)
        assert count >= 10, (kind, language, count)


def test_entities_fill_in_what_the_text_does_not_name():
    # A city missing from the lookup file, found by the NLU.
    wanted = read_question(
        "events in Quedlinburg?",
        "en",
        date(2026, 11, 25),
        intent="ask_events",
        entities=[{"entity": "city", "value": "Quedlinburg"}],
    )
    assert wanted.city == "Quedlinburg"


def test_a_new_question_forgets_the_previous_filter():
    previous = EventFilter(city="Hamburg", format="in_person")
    wanted = read_question(
        "any webinars?", "en", date(2026, 11, 25), previous, intent="ask_events"
    )
    assert (wanted.city, wanted.format) == (None, "online")


@pytest.mark.parametrize(
    "word", ["number", "sachen", "events", "meeting", "thanks", "bitte", "termine"]
)
def test_common_words_are_no_places(word):
    assert find_place(f"what about the {word}") is None
