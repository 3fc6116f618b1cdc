"""👍 / 👎 without servers: which answers ask, what a vote records, the reports."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, List

import pytest

from bot.services import feedback
from bot.storage.feedback import FeedbackStore, Vote, feedback_store_for
from ofr.feedback import answer_of, payload, read_vote
from ofr_tools import feedback as feedback_tool
from ofr_tools.unanswered_report import find_unanswered


def test_answers_to_questions_ask_and_the_rest_do_not():
    assert (
        answer_of({"utter_action": "utter_partners", "text": "..."}) == "utter_partners"
    )
    # A response staff add later asks too.
    assert answer_of({"utter_action": "utter_new_topic"}) == "utter_new_topic"
    for response in ("utter_greet", "utter_thank", "utter_rephrase", "utter_data_kept"):
        assert answer_of({"utter_action": response}) is None
    # A response that asks something of its own (the delete confirmation).
    assert answer_of({"utter_action": "utter_x", "buttons": [{"title": "Yes"}]}) is None
    # Custom actions mark their answer, buttons or not; unmarked ones never ask.
    marked = {"ofr_answer": "action_search_events", "buttons": [{"title": "More"}]}
    assert answer_of(marked) == "action_search_events"
    assert answer_of({"text": "Did you mean …?", "buttons": [{"title": "A"}]}) is None


def test_payloads_name_the_message_and_fit_telegram():
    stamp = time.time()
    up, down = payload(True, stamp), payload(False, stamp)
    assert len(up.encode()) <= 64 and len(down.encode()) <= 64
    assert read_vote(up).helpful and not read_vote(down).helpful
    assert abs(read_vote(up).timestamp - stamp) < 1e-5
    for broken in ("fb:up:", "fb:maybe:1", "fb:up:1;drop", "fb:up:" + "9" * 40, "x"):
        assert read_vote(broken) is None


@pytest.fixture
def var_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OFR_VAR_DIR", str(tmp_path))
    return tmp_path


def conversation_with_an_answer(rasa_domain, store, sender: str) -> float:
    """A stored conversation: a question, the answer; the answer's timestamp."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(sender, rasa_domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(
        UserUttered(
            "who works together in OFR?",
            intent={"name": "ask_partners", "confidence": 0.9},
        )
    )
    tracker.update(SlotSet("language", "en"))
    answer = BotUttered(
        "IOM, BAMF and GIZ.", metadata={"utter_action": "utter_partners"}
    )
    tracker.update(answer)
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    return answer.timestamp


def vote(text: str, store: Any, sender: str) -> feedback.Reply:
    return asyncio.run(feedback.handle(text, sender, "socketio", "de", store, None))


def test_a_vote_is_counted_once_and_kept_in_the_conversation(rasa_domain, var_dir):
    from rasa.core.tracker_store import InMemoryTrackerStore

    store = InMemoryTrackerStore(rasa_domain)
    stamp = conversation_with_an_answer(rasa_domain, store, "socketio:a")

    reply = vote(payload(False, stamp), store, "socketio:a")
    # In the conversation's language, with a way on.
    assert reply.text.startswith("Sorry that did not help")
    assert [b["payload"] for b in reply.buttons] == ["fb:rephrase", "/ask_human"]
    again = vote(payload(False, stamp), store, "socketio:a")
    assert again.text == reply.text

    votes = feedback_store_for(store, var_dir).votes(0, time.time() + 1)
    assert [(v.intent, v.answer, v.language, v.helpful, v.channel) for v in votes] == [
        ("ask_partners", "utter_partners", "en", False, "socketio")
    ]
    tracker = asyncio.run(store.retrieve("socketio:a"))
    recorded = [e.value for e in tracker.events if getattr(e, "key", "") == "feedback"]
    assert recorded == [
        {
            "helpful": False,
            "answer": "utter_partners",
            "intent": "ask_partners",
            "at": stamp,
        }
    ]
    # The 👎 turn is among the unanswered questions.
    events = [e.as_dict() for e in tracker.events]
    [found] = find_unanswered([events], 0, time.time() + 1)
    assert found.text == "who works together in OFR?" and found.thumbs_down

    assert vote(payload(True, stamp), store, "socketio:a").text == (
        "Thank you for the feedback!"
    )
    assert vote("fb:rephrase", store, "socketio:a").text.startswith("Please write")


def test_a_vote_on_a_message_that_is_not_there_counts_nothing(rasa_domain, var_dir):
    from rasa.core.tracker_store import InMemoryTrackerStore

    store = InMemoryTrackerStore(rasa_domain)
    stamp = conversation_with_an_answer(rasa_domain, store, "socketio:b")
    # Thanked all the same, in the conversation's language (else the page's).
    assert vote(payload(True, stamp + 5), store, "socketio:b").text.startswith("Thank")
    assert vote(payload(True, stamp), store, "socketio:nobody").text.startswith("Danke")
    assert vote("fb:up:nonsense", store, "socketio:b").text.startswith("Thank")
    assert feedback_store_for(store, var_dir).votes(0, time.time() + 1) == []


def test_the_report_puts_the_least_helpful_first(tmp_path):
    import sqlalchemy as sa

    store = FeedbackStore(sa.create_engine(f"sqlite:///{tmp_path / 'f.db'}"))
    now = time.time()
    for helpful in (True, True, False):
        store.add("telegram", "en", "ask_partners", "utter_partners", helpful, now)
    store.add("socketio", "de", "ask_events", "action_search_events", False, now)
    store.add(
        "socketio", "de", "ask_events", "action_search_events", True, now - 86400 * 40
    )
    votes: List[Vote] = store.votes(now - 86400 * 30, now + 1)
    rates = feedback_tool.rates(votes)
    assert [(r.intent, r.language, r.helpful, r.not_helpful) for r in rates] == [
        ("ask_events", "de", 0, 1),
        ("ask_partners", "en", 2, 1),
    ]
    text = feedback_tool.render(rates, "text", "last 30 days")
    assert "ask_partners" in text and "67%" in text and "4 votes, 50% helpful." in text
    csv_text = feedback_tool.render(rates, "csv", "")
    assert csv_text.splitlines()[1] == "ask_events,de,1,0,1,0.00,action_search_events"
    assert "No votes." in feedback_tool.render([], "text", "last 7 days")
