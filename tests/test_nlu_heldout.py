"""Held-out NLU quality: intent accuracy per language on tests/nlu (floor 0.92)."""

from __future__ import annotations

import pytest

from bot.evaluation import evaluate

FLOOR = 0.92


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
