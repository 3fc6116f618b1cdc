"""spaCy's lookup lemmas for one language, held compactly.

spaCy's lookup lemmatizer keeps its table as a Python dict of 64-bit string hashes
(plus a Bloom filter), and the German table has 355,000 forms: loading both
languages' lemmatizers cost the Rasa server about 200 MB, a fifth of everything
`make run` held at rest. This table answers the same questions from the same data
(spacy-lookups-data, keyed by spaCy's own string hash, so it agrees with spaCy's
table on every form) with two sorted arrays and the list of distinct lemmas: about
25 MB for both languages (docs/performance.md, "Memory at rest").
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from itertools import accumulate
from typing import Dict, Optional

import numpy as np
from spacy.strings import get_string_id
from spacy.util import load_language_data, registry


class LemmaTableMissing(RuntimeError):
    """spacy-lookups-data has no lemma table for the language."""


class LemmaTable:
    """Form → lemma, read-only; ``get`` returns None for a form it does not list."""

    def __init__(self, forms: Dict[str, str]) -> None:
        lemmas = sorted(set(forms.values()))
        number = {lemma: index for index, lemma in enumerate(lemmas)}
        keys = np.fromiter(
            (get_string_id(form) for form in forms), dtype=np.uint64, count=len(forms)
        )
        values = np.fromiter(
            (number[lemma] for lemma in forms.values()),
            dtype=np.int32,
            count=len(forms),
        )
        order = np.argsort(keys, kind="stable")
        # Plain arrays: indexing one gives a Python int, without numpy's overhead.
        self._keys = array("Q", keys[order].tobytes())
        self._values = array("i", values[order].tobytes())
        # The lemmas as one string and their offsets, not a list of 100,000 small
        # strings: those would pin the memory the parsed file leaves behind.
        self._text = "".join(lemmas)
        self._starts = array("q", [0])
        self._starts.extend(accumulate(len(lemma) for lemma in lemmas))

    @classmethod
    def of_language(cls, language: str) -> LemmaTable:
        """The ``lemma_lookup`` table spaCy's lookup lemmatizer would load."""
        try:
            path = registry.lookups.get(language)["lemma_lookup"]
        except (KeyError, ValueError) as error:  # catalogue's RegistryError is one
            raise LemmaTableMissing(
                f"spaCy's lemma table for '{language}' is missing; install it with "
                "`pip install spacy-lookups-data` (make install does this)."
            ) from error
        forms = load_language_data(path)
        if not isinstance(forms, dict):
            raise LemmaTableMissing(
                f"spaCy's lemma table for '{language}' at {path} is not a table of "
                "forms; reinstall spacy-lookups-data (make install)."
            )
        return cls(forms)

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, form: str) -> Optional[str]:
        key = get_string_id(form)
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            index = self._values[at]
            return self._text[self._starts[index] : self._starts[index + 1]]
        return None
