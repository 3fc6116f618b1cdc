"""NLU component that tells English from German, even in short messages.

lingua alone is unreliable on two-word messages ("hallo" scores as English) and
flips on names shared by both languages ("StarthilfePlus", "München"). The
component therefore learns how often each word occurs in the English and in the
German training files (a naive-Bayes log ratio per word) and adds lingua's
confidence for the words it has never seen. When the
evidence is weak ("ok", "IOM?") it reports nothing, so the conversation keeps its
language (the ``language`` slot only changes when a ``detected_language`` entity
is present).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml
from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import BuiltByRasa
from ofr.dialogue.state import FIRST_MESSAGE_KEY

logger = logging.getLogger(__name__)

ENTITY_NAME = "detected_language"
# The message attribute the tokenizer reads to pick its spaCy pipeline.
LANGUAGE_ATTRIBUTE = "language"
VOCABULARY_FILE = "vocabulary.json"
NAMES_FILE = "names.json"

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
# Rasa's inline entity markup: [text](entity) or [text]{"entity": ...}.
_ENTITY_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")

_LINGUA_CODES = {Language.ENGLISH: "en", Language.GERMAN: "de"}


def _opens_conversation(message: Message) -> bool:
    """The first message of a conversation whose channel gave no language."""
    metadata = message.get("metadata")
    return (
        isinstance(metadata, dict)
        and bool(metadata.get(FIRST_MESSAGE_KEY))
        and not metadata.get("language")
    )


@lru_cache(maxsize=1)
def lingua() -> LanguageDetector:
    """Load lingua's English and German models once per process."""
    return (
        LanguageDetectorBuilder.from_languages(*_LINGUA_CODES)
        .with_preloaded_language_models()
        .build()
    )


def words(text: str) -> List[str]:
    """Lower-cased words of ``text``; digits and punctuation are no evidence."""
    return [match.group(0).lower() for match in _WORD.finditer(text)]


def read_examples(directory: Path) -> Iterable[str]:
    """Yield the plain text of every NLU example in the YAML files of a folder."""
    for path in sorted(directory.glob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in content.get("nlu") or []:
            examples = block.get("examples") if isinstance(block, dict) else None
            if not isinstance(examples, str):
                continue
            for line in examples.splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield _ENTITY_MARKUP.sub(r"\1", line[2:])


def read_names(names_file: Path, places_file: Path) -> List[str]:
    """The names of ``names_file`` and every place spelling of the lookup file."""
    names: List[str] = []
    if names_file.is_file():
        content = yaml.safe_load(names_file.read_text(encoding="utf-8")) or {}
        names += [str(name) for name in content.get("names") or []]
    if places_file.is_file():
        content = yaml.safe_load(places_file.read_text(encoding="utf-8")) or {}
        for block in content.get("nlu") or []:
            if isinstance(block, dict) and block.get("lookup") in ("city", "state"):
                names += [
                    line.strip()[2:].strip()
                    for line in str(block.get("examples", "")).splitlines()
                    if line.strip().startswith("- ")
                ]
    # Two-letter abbreviations ("SH", "BW") are words too ("so", "in"): keep them.
    return [name for name in names if len(name) > 2]


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER,
        DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR,
    ],
    is_trainable=True,
)
class LanguageDetectorComponent(BuiltByRasa, GraphComponent):
    """Detects English or German per message and emits a ``detected_language`` entity."""

    keeps_what_it_learns = True

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            # Folders whose examples define each language's vocabulary.
            "vocabulary_dirs": {"en": "data/nlu/en", "de": "data/nlu/de"},
            # Weight of the training-data evidence relative to lingua's.
            "vocabulary_weight": 1.0,
            # |score| needed before the conversation's language is changed.
            "threshold": 1.5,
            # Cap per known word: one word ("events", "hallo") never switches alone.
            "max_word_evidence": 1.2,
            # One-word messages ("events?", "hello") need stronger evidence.
            "single_word_threshold": 2.0,
            # The first message of a conversation without a channel's hint: no
            # earlier evidence to weigh, so a lean is enough ("thanks!", "hi there").
            "first_message_threshold": 0.5,
            # Language used for tokenization when the evidence is undecided.
            "default_language": "de",
            # Names that are no evidence for a language (programmes, organisations)
            # and the lookup file whose places are left out as well.
            "names_file": "bot/nlu/known_names.yml",
            "places_file": "data/nlu/lookups/places.yml",
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: Optional[Dict[str, Dict[str, int]]] = None,
        names: Optional[List[str]] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._set_vocabulary(vocabulary or {})
        self._set_names(names or [])

    def _set_names(self, names: List[str]) -> None:
        self._names = names
        self._names_pattern: Optional[re.Pattern[str]] = None
        if names:
            alternatives = "|".join(
                re.escape(name).replace(r"\ ", r"[\s-]+")
                for name in sorted(set(names), key=len, reverse=True)
            )
            self._names_pattern = re.compile(
                rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE
            )

    def without_names(self, text: str) -> str:
        """The text without the names that say nothing about its language."""
        if self._names_pattern is None:
            return text
        return self._names_pattern.sub(" ", text)

    def _set_vocabulary(self, vocabulary: Dict[str, Dict[str, int]]) -> None:
        en, de = vocabulary.get("en") or {}, vocabulary.get("de") or {}
        if not isinstance(en, dict) or not isinstance(de, dict):
            en, de = {}, {}
        total_en, total_de = max(sum(en.values()), 1), max(sum(de.values()), 1)
        # Per word: the log of how much likelier it is in German than in English data.
        self._evidence: Dict[str, float] = {}
        for word in set(en) | set(de):
            rate_de = (de.get(word, 0) + 0.5) / total_de
            rate_en = (en.get(word, 0) + 0.5) / total_en
            cap = self._config["max_word_evidence"]
            self._evidence[word] = max(-cap, min(cap, math.log(rate_de / rate_en)))

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Retrain when the names or places change: Rasa does not see these files."""
        digest = hashlib.sha256()
        for key in ("names_file", "places_file"):
            path = Path(config.get(key) or "")
            if path.is_file():
                digest.update(path.read_bytes())
        return digest.hexdigest()

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageDetectorComponent:
        try:
            with model_storage.read_from(resource) as directory:
                path = Path(directory) / VOCABULARY_FILE
                vocabulary = json.loads(path.read_text(encoding="utf-8"))
                names_path = Path(directory) / NAMES_FILE
                names = (
                    json.loads(names_path.read_text(encoding="utf-8"))
                    if names_path.exists()
                    else None
                )
        except (ValueError, OSError):
            logger.warning("No language vocabulary in the model; using lingua alone.")
            vocabulary, names = None, None
        return cls(config, model_storage, resource, vocabulary, names)

    def train(self, training_data: TrainingData) -> Resource:
        """Count in how many English and German training examples each word occurs."""
        counts: Dict[str, Counter] = {}
        for language, folder in self._config["vocabulary_dirs"].items():
            directory = Path(folder)
            if not directory.is_dir():
                logger.warning(
                    "Language vocabulary folder %s not found; language detection "
                    "uses lingua alone.",
                    directory,
                )
                continue
            counter: Counter = Counter()
            for example in read_examples(directory):
                counter.update(set(words(example)))
            counts[language] = counter
        names = read_names(
            Path(self._config["names_file"]), Path(self._config["places_file"])
        )
        self._set_names(names)
        counts = {
            language: Counter(
                {
                    word: count
                    for word, count in counter.items()
                    if self.without_names(word).strip()
                }
            )
            for language, counter in counts.items()
        }
        vocabulary = {language: dict(counter) for language, counter in counts.items()}
        with self._model_storage.write_to(self._resource) as directory:
            path = Path(directory) / VOCABULARY_FILE
            path.write_text(json.dumps(vocabulary, ensure_ascii=False), "utf-8")
            (Path(directory) / NAMES_FILE).write_text(
                json.dumps(names, ensure_ascii=False), "utf-8"
            )
        self._set_vocabulary(vocabulary)
        return self._resource

    def score(self, text: str) -> float:
        """Evidence for German (positive) or English (negative)."""
        tokens = words(self.without_names(text))
        # Words about as common in both languages' data ("ofr", "iom", "ok") say nothing.
        vocab_score = self._config["vocabulary_weight"] * sum(
            self._evidence[t]
            for t in tokens
            if t in self._evidence and abs(self._evidence[t]) >= 0.7
        )
        unknown = [t for t in tokens if t not in self._evidence]
        if not unknown:
            return vocab_score
        evidence_text = " ".join(unknown)
        p_de = lingua().compute_language_confidence(evidence_text, Language.GERMAN)
        p_de = min(max(p_de, 0.02), 0.98)
        # lingua's confidence grows trustworthy with the length of the evidence.
        reliability = min(1.0, len(evidence_text) / 20)
        return vocab_score + reliability * math.log(p_de / (1 - p_de))

    def detect(self, text: str) -> Optional[str]:
        """'en' or 'de' when the text is clearly in one language, else None."""
        return self._decide(self.score(text), text)

    def _decide(self, value: float, text: str, first: bool = False) -> Optional[str]:
        """``first``: the conversation's first message, with no channel hint. There
        is no earlier evidence to weigh, so the message's own decides ("thanks!")."""
        needed = self._config["threshold"]
        count = len(words(self.without_names(text)))
        if count == 0 or (count == 1 and len(words(text)) > 1 and not first):
            return None  # only names, or one word beside names: no evidence
        if first:
            needed = self._config["first_message_threshold"]
        elif count == 1:
            needed = max(needed, self._config["single_word_threshold"])
        if value >= needed:
            return "de"
        if value <= -needed:
            return "en"
        return None

    def _lean(self, value: float) -> str:
        """The likelier language, for tokenization even when undecided."""
        if value > 0:
            return "de"
        if value < 0:
            return "en"
        return self._config["default_language"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Tag each example with a language for the tokenizer; add no entities."""
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if text:
                example.set(LANGUAGE_ATTRIBUTE, self._lean(self.score(text)))
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Tag each message with a language and, when clear, a language entity."""
        for message in messages:
            text = message.get(TEXT) or ""
            value = self.score(text)
            language = self._decide(value, text, _opens_conversation(message))
            message.set(LANGUAGE_ATTRIBUTE, self._lean(value))
            if language:
                entity = {
                    "entity": ENTITY_NAME,
                    "value": language,
                    "start": 0,
                    "end": len(text),
                    "confidence": 1.0,
                    "extractor": self.__class__.__name__,
                }
                message.set(
                    ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True
                )
        return messages
