"""A long message is classified by the sentences that ask something."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.question_focus import FULL_TEXT, QuestionFocus, focus

LONG_EN = (
    "Hi, I work as a volunteer in a shelter in Kassel. "
    "We have several families who are thinking about going back. "
    "Who is the contact person at IOM for OFR? "
    "Thanks a lot for your help!"
)
LONG_DE = (
    "Guten Tag, ich bin neu in der Rückkehrberatung in Kiel. "
    "Meine Kollegin hat mir von Perspektive Heimat erzählt. "
    "Wer steckt dahinter und was wird dort angeboten? "
    "Viele Grüße"
)


def test_short_messages_are_left_alone():
    text = "Hi! Who is the contact person at IOM?"
    assert focus(text) == text


def test_the_asking_sentence_is_kept_and_greetings_dropped():
    assert focus(LONG_EN) == "Who is the contact person at IOM for OFR?"


def test_a_question_that_points_back_keeps_the_sentence_before():
    assert focus(LONG_DE) == (
        "Meine Kollegin hat mir von Perspektive Heimat erzählt. "
        "Wer steckt dahinter und was wird dort angeboten?"
    )


def test_without_a_question_the_context_without_small_talk_stays():
    text = (
        "Hello. I am a counsellor in Bremen. I need the handbook for my team. "
        "We start next week. Best regards"
    )
    assert focus(text) == "I need the handbook for my team."


@pytest.mark.parametrize("text", [LONG_EN, LONG_DE])
def test_the_component_keeps_the_whole_message(text):
    component = QuestionFocus(QuestionFocus.get_default_config())
    message = Message(data={"text": text})
    component.process([message])
    assert message.get(FULL_TEXT) == text
    assert message.get("text") == focus(text)
    assert FULL_TEXT in message.as_dict(only_output_properties=True)
