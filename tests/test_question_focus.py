"""A long message is classified by the sentences that ask something."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.question_focus import FULL_TEXT, QuestionFocus, focus

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


def test_long_training_examples_are_learnt_as_their_question():
    text = (
        "I volunteer in Kassel. We meet families every week. "
        "Is an event in Hamburg planned soon? Thanks!"
    )
    city = {"entity": "city", "value": "Kassel", "start": 15, "end": 21}
    start = text.index("Hamburg")
    asked = {"entity": "city", "value": "Hamburg", "start": start, "end": start + 7}
    assert text[15:21] == "Kassel"
    example = Message(
        data={"text": text, "intent": "ask_events", "entities": [city, asked]}
    )
    short = Message(data={"text": "events in Kiel?", "intent": "ask_events"})
    component = QuestionFocus(QuestionFocus.get_default_config())
    component.process_training_data(TrainingData([example, short]))
    assert example.get("text") == "Is an event in Hamburg planned soon?"
    [entity] = example.get("entities")
    assert example.get("text")[entity["start"] : entity["end"]] == "Hamburg"
    assert short.get("text") == "events in Kiel?"


def test_entities_of_several_kept_sentences_keep_their_words():
    text = (
        "Guten Tag. Ich arbeite in Kiel. Sind Termine in Bremen geplant? "
        "Und was ist mit Köln? Danke"
    )
    entities = [
        {
            "entity": "city",
            "value": word,
            "start": text.index(word),
            "end": text.index(word) + len(word),
        }
        for word in ("Kiel", "Bremen", "Köln")
    ]
    example = Message(data={"text": text, "intent": "ask_events", "entities": entities})
    QuestionFocus({"min_sentences": 3, "min_words": 35}).process_training_data(
        TrainingData([example])
    )
    kept = example.get("text")
    assert kept == "Sind Termine in Bremen geplant? Und was ist mit Köln?"
    assert [kept[e["start"] : e["end"]] for e in example.get("entities")] == [
        "Bremen",
        "Köln",
    ]
