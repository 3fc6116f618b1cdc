"""NLU component: "is there an event on Perspektive Heimat?" is an event question.

The names of the partners' programmes weigh so much in the classifier that a question
about events on a programme gets the programme's description, or comes out unsure
between the two. When a programme intent wins, or ``ask_events`` wins with a
programme intent second, and the message asks about an event (an event word in
it), this component ranks ``ask_events`` first with both confidences; the events search then reads the programme as
the topic, and offers the programme's own answer when no event matches.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from rasa.engine.graph import GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import BuiltByRasa

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
class EventTopicIntent(BuiltByRasa, GraphComponent):
    """Ranks ask_events first when a programme intent won for an event question."""

    def __init__(self, config: Optional[Dict[str, Any]] = None) -> None:
        self._config = config or {}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            ranking = message.get(INTENT_RANKING) or []
            top_two = {entry["name"]: entry["confidence"] for entry in ranking[:2]}
            programmes = [name for name in top_two if name in PROGRAMME_INTENTS]
            intent = (message.get(INTENT) or {}).get("name")
            if intent not in PROGRAMME_INTENTS and not (
                intent == EVENT_INTENT and programmes
            ):
                continue
            if not asks_for_events(message.get(TEXT) or ""):
                continue
            # "Events" and "the programme" are two readings of one question: events
            # on the programme. ask_events gets both confidences, so that neither a
            # low score nor two close ones send the question to the fallback.
            programme = intent if intent in PROGRAMME_INTENTS else programmes[0]
            events_confidence = next(
                (r["confidence"] for r in ranking if r["name"] == EVENT_INTENT), 0.0
            )
            programme_confidence = next(
                (r["confidence"] for r in ranking if r["name"] == programme), 0.0
            )
            chosen = {
                "name": EVENT_INTENT,
                "confidence": min(1.0, events_confidence + programme_confidence),
            }
            absorbed = {"name": programme, "confidence": 0.0}
            rest = [r for r in ranking if r["name"] not in (EVENT_INTENT, programme)]
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING, [chosen, *rest, absorbed], add_to_output=True)
        return messages
