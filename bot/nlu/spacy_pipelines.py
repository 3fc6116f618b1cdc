"""Blank spaCy pipelines with lookup lemmatizers, built in code.

No pretrained pipeline can be downloaded where the bot runs, so each language gets
spaCy's rule-based tokenizer plus the lemma table shipped in ``spacy-lookups-data``.
Both are deterministic and a few MB in size.
"""

from __future__ import annotations

from functools import cache

import spacy
from spacy.language import Language

SUPPORTED_LANGUAGES = ("en", "de")


@cache
def blank_pipeline(language: str) -> Language:
    """Return the shared pipeline for ``language`` (built once per process)."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(
            f"Language '{language}' is not supported; use one of "
            f"{', '.join(SUPPORTED_LANGUAGES)}."
        )
    nlp = spacy.blank(language)
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    try:
        nlp.initialize()
    except ValueError as error:  # the lookup tables are missing
        raise RuntimeError(
            "spaCy's lemma tables are missing; install them with "
            "`pip install spacy-lookups-data` (make install does this)."
        ) from error
    return nlp
