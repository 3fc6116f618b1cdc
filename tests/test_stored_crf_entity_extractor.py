"""The CRF entity extractor saved as trained: a loaded model finds exactly what the
trained one finds, without fitting the CRF again."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.stored_crf_entity_extractor import StoredCRFEntityExtractor

FEATURIZER = RegexFeaturizer(
    {**RegexFeaturizer.get_default_config(), "use_word_boundaries": True},
    None,  # type: ignore[arg-type]
    Resource("regex"),
    SimpleNamespace(node_name="regex", is_finetuning=False),  # type: ignore[arg-type]
    known_patterns=[{"name": "city", "pattern": "köln|hamburg|bremen"}],
)
CITIES = ["Köln", "Hamburg", "Leipzig", "München", "Berlin", "Bremen"]


def annotated(template: str, city: str) -> Message:
    start = template.index("{}")
    text = template.format(city)
    entity = {"start": start, "end": start + len(city), "value": city, "entity": "city"}
    return Message(data={TEXT: text, "intent": "ask_events", ENTITIES: [entity]})


def data() -> TrainingData:
    templates = ["events in {}", "gibt es termine in {}", "anything in {} soon"]
    messages = [annotated(t, c) for t in templates for c in CITIES]
    messages += [Message(data={TEXT: "hello there", "intent": "greet"})]
    return TrainingData(messages)


def tokenized(messages):
    """Tokens and features, which Rasa's CRF needs before it trains or extracts."""
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    tokenizer.process(messages)
    FEATURIZER.process(messages)
    return messages


def config():
    return {**CRFEntityExtractor.get_default_config()}


def entities(extractor, *texts):
    messages = tokenized([Message(data={TEXT: text}) for text in texts])
    extractor.process(messages)
    return [
        [(e["entity"], e["value"], e.get("confidence_entity")) for e in m.get(ENTITIES)]
        for m in messages
    ]


def test_a_loaded_extractor_finds_what_the_trained_one_finds(tmp_path, monkeypatch):
    training = data()
    tokenized(training.training_examples)
    trained = StoredCRFEntityExtractor(
        config(), LocalModelStorage(tmp_path), Resource("crf")
    )
    resource = trained.train(training)

    def no_training(*args, **kwargs):
        raise AssertionError("the CRF was fitted again at load")

    monkeypatch.setattr(StoredCRFEntityExtractor, "train_model", no_training)
    loaded = StoredCRFEntityExtractor.load(
        config(),
        LocalModelStorage(tmp_path),
        resource,
        SimpleNamespace(is_finetuning=False),  # type: ignore[arg-type]
    )
    # CRFsuite reads a model in memory where it lies: fill freed memory with
    # other bytes, which a model kept alive too briefly would then read.
    gc.collect()
    _others = [bytes([n % 256]) * 4096 for n in range(2000)]
    texts = ["events in Bremen", "termine in köln?", "nothing here", "in Hamburg"]
    found = entities(loaded, *texts)
    assert found == entities(trained, *texts)
    assert ("city", "Bremen") == found[0][0][:2]
    assert loaded.crf_order == trained.crf_order


def test_a_model_without_entity_examples_loads_an_extractor_that_finds_none(tmp_path):
    training = TrainingData([Message(data={TEXT: "hello", "intent": "greet"})])
    tokenized(training.training_examples)
    trained = StoredCRFEntityExtractor(
        config(), LocalModelStorage(tmp_path), Resource("crf")
    )
    resource = trained.train(training)
    loaded = StoredCRFEntityExtractor.load(
        config(),
        LocalModelStorage(tmp_path),
        resource,
        SimpleNamespace(is_finetuning=False),  # type: ignore[arg-type]
    )
    assert entities(loaded, "events in Bremen") == [[]]


@pytest.mark.parametrize("name", ["crf_order.json"])
def test_the_saved_form_holds_no_training_data(tmp_path, name):
    training = data()
    tokenized(training.training_examples)
    extractor = StoredCRFEntityExtractor(
        config(), LocalModelStorage(tmp_path), Resource("crf")
    )
    resource = extractor.train(training)
    with LocalModelStorage(tmp_path).read_from(resource) as directory:
        files = sorted(p.name for p in directory.iterdir())
    assert name in files and "crf_dataset.json" not in files
    assert any(f.endswith(".crfsuite") for f in files)
