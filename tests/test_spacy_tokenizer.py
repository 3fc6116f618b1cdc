"""The bilingual spaCy tokenizer: language-aware tokens and lookup lemmas."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.spacy_pipelines import blank_pipeline
from bot.nlu.spacy_tokenizer import BilingualSpacyTokenizer


def tokenizer() -> BilingualSpacyTokenizer:
    return BilingualSpacyTokenizer(BilingualSpacyTokenizer.get_default_config())


def test_german_lemmas_from_lower_case_input() -> None:
    message = Message({"text": "gibt es veranstaltungen in münchen?", "language": "de"})
    tokens = tokenizer().tokenize(message, "text")
    assert [t.text for t in tokens] == [
        "gibt",
        "es",
        "veranstaltungen",
        "in",
        "münchen",
    ]
    assert tokens[2].lemma == "veranstaltung"


def test_english_lemmas() -> None:
    message = Message({"text": "Are there meetings for counsellors?", "language": "en"})
    lemmas = [t.lemma for t in tokenizer().tokenize(message, "text")]
    assert "meeting" in lemmas and "counsellor" in lemmas


def test_token_offsets_match_the_text() -> None:
    text = "Veranstaltung in Neu-Ulm, 28.6.?"
    tokens = tokenizer().tokenize(Message({"text": text, "language": "de"}), "text")
    for token in tokens:
        assert text[token.start : token.end] == token.text
    # German rules keep hyphenated place names together, as entities need.
    assert "Neu-Ulm" in [t.text for t in tokens]


def test_falls_back_to_default_language() -> None:
    tokens = tokenizer().tokenize(Message({"text": "Hallo zusammen"}), "text")
    assert tokens[0].data["language"] == "de"


def test_pipelines_are_blank_and_shared() -> None:
    nlp = blank_pipeline("de")
    assert nlp.pipe_names == ["lemmatizer"]
    assert blank_pipeline("de") is nlp
