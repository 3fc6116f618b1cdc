"""Held-out NLU evaluation per language: intent accuracy, macro-F1, language detection.

Used by the test suite (a floor on accuracy), by ``bench/nlu.py`` (the numbers)
and by staff reports. Loads the trained model once and parses every example of
``tests/nlu/<language>/`` (with the ``unseen/`` sets of long, informal and
name-laden messages, written without seeing the training data) and the questions of
``tests/event_questions/heldout*_<language>.yml``. Entities are scored only where
they are annotated: on the topic files, not on the unseen sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from sklearn.metrics import f1_score

from bot.nlu.language_detector import ENTITY_NAME

# The held-out helpers, also here for callers that read them from this module.
from ofr_tools.held_out import (  # noqa: F401
    event_question_files,
    event_questions,
    held_out_texts,
    near_copy,
    nlu_files,
    normalise_example,
)

LANGUAGES = ("en", "de")
BATCH = 256  # messages per run of the NLU graph


def parse_all(agent: Agent, texts: List[str]) -> List[Dict[str, Any]]:
    """What ``agent.parse_message`` gives for each text, many texts per run of the
    model's NLU graph: every component processes a list of messages, so the
    classifiers score a batch at once (about 5 times faster than one by one on
    the held-out sets; tests/test_nlu_heldout.py checks the results are the same)."""
    processor = agent.processor
    assert processor is not None, "no model loaded"
    target = processor.model_metadata.nlu_target
    tracker = DialogueStateTracker.from_events("evaluation", [])
    parsed: List[Dict[str, Any]] = []
    for start in range(0, len(texts), BATCH):
        messages = [UserMessage(text) for text in texts[start : start + BATCH]]
        results = processor.graph_runner.run(
            inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker},
            targets=[target],
        )
        for message in results[target]:
            data: Dict[str, Any] = {
                TEXT: "",
                INTENT: {"name": None, "confidence": 0.0},
                ENTITIES: [],
            }
            data.update(message.as_dict(only_output_properties=True))
            parsed.append(data)
    return parsed


@dataclass
class Prediction:
    text: str
    expected: str
    predicted: str
    confidence: float
    detected_language: Optional[str]
    # The best real intent even when the FallbackClassifier answered nlu_fallback.
    top_intent: str = ""
    top_confidence: float = 0.0
    # The test file the example comes from, e.g. tests/nlu/en/events.yml.
    file: str = ""
    # (entity, annotated text) pairs, language tags left out.
    expected_entities: FrozenSet[Tuple[str, str]] = frozenset()
    predicted_entities: FrozenSet[Tuple[str, str]] = frozenset()
    # False for sets written without entity annotations.
    entity_scored: bool = True
    # Everything the NLU returned, for checks that go on from it (event filters).
    parsed: Dict[str, Any] = field(default_factory=dict)

    @property
    def held_out_set(self) -> str:
        """'topics', 'long', 'informal', 'names' or 'event questions'."""
        path = Path(self.file)
        if path.parent.name == "event_questions":
            return "event questions"
        return path.stem if path.parent.name == "unseen" else "topics"


@dataclass
class LanguageReport:
    language: str
    predictions: List[Prediction] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        hits = sum(p.expected == p.predicted for p in self.predictions)
        return hits / len(self.predictions) if self.predictions else 0.0

    @property
    def macro_f1(self) -> float:
        expected = [p.expected for p in self.predictions]
        predicted = [p.predicted for p in self.predictions]
        return float(
            f1_score(expected, predicted, labels=sorted(set(expected)), average="macro")
        )

    @property
    def language_accuracy(self) -> float:
        """Share of messages whose detected language is not the wrong one."""
        wrong = sum(
            p.detected_language not in (None, self.language) for p in self.predictions
        )
        return 1 - wrong / len(self.predictions) if self.predictions else 0.0

    @property
    def entity_scores(self) -> Tuple[float, float, float]:
        """Micro precision, recall and F1 of the extracted (entity, text) pairs."""
        scored = [p for p in self.predictions if p.entity_scored]
        hits = sum(len(p.expected_entities & p.predicted_entities) for p in scored)
        expected = sum(len(p.expected_entities) for p in scored)
        predicted = sum(len(p.predicted_entities) for p in scored)
        precision = hits / predicted if predicted else 0.0
        recall = hits / expected if expected else 0.0
        total = precision + recall
        return precision, recall, (2 * precision * recall / total if total else 0.0)

    def at_threshold(self, threshold: float) -> Tuple[float, float]:
        """(accuracy, share of wrong answers) had the fallback threshold been this."""
        correct = wrong = 0
        for p in self.predictions:
            if p.top_confidence < threshold:
                correct += p.expected == "nlu_fallback"
                continue
            if p.top_intent == p.expected:
                correct += 1
            else:
                wrong += 1
        total = len(self.predictions) or 1
        return correct / total, wrong / total

    def errors(self) -> List[Prediction]:
        return [p for p in self.predictions if p.expected != p.predicted]

    def by_set(self) -> Dict[str, Tuple[int, float]]:
        """(examples, intent accuracy) per held-out set."""
        sets: Dict[str, List[Prediction]] = {}
        for p in self.predictions:
            sets.setdefault(p.held_out_set, []).append(p)
        return {
            name: (
                len(items),
                sum(p.expected == p.predicted for p in items) / len(items),
            )
            for name, items in sets.items()
        }


def entity_spans(text: str, entities: List[dict]) -> FrozenSet[Tuple[str, str]]:
    """(entity, text as written) pairs: compares extraction, not synonym mapping."""
    return frozenset(
        (e["entity"], text[e["start"] : e["end"]].casefold())
        for e in entities
        if e.get("entity") != ENTITY_NAME and "start" in e and "end" in e
    )


def annotated_examples(folder: Path) -> List[Tuple[str, str, FrozenSet]]:
    """(text, intent, annotated entities) of the Rasa NLU files in ``folder``."""
    data = load_data(str(folder))
    return [
        (
            m.get("text"),
            m.get("intent"),
            entity_spans(m.get("text"), m.get("entities") or []),
        )
        for m in data.intent_examples
        if m.get("text") and m.get("intent")
    ]


def _evaluate(
    model: Path, folders: Dict[str, Path], events: Dict[str, List[Path]]
) -> Dict[str, LanguageReport]:
    agent = Agent.load(str(model))
    reports: Dict[str, LanguageReport] = {}
    for language, folder in folders.items():
        report = LanguageReport(language)
        examples = [
            (text, intent, entities, path)
            for path in nlu_files(folder)
            for text, intent, entities in annotated_examples(path)
        ]
        examples += [
            (text, intent, entities, path)
            for path in events.get(language, [])
            for text, intent, entities in event_questions(path)
        ]
        every_parse = parse_all(agent, [text for text, _, _, _ in examples])
        for (text, intent, entities, path), parsed in zip(
            examples, every_parse, strict=True
        ):
            detected = next(
                (
                    e.get("value")
                    for e in parsed.get("entities", [])
                    if e.get("entity") == ENTITY_NAME
                ),
                None,
            )
            ranking = [
                r
                for r in parsed.get("intent_ranking", [])
                if r["name"] != "nlu_fallback"
            ]
            top = ranking[0] if ranking else parsed["intent"]
            report.predictions.append(
                Prediction(
                    top_intent=top["name"],
                    top_confidence=float(top.get("confidence") or 0.0),
                    text=text,
                    expected=intent,
                    predicted=parsed["intent"]["name"],
                    confidence=float(parsed["intent"].get("confidence") or 0.0),
                    detected_language=detected,
                    file=path.as_posix(),
                    expected_entities=entities,
                    # Offsets refer to the text the NLU classified (a long
                    # message's question, see bot/nlu/question_focus.py).
                    predicted_entities=entity_spans(
                        parsed.get("text") or text, parsed.get("entities", [])
                    ),
                    entity_scored="unseen" not in path.parts
                    and path.parent.name != "event_questions",
                    parsed=parsed,
                )
            )
        reports[language] = report
    return reports


def evaluate(
    model: Path,
    test_root: Path = Path("tests/nlu"),
    events_root: Optional[Path] = Path("tests/event_questions"),
) -> Dict[str, LanguageReport]:
    """Evaluate ``model`` on ``test_root/en`` and ``test_root/de`` and the held-out
    event questions of ``events_root`` (None: leave them out)."""
    folders = {language: test_root / language for language in LANGUAGES}
    events = (
        {lang: event_question_files(events_root, lang) for lang in LANGUAGES}
        if events_root is not None
        else {}
    )
    return _evaluate(model, folders, events)
