"""The intent classifier: learns, ranks with confidences, survives saving, refuses
tampering, keeps its temperature when fine-tuned."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import intent_model_file
from bot.nlu.linear_intent_classifier import (
    LinearIntentClassifier,
    fitted_temperature,
    folded,
    lemma_text,
)
from bot.nlu.spacy_tokenizer import BilingualSpacyTokenizer

EXAMPLES = {
    "greet": ["hallo", "hi there", "guten morgen", "hey", "moin moin", "good evening"],
    "ask_events": [
        "gibt es veranstaltungen in münchen",
        "any events in hamburg",
        "welche termine gibt es im märz",
        "upcoming workshops online",
        "nächste treffen in köln",
        "events next month in bavaria",
    ],
    "delete_my_data": [
        "lösch meine daten",
        "please delete my data",
        "daten löschen bitte",
        "erase my conversation",
        "vergiss alles über mich",
        "remove what you stored about me",
    ],
}


def training_data() -> TrainingData:
    return TrainingData(
        [
            Message(data={TEXT: text, INTENT: intent})
            for intent, texts in EXAMPLES.items()
            for text in texts
        ]
    )


def classifier(tmp_path, **config: Any) -> LinearIntentClassifier:
    return LinearIntentClassifier(
        {
            **LinearIntentClassifier.get_default_config(),
            "calibration_folds": 3,
            **config,
        },
        LocalModelStorage(tmp_path),
        Resource("intents"),
    )


def classify(component: LinearIntentClassifier, *texts: str) -> List[Message]:
    return component.process([Message(data={TEXT: text}) for text in texts])


def ranking(message: Message) -> List[Dict[str, Any]]:
    return message.get(INTENT_RANKING_KEY)


def test_umlauts_and_sharp_s_are_written_out():
    assert folded("Löschen, Straße, ÜBER") == "loeschen, strasse, ueber"


def test_the_lemma_features_read_the_tokenizers_lemmas():
    tokenizer = BilingualSpacyTokenizer(BilingualSpacyTokenizer.get_default_config())
    message = Message(data={TEXT: "Gibt es Veranstaltungen für Ehrenamtliche?"})
    tokenizer.process([message])
    words = lemma_text(message).split()
    # Inflections gone, umlauts written out.
    assert words[0] == "geben"
    assert {"veranstaltung", "fuer"} <= set(words)
    # Without a tokenizer in the pipeline: the words as written.
    assert lemma_text(Message(data={TEXT: "Gibt es Termine?"})) == "gibt es termine?"


def test_each_message_gets_its_intent_and_a_ranking_that_sums_to_one(tmp_path):
    component = classifier(tmp_path)
    component.train(training_data())
    hello, events, delete = classify(
        component, "hallo zusammen", "events in leipzig?", "bitte loesch meine daten"
    )
    assert hello.get(INTENT)["name"] == "greet"
    assert events.get(INTENT)["name"] == "ask_events"
    # Written without the umlaut, as many phones do.
    assert delete.get(INTENT)["name"] == "delete_my_data"
    for message in (hello, events, delete):
        confidences = [entry["confidence"] for entry in ranking(message)]
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0)
        assert message.get(INTENT) == ranking(message)[0]


def test_the_ranking_is_cut_to_its_configured_length(tmp_path):
    component = classifier(tmp_path, ranking_length=2)
    component.train(training_data())
    (message,) = classify(component, "hi")
    assert len(ranking(message)) == 2


def test_a_saved_classifier_ranks_exactly_as_the_trained_one(tmp_path):
    component = classifier(tmp_path)
    resource = component.train(training_data())
    loaded = LinearIntentClassifier.load(
        component.config,
        LocalModelStorage(tmp_path),
        resource,
        None,  # type: ignore[arg-type]
    )
    texts = ["moin", "webinare im april?", "delete everything about me"]
    before = [ranking(m) for m in classify(component, *texts)]
    after = [ranking(m) for m in classify(loaded, *texts)]
    assert after == before


def saved_and_loaded(tmp_path, spoil=None, finetuning=False):
    """A trained classifier, saved, its files passed to ``spoil``, loaded again."""
    component = classifier(tmp_path)
    resource = component.train(training_data())
    if spoil is not None:
        with LocalModelStorage(tmp_path).write_to(resource) as directory:
            spoil(Path(directory))
    return LinearIntentClassifier.load(
        component.config,
        LocalModelStorage(tmp_path),
        resource,
        SimpleNamespace(is_finetuning=finetuning),  # type: ignore[arg-type]
    )


class Planted:
    """Stands for any object a tampered model file could smuggle in."""

    def __init__(self) -> None:
        self.payload = "anything"


def test_a_model_file_with_python_objects_is_refused(tmp_path, caplog):
    def plant(directory: Path) -> None:
        arrays = directory / intent_model_file.ARRAYS_FILE
        with np.load(arrays) as saved:
            content = {key: saved[key] for key in saved.files}
        content["coef"] = np.array([Planted()], dtype=object)
        np.savez(arrays, **content)

    with caplog.at_level(logging.WARNING):
        loaded = saved_and_loaded(tmp_path, plant)
    assert "train the model again" in caplog.text
    (message,) = classify(loaded, "hallo")
    assert message.get(INTENT) is None


def test_the_temperature_is_fitted_on_held_back_scores():
    config = {**LinearIntentClassifier.get_default_config(), "calibration_folds": 3}
    texts = [folded(t) for texts in EXAMPLES.values() for t in texts]
    labels = np.array([i for i, texts in EXAMPLES.items() for _ in texts])
    temperature = fitted_temperature(config, texts, texts, labels)
    assert 0.01 <= temperature <= 5.0
    assert temperature != pytest.approx(config["default_temperature"])
    # Too few examples of an intent for the folds: the configured default.
    assert (
        fitted_temperature({**config, "calibration_folds": 10}, texts, texts, labels)
        == (config["default_temperature"])
    )


def test_one_intent_alone_leaves_the_classifier_untrained(tmp_path, caplog):
    component = classifier(tmp_path)
    with caplog.at_level(logging.WARNING):
        component.train(
            TrainingData([Message(data={TEXT: "hallo", INTENT: "greet"})] * 3)
        )
    assert "at least two intents" in caplog.text
    (message,) = classify(component, "hallo")
    assert message.get(INTENT) is None


def test_a_model_file_of_another_layout_asks_to_train_again(tmp_path, caplog):
    def older(directory: Path) -> None:
        vocabulary = directory / intent_model_file.VOCABULARY_FILE
        content = json.loads(vocabulary.read_text(encoding="utf-8"))
        vocabulary.write_text(json.dumps({**content, "layout": 1}), encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        loaded = saved_and_loaded(tmp_path, older)
    assert "make train" in caplog.text
    (message,) = classify(loaded, "hallo")
    assert message.get(INTENT) is None


def test_fine_tuning_after_a_small_change_keeps_the_temperature(tmp_path, monkeypatch):
    loaded = saved_and_loaded(tmp_path, finetuning=True)
    before = loaded._temperature
    monkeypatch.setitem(loaded.config, "finetune_keeps_temperature", 0.1)
    calls = []
    import bot.nlu.linear_intent_classifier as module

    fitted = module.fitted_temperature
    monkeypatch.setattr(
        module,
        "fitted_temperature",
        lambda *args: calls.append(1) or fitted(*args),
    )
    more = training_data().training_examples + [
        Message(data={TEXT: "servus beisammen", INTENT: "greet"})
    ]
    loaded.train(TrainingData(more))
    assert not calls and loaded._temperature == before
    (message,) = classify(loaded, "servus beisammen")
    assert message.get(INTENT)["name"] == "greet"
    # A larger change (a fifth more examples) fits the temperature again.
    others = [
        Message(data={TEXT: f"hallo nummer {n}", INTENT: "greet"}) for n in range(4)
    ]
    loaded.train(TrainingData(more + others))
    assert calls == [1]


def test_a_full_training_always_fits_the_temperature(tmp_path, monkeypatch):
    loaded = saved_and_loaded(tmp_path, finetuning=False)
    import bot.nlu.linear_intent_classifier as module

    calls = []
    fitted = module.fitted_temperature
    monkeypatch.setattr(
        module, "fitted_temperature", lambda *args: calls.append(1) or fitted(*args)
    )
    loaded.train(training_data())
    assert calls == [1]
