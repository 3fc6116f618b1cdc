"""The bilingual spaCy tokenizer: language-aware tokens and lookup lemmas."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message
from spacy.lookups import load_lookups
from spacy.util import load_language_data, registry

from bot.nlu.lemma_table import LemmaTable, LemmaTableMissing
from bot.nlu.spacy_pipelines import blank_pipeline, lemma_table
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
    assert nlp.pipe_names == []
    assert blank_pipeline("de") is nlp
    assert lemma_table("de") is lemma_table("de")


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_lemma_table_agrees_with_spacys_lemmatizer(language: str) -> None:
    """Every form spaCy's lookup lemmatizer knows gets the same lemma, and forms it
    does not know get none (the compact table replaced it to save memory)."""
    spacys = load_lookups(language, ["lemma_lookup"]).get_table("lemma_lookup")
    ours = lemma_table(language)
    forms = load_language_data(registry.lookups.get(language)["lemma_lookup"])
    assert len(ours) == len(spacys) == len(forms) > 40_000
    for form in forms:
        assert ours.get(form) == spacys[form], form
    for unknown in ("zorblax", "Quintettumbrella", "", "ofr", "IOM-Beratung"):
        assert (ours.get(unknown) is None) == (unknown not in spacys)


def test_a_missing_lemma_table_is_one_sentence() -> None:
    with pytest.raises(LemmaTableMissing, match="pip install spacy-lookups-data"):
        LemmaTable.of_language("tlh")
