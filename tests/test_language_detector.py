"""The language detector: clear messages switch, ambiguous ones keep the language."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.language_detector import ENTITY_NAME, LanguageDetectorComponent, words
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> LanguageDetectorComponent:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    config = {
        **LanguageDetectorComponent.get_default_config(),
        "vocabulary_dirs": {
            "en": str(ROOT / "data/nlu/en"),
            "de": str(ROOT / "data/nlu/de"),
        },
        "names_file": str(ROOT / "bot/nlu/known_names.yml"),
        "places_file": str(ROOT / "data/nlu/lookups/places.yml"),
    }
    resource = Resource("language_detector")
    context = ExecutionContext(GraphSchema({}), "test")
    component = LanguageDetectorComponent.create(config, storage, resource, context)
    component.train(TrainingData())
    # Loading from the model storage gives the same vocabulary.
    return LanguageDetectorComponent.load(config, storage, resource, context)


@pytest.mark.parametrize(
    "text",
    [
        "Gibt es demnächst Veranstaltungen in München?",
        "wer ist die ansprechpartnerin bei der iom",
        "hallo zusammen",
        "danke dir",
        "was ist ofr",
        "auf Deutsch bitte",
        "Rueckkehrberatung in meiner naehe",
        "können sie mir die telefonnummer geben",
    ],
)
def test_clear_german(detector: LanguageDetectorComponent, text: str) -> None:
    assert detector.detect(text) == "de"


@pytest.mark.parametrize(
    "text",
    [
        "Are there any events in Munich next month?",
        "who is the contact person at iom",
        "hello there",
        "thanks a lot",
        "what is ofr",
        "English please",
        "what does StarthilfePlus cover",
        "can you give me the phone number",
    ],
)
def test_clear_english(detector: LanguageDetectorComponent, text: str) -> None:
    assert detector.detect(text) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "IOM?",
        "BAMF",
        "GIZ",
        "REAG/GARP",
        "?",
        "",
        "👍",
        "events in München?",
        "hallo",
    ],
)
def test_ambiguous_messages_keep_the_language(
    detector: LanguageDetectorComponent, text: str
) -> None:
    assert detector.detect(text) is None


def test_process_adds_entity_only_when_clear(
    detector: LanguageDetectorComponent,
) -> None:
    clear, unclear = (
        Message({"text": "Wann ist die nächste Veranstaltung?"}),
        Message({"text": "ok"}),
    )
    detector.process([clear, unclear])
    assert [
        e["value"] for e in clear.get("entities") if e["entity"] == ENTITY_NAME
    ] == ["de"]
    assert not unclear.get("entities")
    # Every message gets a language for the tokenizer, even when undecided.
    assert clear.get("language") == "de"
    assert unclear.get("language") in ("en", "de")


def test_training_data_gets_no_language_entities(
    detector: LanguageDetectorComponent,
) -> None:
    data = TrainingData(
        [
            Message(
                {"text": "Wo finde ich Rückkehrberatung?", "intent": "ask_counselling"}
            )
        ]
    )
    detector.process_training_data(data)
    example = data.training_examples[0]
    assert example.get("language") == "de"
    assert not example.get("entities")


def test_words_ignore_digits_and_punctuation() -> None:
    assert words("Events 2027 in Köln?!") == ["events", "in", "köln"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("So what does Option Freiwillige Rückkehr do?", "en"),
        ("what's the role of the Bundesamt für Migration und Flüchtlinge here", "en"),
        ("any events in Nürnberg or Düsseldorf coming up?", "en"),
        ("is Perspektive Heimat still running?", "en"),
        ("Was genau macht die International Organization for Migration?", "de"),
        ("Ist Returning from Germany auch auf Deutsch?", "de"),
        ("Gibt es Termine in Munich oder Cologne?", "de"),
    ],
)
def test_names_are_no_evidence(detector, text, language):
    # The words around the names decide; the names never pull the other way.
    assert detector.detect(text) in (language, None)
    assert detector.detect(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "Perspektive Heimat?",
        "Option Freiwillige Rückkehr",
        "Bundesamt für Migration und Flüchtlinge?",
        "Returning from Germany",
        "Nürnberg?",
        "StarthilfePlus bitte",
        "Danke",
        "Hello",
        "Veranstaltungen?",
        "events?",
    ],
)
def test_names_alone_or_one_word_never_switch(detector, text):
    assert detector.detect(text) is None
