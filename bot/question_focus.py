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
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

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


def sentences(text: str) -> List[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def focus(text: str, min_sentences: int = 3, min_words: int = 35) -> str:
    """The part of ``text`` that asks the question (the whole text when short)."""
    parts = sentences(text)
    if len(parts) < min_sentences and len(text.split()) < min_words:
        return text
    content = [part for part in parts if not _SMALL_TALK.match(part)]
    keep = set()
    for position, part in enumerate(content):
        if _ASKS.search(part):
            keep.add(position)
            if position and _POINTS_BACK.search(part):
                keep.add(position - 1)
    chosen = [content[i] for i in sorted(keep)] or content
    if not chosen:
        return text
    return " ".join(chosen)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class QuestionFocus(GraphComponent):
    """Classifies a long message by its asking sentences; keeps the rest in full_text."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"min_sentences": 3, "min_words": 35}

    def __init__(self, config: Dict[str, Any]) -> None:
        self._min_sentences = int(config["min_sentences"])
        self._min_words = int(config["min_words"])

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> QuestionFocus:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples keep their text: their entity offsets refer to all of it.
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            kept = focus(text, self._min_sentences, self._min_words)
            if kept != text:
                message.set(FULL_TEXT, text, add_to_output=True)
                message.set(TEXT, kept)
        return messages
