"""NLU component that finds the question inside a long message.

Practitioners often write three to six sentences of context ("I work for the
Ausländerbehörde in Kiel. We have a family from Iraq who ...") with the question
somewhere in the middle. The classifier was trained mostly on one-sentence
questions, so the context drowns the question. For a long message this component
keeps the sentences that ask something (a question mark, a question word, "I'd
like to know", "ich suche"), drops greetings and thanks, and hands only those on to
the tokenizer and classifier. The whole message stays in ``full_text`` for the
custom actions, which read places, dates and formats from all of it.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from rasa.engine.graph import GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import BuiltByRasa

FULL_TEXT = "full_text"

# A sentence ends at . ! ? … or a line break; "z.B." and "e.g." do not end one.
_SENTENCE_END = re.compile(r"(?<![A-Za-z]\.[A-Za-z]\.)(?<=[.!?…])\s+|\n+")
_ASKS = re.compile(
    r"\?\s*$|^(?:and |but |so |also |und |aber |also )?"
    r"(?:who|whom|whose|what|whats|when|where|which|why|how|is|are|was|were|do|does|"
    r"did|can|could|would|will|should|may|might|any|anything|tell|please|pls|"
    r"i'?d like|i would like|i want|i need|i'?m looking|i am looking|looking for|"
    r"i wonder|i was wondering|wondering|let me know|show me|give me|explain|"
    r"wer|wen|wem|wessen|was|wann|wo|woher|wohin|welche\w*|warum|wieso|weshalb|wie|"
    r"gibt es|gibt's|gibts|ist|sind|kann|kannst|können|könnten|könntest|hast|haben|"
    r"habt|kennst|kennen|darf|dürfen|soll|sollte|bitte|ich suche|wir suchen|"
    r"ich möchte|ich würde gern|ich hätte gern|ich brauche|wir brauchen|"
    r"mich würde interessieren|mich interessiert|sag|sagen sie|nenn|zeig|erklär\w*)\b",
    re.IGNORECASE,
)
_SMALL_TALK = re.compile(
    r"^(?:hi|hello|hey|dear \w+|good (?:morning|afternoon|evening)|thanks?|thank you|"
    r"many thanks|thanks in advance|cheers|best(?: regards)?|kind regards|regards|"
    r"hallo|moin|servus|guten (?:tag|morgen|abend)|liebe[rs]? \w+|danke\w*|"
    r"vielen dank\w*|besten dank|(?:viele |liebe |beste |freundliche )?grüße?|"
    r"mfg|lg|vg|bg)\b[^?]*$",
    re.IGNORECASE,
)


# A question that points back ("what do they do there?", "wer steckt dahinter?")
# needs the sentence before it.
_POINTS_BACK = re.compile(
    r"\b(?:it|its|this|that|these|those|they|them|their|there|he|she|his|her|"
    r"es|das|dies\w*|dort|da|dahinter|dazu|daran|darüber|davon|dafür|sie|ihr\w*|"
    r"er|sein\w*|denen|deren|dieser|jene\w*)\b",
    re.IGNORECASE,
)


Span = Tuple[int, int]


def sentence_spans(text: str) -> List[Span]:
    """Where each sentence of ``text`` starts and ends (stripped)."""
    spans: List[Span] = []
    start = 0
    for boundary in [*_SENTENCE_END.finditer(text), None]:
        end = boundary.start() if boundary else len(text)
        part = text[start:end]
        if part.strip():
            left = start + len(part) - len(part.lstrip())
            spans.append((left, start + len(part.rstrip())))
        if boundary:
            start = boundary.end()
    return spans


def focus_spans(text: str, min_sentences: int = 3, min_words: int = 35) -> List[Span]:
    """The sentences of ``text`` that ask the question (all of it when short)."""
    spans = sentence_spans(text)
    if len(spans) < min_sentences and len(text.split()) < min_words:
        return [(0, len(text))]
    content = [span for span in spans if not _SMALL_TALK.match(text[slice(*span)])]
    keep = set()
    for position, span in enumerate(content):
        part = text[slice(*span)]
        if _ASKS.search(part):
            keep.add(position)
            if position and _POINTS_BACK.search(part):
                keep.add(position - 1)
    chosen = [content[i] for i in sorted(keep)] or content
    return chosen or [(0, len(text))]


def focus(text: str, min_sentences: int = 3, min_words: int = 35) -> str:
    """The part of ``text`` that asks the question (the whole text when short)."""
    return " ".join(
        text[slice(*span)] for span in focus_spans(text, min_sentences, min_words)
    )


def _moved_entities(
    entities: List[Dict[str, Any]], spans: List[Span]
) -> List[Dict[str, Any]]:
    """Entities inside the kept sentences, with offsets in the joined text."""
    moved = []
    offset = 0
    for start, end in spans:
        for entity in entities:
            if start <= entity["start"] and entity["end"] <= end:
                shift = offset - start
                moved.append(
                    {
                        **entity,
                        "start": entity["start"] + shift,
                        "end": entity["end"] + shift,
                    }
                )
        offset += end - start + 1
    return moved


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class QuestionFocus(BuiltByRasa, GraphComponent):
    """Classifies a long message by its asking sentences; keeps the rest in full_text."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"min_sentences": 3, "min_words": 35}

    def __init__(self, config: Dict[str, Any]) -> None:
        self._min_sentences = int(config["min_sentences"])
        self._min_words = int(config["min_words"])

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Long examples are learnt as the classifier will see them: their asking
        # sentences. This also keeps them from padding every training batch to a
        # hundred tokens (DIET took half as long again per epoch).
        for message in training_data.training_examples:
            text = message.get(TEXT)
            if not text:
                continue
            spans = focus_spans(text, self._min_sentences, self._min_words)
            if spans == [(0, len(text))]:
                continue
            message.set(TEXT, " ".join(text[slice(*span)] for span in spans))
            entities = message.get(ENTITIES)
            if entities:
                message.set(ENTITIES, _moved_entities(entities, spans))
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            kept = focus(text, self._min_sentences, self._min_words)
            if kept != text:
                message.set(FULL_TEXT, text, add_to_output=True)
                message.set(TEXT, kept)
        return messages
