"""Session start and language switching through rasa-sdk's Tracker and Dispatcher."""

from __future__ import annotations

import pytest

from actions.session import ActionSessionStart, ActionSwitchLanguage
from ofr.language import language_code, requested_language
from tests.conftest import make_tracker


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.mark.parametrize(
    ("metadata", "previous", "expected"),
    [
        ({"language": "en-GB"}, "de", "en"),
        ({"language": "de_AT"}, "en", "de"),
        ({"language": "fr"}, "en", "en"),  # unsupported: keep the previous session's
        ({}, "en", "en"),
        (None, "de", "de"),
    ],
)
async def test_session_start_language(dispatcher, domain, metadata, previous, expected):
    tracker = make_tracker(
        slots={"language": previous, "session_started_metadata": metadata}
    )
    events = await ActionSessionStart().run(dispatcher, tracker, domain)
    assert events[0]["event"] == "session_started"
    assert slots_of(events)["language"] == expected
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")


@pytest.mark.parametrize(
    ("text", "entities", "slot", "expected", "reply"),
    [
        (
            "auf Englisch bitte",
            [{"entity": "language", "value": "en"}],
            "de",
            "en",
            "Sure — I'll continue in English.",
        ),
        (
            "can we speak german",
            [],
            "en",
            "de",
            "Gern – ich antworte ab jetzt auf Deutsch.",
        ),
        (
            "andere Sprache bitte",
            [],
            "de",
            "de",
            "Gern – ich antworte ab jetzt auf Deutsch.",
        ),
    ],
)
async def test_switch_language(
    dispatcher, domain, text, entities, slot, expected, reply
):
    tracker = make_tracker(
        text=text, intent="switch_language", entities=entities, slots={"language": slot}
    )
    events = await ActionSwitchLanguage().run(dispatcher, tracker, domain)
    assert slots_of(events) == {"language": expected}
    assert dispatcher.messages[0]["text"] == reply


def test_language_helpers():
    assert language_code("EN-us") == "en" and language_code("Deutsch") == "de"
    assert language_code("") is None and language_code(42) is None
    assert requested_language("Können wir auf Englisch weitermachen?") == "en"
    assert requested_language("english or german?") is None
