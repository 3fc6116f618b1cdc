"""An event question about a programme goes to the events search."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.event_topic_intent import EventTopicIntent


def classified(text: str, intent: str) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.9}, add_to_output=True)
    message.set(
        "intent_ranking",
        [
            {"name": intent, "confidence": 0.9},
            {"name": "ask_events", "confidence": 0.05},
        ],
        add_to_output=True,
    )
    EventTopicIntent().process([message])
    return message


@pytest.mark.parametrize(
    "text",
    [
        "is there an event on Perspektive Heimat?",
        "gibt es eine Veranstaltung zu StarthilfePlus?",
        "any REAG/GARP info sessions for counsellors?",
        "Termine zu Perspektive Heimat?",
    ],
)
def test_event_questions_about_a_programme(text):
    message = classified(text, "ask_perspektive_heimat")
    assert message.get("intent") == {"name": "ask_events", "confidence": 0.9}
    # Swapped, so that the fallback does not see two equally likely intents.
    assert message.get("intent_ranking") == [
        {"name": "ask_events", "confidence": 0.9},
        {"name": "ask_perspektive_heimat", "confidence": 0.05},
    ]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what is Perspektive Heimat?", "ask_perspektive_heimat"),
        ("does Perspektive Heimat offer training?", "ask_perspektive_heimat"),
        ("Was ist StarthilfePlus?", "ask_starthilfeplus"),
        ("events in Hamburg?", "ask_events"),
        ("who organises the events?", "ask_partners"),
    ],
)
def test_other_questions_keep_their_intent(text, intent):
    assert classified(text, intent).get("intent")["name"] == intent
