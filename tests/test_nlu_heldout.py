"""Held-out NLU quality per language on tests/nlu: intents (floor 0.92), entities (0.80)."""

from __future__ import annotations

import pytest

from bot.evaluation import evaluate

FLOOR = 0.92
ENTITY_F1_FLOOR = 0.80


@pytest.fixture(scope="module")
def reports(trained_model):
    return evaluate(trained_model)


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
    assert reports[language].language_accuracy >= 0.98


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
