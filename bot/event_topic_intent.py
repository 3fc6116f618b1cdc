"""NLU component: "is there an event on Perspektive Heimat?" is an event question.

The names of the partners' programmes weigh so much in the classifier that a question
about events on a programme gets the programme's description. When a programme
intent wins but the message asks about an event (an event word in it), this
component ranks ``ask_events`` first; the events search then reads the programme as
the topic, and offers the programme's own answer when no event matches.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

PROGRAMME_INTENTS = frozenset(
    {"ask_perspektive_heimat", "ask_reag_garp", "ask_starthilfeplus"}
)
EVENT_INTENT = "ask_events"
INTENT_RANKING = "intent_ranking"
# Words for an event, not for what a programme offers ("training" is both).
_EVENT_WORDS = re.compile(
    r"\b(?:events?|workshops?|sessions?|webinars?|meetings?|seminars?|conferences?|"
    r"info ?days?|get[- ]togethers?|\w*veranstaltung\w*|termine?|treffen|"
    r"workshops?|seminare?|infotag\w*|tagung\w*|netzwerktreffen)\b",
    re.IGNORECASE,
)


def asks_for_events(text: str) -> bool:
    return bool(_EVENT_WORDS.search(text or ""))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class EventTopicIntent(GraphComponent):
    """Ranks ask_events first when a programme intent won for an event question."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EventTopicIntent:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get("name") not in PROGRAMME_INTENTS:
                continue
            if not asks_for_events(message.get(TEXT) or ""):
                continue
            # The two swap places: the programme keeps what ask_events had, so the
            # fallback does not see two equally likely intents.
            ranking = message.get(INTENT_RANKING) or []
            events_confidence = next(
                (r["confidence"] for r in ranking if r["name"] == EVENT_INTENT), 0.0
            )
            chosen = {"name": EVENT_INTENT, "confidence": intent.get("confidence", 1.0)}
            demoted = {"name": intent["name"], "confidence": events_confidence}
            rest = [
                r for r in ranking if r["name"] not in (EVENT_INTENT, intent["name"])
            ]
            ranked = sorted([demoted, *rest], key=lambda r: -r["confidence"])
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING, [chosen, *ranked], add_to_output=True)
        return messages
