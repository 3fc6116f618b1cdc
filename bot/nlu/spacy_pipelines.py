"""Blank spaCy pipelines and their lemma tables, built in code.

No pretrained pipeline can be downloaded where the bot runs, so each language gets
spaCy's rule-based tokenizer plus the lemma table shipped in ``spacy-lookups-data``
(held as ``LemmaTable``, not as spaCy's lemmatizer: the same lemmas in an eighth of
the memory). Both are deterministic.
"""

from __future__ import annotations

from functools import cache

import spacy
from spacy.language import Language

from bot.nlu.lemma_table import LemmaTable, LemmaTableMissing

SUPPORTED_LANGUAGES = ("en", "de")


@cache
def blank_pipeline(language: str) -> Language:
    """Return the shared pipeline for ``language`` (built once per process)."""
    return spacy.blank(_supported(language))


@cache
def lemma_table(language: str) -> LemmaTable:
    """Return the shared lemma table for ``language`` (read once per process)."""
    try:
        return LemmaTable.of_language(_supported(language))
    except LemmaTableMissing as error:
        raise RuntimeError(str(error)) from error


def _supported(language: str) -> str:
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(
            f"Language '{language}' is not supported; use one of "
            f"{', '.join(SUPPORTED_LANGUAGES)}."
        )
    return language
