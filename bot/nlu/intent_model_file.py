"""The intent classifier's saved form: JSON for the vocabularies, NumPy arrays for the
numbers.

Nothing in it can run code when loaded (NumPy reads it with ``allow_pickle=False``),
and it loads in a fraction of a second. skops, used before, took about 8 s to import
and 2 s to read the same model, at every start of the bot, every publication and
every check of a new model in the staff console.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

VOCABULARY_FILE = "linear_intent_classifier.json"
ARRAYS_FILE = "linear_intent_classifier.npz"
LAYOUT = 2  # raised whenever the files' content changes meaning


class ModelFileError(ValueError):
    """The saved classifier is missing or not of this layout."""


def save(directory: Path, model: Any, temperature: float, examples: int) -> None:
    """Write ``model`` (bot.nlu.linear_intent_classifier.Model) into ``directory``."""
    (directory / VOCABULARY_FILE).write_text(
        json.dumps(
            {
                "layout": LAYOUT,
                "temperature": temperature,
                "examples": examples,
                "intents": [str(name) for name in model.classifier.classes_],
                "characters": model.characters.vocabulary_,
                "lemmas": model.lemmas.vocabulary_,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    np.savez(
        directory / ARRAYS_FILE,
        characters_idf=model.characters.idf_,
        lemmas_idf=model.lemmas.idf_,
        coef=model.classifier.coef_,
        intercept=model.classifier.intercept_,
    )


def load(
    directory: Path,
    vectorizer: Callable[[str, Dict[str, int]], TfidfVectorizer],
    classifier: Callable[[], LinearSVC],
) -> Tuple[TfidfVectorizer, TfidfVectorizer, LinearSVC, float, int]:
    """The vectorizers, the classifier, the temperature and how many examples the
    temperature was fitted on. ``vectorizer(kind, vocabulary)`` and ``classifier()``
    build unfitted parts as the configuration describes them."""
    try:
        saved = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
            numbers = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError) as error:
        raise ModelFileError(f"no readable classifier ({error})") from error
    if not isinstance(saved, dict) or saved.get("layout") != LAYOUT:
        raise ModelFileError("a classifier saved in another layout")
    try:
        characters = vectorizer("characters", saved["characters"])
        characters.idf_ = numbers["characters_idf"]
        lemmas = vectorizer("lemmas", saved["lemmas"])
        lemmas.idf_ = numbers["lemmas_idf"]
        svm = classifier()
        svm.coef_ = numbers["coef"]
        svm.intercept_ = numbers["intercept"]
        svm.classes_ = np.array(saved["intents"])
        svm.n_features_in_ = svm.coef_.shape[1]
        if svm.coef_.shape != (
            len(svm.classes_),
            len(characters.vocabulary_) + len(lemmas.vocabulary_),
        ) and not (len(svm.classes_) == 2 and svm.coef_.shape[0] == 1):
            raise ModelFileError("the classifier's arrays do not fit its vocabulary")
        return (
            characters,
            lemmas,
            svm,
            float(saved["temperature"]),
            int(saved.get("examples", 0)),
        )
    except (KeyError, TypeError) as error:
        raise ModelFileError(f"an incomplete classifier ({error})") from error
