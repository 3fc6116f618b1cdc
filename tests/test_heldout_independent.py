"""The held-out sets must not be copies or near-copies of training examples."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from bot.nlu.language_detector import read_examples
from ofr_tools.evaluation import held_out_texts, near_copy, normalise_example
from tests.conftest import ROOT


def examples(folder: Path) -> List[str]:
    return [normalise_example(e) for e in read_examples(folder)]


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "de"])
def test_no_test_example_is_a_near_copy_of_training(language):
    training = examples(ROOT / "data" / "nlu" / language)
    held_out = [
        normalise_example(text)
        for text in held_out_texts(
            language, ROOT / "tests" / "nlu", ROOT / "tests" / "event_questions"
        )
    ]
    by_length: Dict[int, List[str]] = {}
    for text in training:
        by_length.setdefault(len(text) // 10, []).append(text)
    copies = []
    for text in held_out:
        if len(text) < 12:  # "hi", "danke": short messages cannot avoid overlap
            continue
        nearby = [
            t
            for k in range(len(text) // 10 - 1, len(text) // 10 + 2)
            for t in by_length.get(k, [])
        ]
        for candidate in nearby:
            if near_copy(text, candidate):
                copies.append(f"{text!r} ~ {candidate!r}")
                break
    assert not copies, "near-copies of training examples in tests/nlu:\n" + "\n".join(
        copies
    )


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_intent_has_enough_held_out_examples(language):
    counts: Dict[str, int] = {}
    for path in (ROOT / "tests" / "nlu" / language).glob("*.yml"):
        import yaml

        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            counts[block["intent"]] = counts.get(block["intent"], 0) + len(
                [
                    line
                    for line in block["examples"].splitlines()
                    if line.strip().startswith("- ")
                ]
            )
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    missing = {i: counts.get(i, 0) for i in domain["intents"] if counts.get(i, 0) < 10}
    assert not missing
