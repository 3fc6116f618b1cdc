"""Held-out NLU quality per language on tests/nlu: intents (floor 0.96), entities (0.80).

The entities are also checked on the same examples written all in lower case (0.70),
as people often type on phones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ofr_tools.evaluation import LANGUAGES, evaluate
from tests.event_filter_cases import EVENT_INTENTS, expected, load_cases, parsed

# Issue 13's floor. Measured 0.965 / 0.961 (EN / DE) on 2026-12-02 with the linear
# intent classifier, which trains deterministically: the same data gives the same
# numbers on every machine (DIET's varied by about 0.005 from one training to the next).
FLOOR = 0.96
LANGUAGE_FLOOR = 0.995
PIPELINE_FILTER_FLOOR = 0.80
ENTITY_F1_FLOOR = 0.80
LOWERCASE_ENTITY_F1_FLOOR = 0.70
HELD_OUT = Path(__file__).parent / "nlu"

# Loads and runs the trained model on every held-out question (make test-fast skips it).
pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def reports(trained_model):
    return evaluate(trained_model)


def lowercase_copy(source: Path, target: Path) -> Path:
    """The held-out files with every example in lower case (annotations kept)."""
    for language in LANGUAGES:
        (target / language).mkdir(parents=True)
        for path in (source / language).glob("*.yml"):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            (target / language / path.name).write_text(
                "".join(
                    line.lower() if line.lstrip().startswith("- ") else line
                    for line in lines
                ),
                encoding="utf-8",
            )
    return target


@pytest.fixture(scope="module")
def lowercase_reports(trained_model, tmp_path_factory):
    folder = lowercase_copy(HELD_OUT, tmp_path_factory.mktemp("lowercase"))
    return evaluate(trained_model, folder)


@pytest.mark.parametrize("language", ["en", "de"])
def test_intent_accuracy_floor(reports, language):
    report = reports[language]
    assert len(report.predictions) >= 400
    errors = "\n".join(
        f"{p.expected} -> {p.predicted}: {p.text}" for p in report.errors()
    )
    assert (
        report.accuracy >= FLOOR
    ), f"{language} accuracy {report.accuracy:.3f}\n{errors}"


@pytest.mark.parametrize("language", ["en", "de"])
def test_language_is_never_mistaken(reports, language):
    # Undecided is fine (the conversation keeps its language); wrong is not.
    assert reports[language].language_accuracy >= LANGUAGE_FLOOR


@pytest.mark.parametrize("language", ["en", "de"])
def test_event_filters_through_the_whole_pipeline(reports, language):
    """The filter the bot searches with, from the intent and entities it predicted.

    A question the NLU sends to a non-event intent never reaches the parser: wrong.
    """
    predictions = {
        p.text: p
        for p in reports[language].predictions
        if p.held_out_set == "event questions"
    }
    cases = [
        c
        for c in load_cases("heldout*_*.yml")
        if c.is_event_question and c.language == language
    ]
    wrong = []
    for case in cases:
        prediction = predictions[case.text]
        got = (
            parsed(case, prediction.predicted, prediction.parsed.get("entities"))
            if prediction.predicted in EVENT_INTENTS
            else {"intent": prediction.predicted}
        )
        if got != expected(case):
            wrong.append(f"{case.text!r}: {got} != {expected(case)}")
    score = 1 - len(wrong) / len(cases)
    assert score >= PIPELINE_FILTER_FLOOR, f"{language} {score:.3f}\n" + "\n".join(
        wrong
    )


@pytest.mark.parametrize("language", ["en", "de"])
def test_entity_f1_floor(reports, language):
    # Cities, states, dates, formats and topics as annotated in the held-out set.
    precision, recall, f1 = reports[language].entity_scores
    misses = "\n".join(
        f"{sorted(p.expected_entities)} -> {sorted(p.predicted_entities)}: {p.text}"
        for p in reports[language].predictions
        if p.expected_entities != p.predicted_entities
    )
    assert (
        f1 >= ENTITY_F1_FLOOR
    ), f"{language} entity P/R/F1 {precision:.3f}/{recall:.3f}/{f1:.3f}\n{misses}"


@pytest.mark.parametrize("language", ["en", "de"])
def test_entities_without_capitals(lowercase_reports, language):
    precision, recall, f1 = lowercase_reports[language].entity_scores
    assert (
        f1 >= LOWERCASE_ENTITY_F1_FLOOR
    ), f"{language} lower case: entity P/R/F1 {precision:.3f}/{recall:.3f}/{f1:.3f}"


def test_parsing_in_batches_gives_what_parsing_one_by_one_gives(trained_model):
    import asyncio

    from rasa.core.agent import Agent

    from ofr_tools.evaluation import parse_all

    agent = Agent.load(str(trained_model))
    texts = [
        "hi",
        "Gibt es Veranstaltungen in München im März?",
        "who runs ofr",
        "webinare online",
        "Ich berate Rückkehrende in Köln. Wo finde ich das Handbuch?",
        "zorblax",
    ]
    one_by_one = [asyncio.run(agent.parse_message(text)) for text in texts]
    assert parse_all(agent, texts) == one_by_one
