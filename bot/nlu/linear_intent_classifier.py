"""Intent classifier: a linear support vector machine on TF-IDF character and lemma n-grams.

On this project's held-out questions (tests/nlu, tests/event_questions: typos,
informal and long messages written by people who never saw the training data) it is
right more often than DIET was (0.96 against 0.93 per language, bench/classifiers.py)
and it trains in seconds instead of minutes: character n-grams within words carry
misspellings, missing umlauts and German compounds; n-grams of the tokenizer's lemmas
carry the phrasing without the inflections ("Veranstaltungen" counts as
"Veranstaltung"), which cross-validation on the training data preferred to plain words.

The classifier reads the message as ``QuestionFocus`` left it (a long message's asking
sentences) and the tokenizer's lemmas of it, with features of its own, so it needs no
Rasa featurizer. Its scores become confidences through a softmax whose temperature
is fitted at training time on cross-validated scores of the training data (lowest
log loss), so that the ``FallbackClassifier``'s threshold means what it says without
tuning on the test sets. Fine-tuning (``rasa train --finetune``, as the staff console
trains) keeps that temperature after a small change and so trains in a few seconds.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix, hstack
from scipy.special import log_softmax, softmax
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from bot.nlu import intent_model_file
from bot.nlu.components import BuiltByRasa

logger = logging.getLogger(__name__)

# People type "loeschen", "muenchen", "strasse": one spelling for both.
_FOLDED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def folded(text: str) -> str:
    """Lower case with umlauts and ß written out, as many phones and keyboards do."""
    return (text or "").lower().translate(_FOLDED)


def _side_by_side(characters: csr_matrix, lemmas: csr_matrix) -> csr_matrix:
    """One row of features per text: its character columns, then its lemma columns."""
    return hstack([characters, lemmas]).tocsr()


@dataclass
class Model:
    """The fitted features and classifier."""

    characters: TfidfVectorizer
    lemmas: TfidfVectorizer
    classifier: LinearSVC

    @property
    def intents(self) -> np.ndarray:
        return self.classifier.classes_

    def features(self, texts: Sequence[str], lemmas: Sequence[str]) -> csr_matrix:
        return _side_by_side(
            _tf_idf(self.characters, self._idf["characters"], texts),
            _tf_idf(self.lemmas, self._idf["lemmas"], lemmas),
        )

    def scores(self, texts: Sequence[str], lemmas: Sequence[str]) -> np.ndarray:
        """One row of decision scores per text, a column per intent."""
        features = self.features(texts, lemmas)
        coef = self.classifier.coef_
        if coef.shape[0] == 1:  # two intents: one column, as sklearn returns it
            return np.atleast_2d(self.classifier.decision_function(features))
        return np.asarray(features @ coef.T) + self.classifier.intercept_

    @cached_property
    def _idf(self) -> Dict[str, np.ndarray]:
        """The fitted idf weights, read once: sklearn 1.1 sums its idf diagonal
        (50,000 columns) on every ``transform`` to check that it is fitted."""
        return {"characters": self.characters.idf_, "lemmas": self.lemmas.idf_}


def _tf_idf(
    vectorizer: TfidfVectorizer, idf: np.ndarray, documents: Sequence[str]
) -> csr_matrix:
    """``vectorizer.transform(documents)`` for a fitted, sublinear, l2-normed
    vectorizer, in 0.4 of its time per message (bench in the commit that added it):
    the counts from its vocabulary, then the weights applied in place."""
    if not vectorizer.sublinear_tf or not vectorizer.use_idf:
        return vectorizer.transform(documents)
    counts = CountVectorizer.transform(vectorizer, documents).astype(np.float64)
    np.log(counts.data, counts.data)
    counts.data += 1
    counts.data *= idf[counts.indices]
    return normalize(counts, norm=vectorizer.norm, copy=False)


def vectorizer(
    config: Dict[str, Any], kind: str, vocabulary: Optional[Dict[str, int]] = None
) -> TfidfVectorizer:
    """The character ("characters") or lemma ("lemmas") features as ``config``
    describes them; with ``vocabulary``, those of a saved model."""
    if kind == "characters":
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=tuple(config["char_ngrams"]),
            sublinear_tf=True,
            lowercase=False,
            vocabulary=vocabulary,
        )
    return TfidfVectorizer(
        analyzer="word",
        ngram_range=tuple(config["lemma_ngrams"]),
        sublinear_tf=True,
        lowercase=False,
        token_pattern=r"(?u)\b\w+\b",
        vocabulary=vocabulary,
    )


def support_vector_machine(config: Dict[str, Any]) -> LinearSVC:
    return LinearSVC(C=float(config["C"]), random_state=config["random_seed"])


def fit(
    config: Dict[str, Any],
    texts: Sequence[str],
    lemmas: Sequence[str],
    labels: np.ndarray,
) -> Model:
    """Features and classifier as ``config`` describes them, fitted to the examples."""
    model = Model(
        characters=vectorizer(config, "characters"),
        lemmas=vectorizer(config, "lemmas"),
        classifier=support_vector_machine(config),
    )
    features = _side_by_side(
        model.characters.fit_transform(texts), model.lemmas.fit_transform(lemmas)
    )
    model.classifier.fit(features, labels)
    return model


def fitted_temperature(
    config: Dict[str, Any],
    texts: Sequence[str],
    lemmas: Sequence[str],
    labels: np.ndarray,
) -> float:
    """The softmax temperature that best turns held-back scores into probabilities."""
    folds = int(config["calibration_folds"])
    smallest_class = int(np.unique(labels, return_counts=True)[1].min())
    if folds < 2 or smallest_class < folds:
        return float(config["default_temperature"])
    intents = np.unique(labels)
    scores = np.zeros((len(labels), len(intents)))
    # The features are fitted once on all texts: only which n-grams exist and
    # their weights leak into the held-back folds, not their intents, and the
    # folds then cost one SVM fit each instead of also two TF-IDF fits.
    features = _side_by_side(
        vectorizer(config, "characters").fit_transform(texts),
        vectorizer(config, "lemmas").fit_transform(lemmas),
    )
    splits = StratifiedKFold(folds, shuffle=True, random_state=config["random_seed"])
    for train, held_back in splits.split(np.zeros(len(labels)), labels):
        svm = support_vector_machine(config).fit(features[train], labels[train])
        columns = np.searchsorted(intents, svm.classes_)
        scores[np.ix_(held_back, columns)] = np.atleast_2d(
            svm.decision_function(features[held_back])
        )
    truth = np.searchsorted(intents, labels)
    rows = np.arange(len(labels))

    def log_loss(temperature: float) -> float:
        return -float(np.mean(log_softmax(scores / temperature, axis=1)[rows, truth]))

    best = minimize_scalar(log_loss, bounds=(0.01, 5.0), method="bounded")
    return float(best.x)


def lemma_text(message: Message) -> str:
    """The message's words as the tokenizer's lemmas (its words without a tokenizer)."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    if not tokens:
        return folded(message.get(TEXT) or "")
    return " ".join(folded(token.lemma or token.text) for token in tokens)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LinearIntentClassifier(BuiltByRasa, IntentClassifier, GraphComponent):
    """Ranks the intents of a message by a linear model on its own n-gram features."""

    keeps_what_it_learns = True

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            # Character n-grams inside word boundaries, and lemma n-grams.
            "char_ngrams": [1, 5],
            "lemma_ngrams": [1, 2],
            # The SVM's regularisation (larger: fits the training data more closely).
            "C": 1.0,
            # Folds for fitting the softmax temperature; 0 uses default_temperature.
            "calibration_folds": 5,
            "default_temperature": 0.17,
            # Fine-tuning keeps the fitted temperature while the number of
            # examples changed by at most this share (a full training refits it).
            "finetune_keeps_temperature": 0.02,
            "ranking_length": 10,
            "random_seed": 42,
        }

    @staticmethod
    def required_packages() -> List[str]:
        return ["sklearn"]

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Model] = None,
        temperature: Optional[float] = None,
        calibrated_on: int = 0,
        finetuning: bool = False,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._temperature = float(
            temperature
            if temperature is not None
            else self.config["default_temperature"]
        )
        # How many examples the temperature was fitted on, and whether Rasa
        # fine-tunes this model (``rasa train --finetune``, the staff console).
        self._calibrated_on = calibrated_on
        self._finetuning = finetuning

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Retrain when this module or its saved form changes: Rasa's cache sees
        only the class."""
        digest = hashlib.sha256(Path(__file__).read_bytes())
        digest.update(Path(intent_model_file.__file__).read_bytes())
        return digest.hexdigest()

    @staticmethod
    def _examples(
        training_data: TrainingData,
    ) -> Tuple[List[str], List[str], np.ndarray]:
        examples = [
            m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)
        ]
        return (
            [folded(m.get(TEXT)) for m in examples],
            [lemma_text(m) for m in examples],
            np.array([m.get(INTENT) for m in examples]),
        )

    def train(self, training_data: TrainingData) -> Resource:
        texts, lemmas, labels = self._examples(training_data)
        if len(np.unique(labels)) < 2:
            logger.warning(
                "LinearIntentClassifier needs examples of at least two intents; "
                "it was not trained."
            )
            return self._resource
        if self._keeps_temperature(len(labels)):
            logger.debug("Fine-tuning: the temperature %.3f stays", self._temperature)
        else:
            self._temperature = fitted_temperature(self.config, texts, lemmas, labels)
            self._calibrated_on = len(labels)
        self._model = fit(self.config, texts, lemmas, labels)
        logger.debug("Intent classifier trained, temperature %.3f", self._temperature)
        self.persist()
        return self._resource

    def _keeps_temperature(self, examples: int) -> bool:
        """When fine-tuning after a small change (a few examples added, changed or
        removed) the temperature fitted before still holds: fitting it again is
        most of the training time (five cross-validation fits)."""
        if not self._finetuning or self._model is None or not self._calibrated_on:
            return False
        change = abs(examples - self._calibrated_on) / self._calibrated_on
        return change <= float(self.config["finetune_keeps_temperature"])

    def ranking(self, messages: Sequence[Message]) -> List[List[Dict[str, Any]]]:
        """Every intent with its confidence, most likely first, for each message."""
        assert self._model is not None
        scores = self._model.scores(
            [folded(m.get(TEXT) or "") for m in messages],
            [lemma_text(m) for m in messages],
        )
        probabilities = softmax(scores / self._temperature, axis=1)
        names = self._model.intents
        rankings = []
        for row in probabilities:
            order = np.argsort(-row)
            rankings.append(
                [{"name": str(names[i]), "confidence": float(row[i])} for i in order]
            )
        return rankings

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None or not messages:
            return messages
        length = int(self.config["ranking_length"])
        for message, ranking in zip(messages, self.ranking(messages), strict=True):
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(
                INTENT_RANKING_KEY,
                ranking[:length] if length > 0 else ranking,
                add_to_output=True,
            )
        return messages

    def persist(self) -> None:
        assert self._model is not None
        with self._model_storage.write_to(self._resource) as directory:
            intent_model_file.save(
                Path(directory), self._model, self._temperature, self._calibrated_on
            )

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        config = {**cls.get_default_config(), **config}
        finetuning = bool(getattr(execution_context, "is_finetuning", False))
        try:
            with model_storage.read_from(resource) as directory:
                characters, lemmas, svm, temperature, examples = intent_model_file.load(
                    Path(directory),
                    lambda kind, vocabulary: vectorizer(config, kind, vocabulary),
                    lambda: support_vector_machine(config),
                )
        except (ValueError, FileNotFoundError) as error:
            logger.warning(
                "Intent classifier not loaded (%s): train the model again with "
                "make train.",
                error,
            )
            return cls(config, model_storage, resource, finetuning=finetuning)
        return cls(
            config,
            model_storage,
            resource,
            Model(characters, lemmas, svm),
            temperature,
            examples,
            finetuning,
        )
