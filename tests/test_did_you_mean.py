"""'Did you mean …?' offers the likeliest topics instead of 'please rephrase'."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from actions.did_you_mean import ActionDidYouMean, candidates
from ofr.messages import message


def unsure(ranking, language="en") -> Tracker:
    return Tracker(
        sender_id="u",
        slots={"language": language},
        latest_message={
            "text": "hmm that ofr booklet thing?",
            "intent": {"name": "nlu_fallback", "confidence": 0.4},
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}]
            + [{"name": n, "confidence": c} for n, c in ranking],
            "entities": [],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def test_candidates_skip_small_talk_and_unlikely_intents():
    latest = unsure(
        [
            ("ask_handbook", 0.35),
            ("greet", 0.2),
            ("ask_offers", 0.2),
            ("ask_what_is_ofr", 0.1),
            ("ask_contact", 0.05),
        ]
    ).latest_message
    assert candidates(latest) == ["ask_handbook", "ask_offers", "ask_what_is_ofr"]


@pytest.mark.parametrize("language", ["en", "de"])
async def test_buttons_in_the_users_language_with_something_else(
    dispatcher, domain, language
):
    tracker = unsure([("ask_handbook", 0.35), ("ask_offers", 0.3)], language)
    await ActionDidYouMean().run(dispatcher, tracker, domain)
    [answer] = dispatcher.messages
    assert answer["text"] == message("did_you_mean", language)
    assert [b["payload"] for b in answer["buttons"]] == [
        "/ask_handbook",
        "/ask_offers",
        "/ask_human",  # IOM staff, or their contact details
    ]
    assert answer["buttons"][0]["title"] == message("intent_ask_handbook", language)


async def test_nothing_likely_asks_to_rephrase(dispatcher, domain):
    await ActionDidYouMean().run(dispatcher, unsure([("greet", 0.9)]), domain)
    assert dispatcher.messages[0]["response"] == "utter_rephrase"


def test_every_offered_intent_has_a_label_in_both_languages(domain):
    from actions.did_you_mean import NOT_OFFERED

    for intent in domain["intents"]:
        if intent not in NOT_OFFERED:
            for language in ("en", "de"):
                assert message(f"intent_{intent}", language)


async def test_a_question_added_without_a_label_yet_is_not_offered(dispatcher, domain):
    # The staff console adds a question's label to ofr/messages.yml; a model may
    # know an intent whose label this action server has not got.
    tracker = unsure([("ask_brand_new", 0.35), ("ask_handbook", 0.3)])
    await ActionDidYouMean().run(dispatcher, tracker, domain)
    [answer] = dispatcher.messages
    assert [b["payload"] for b in answer["buttons"]] == ["/ask_handbook", "/ask_human"]


def test_the_texts_are_read_again_when_the_file_changes(tmp_path, monkeypatch):
    import ofr.messages as messages

    copy = tmp_path / "messages.yml"
    copy.write_text('greeting: {en: "Hello", de: "Hallo"}\n', encoding="utf-8")
    monkeypatch.setattr(messages, "MESSAGES_FILE", copy)
    assert messages.message("greeting", "en") == "Hello"
    assert not messages.has_message("intent_ask_brand_new", "en")
    copy.write_text(
        'greeting: {en: "Hello", de: "Hallo"}\n'
        'intent_ask_brand_new: {en: "Brand new", de: "Ganz neu"}\n',
        encoding="utf-8",
    )
    import os

    os.utime(copy, ns=(1, copy.stat().st_mtime_ns + 1_000_000))
    assert messages.message("intent_ask_brand_new", "de") == "Ganz neu"
