"""Event questions as people ask them, over REST against the running servers.

One test per kind of failure users met (issue 13), in English and German: format
words, time windows, places, "the next event", follow-ups, questions about one
event, the recent past, topics, non-event questions naming a city or a day, long
and informal messages, and German names in English questions. The servers read an
events file written for today, so the answers are checked against real dates.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from ofr.messages import message
from tests.conftest import text_of
from tests.servers import Servers, running_bot

pytestmark = pytest.mark.server

DRESDEN = {"en": "Network meeting Dresden", "de": "Netzwerktreffen Dresden"}
WOMEN = {
    "en": "Online dialogue: women returnees",
    "de": "Online-Dialog: Rückkehrerinnen",
}
STUTTGART = {"en": "Workshop Stuttgart", "de": "Workshop Stuttgart"}
MUNICH = {"en": "Perspektive Heimat info day", "de": "Infotag Perspektive Heimat"}
ERFURT = {"en": "Exchange Erfurt", "de": "Austausch Erfurt"}


def events_file(folder: Path) -> Path:
    """Three events in the next weeks, one later, one last month (from today)."""
    today = date.today()

    def day(offset: int, hour: str = "10:00") -> str:
        return f"{(today + timedelta(days=offset)).isoformat()}T{hour}:00+01:00"

    events = [
        {
            "id": "t-dresden",
            "title": DRESDEN,
            "start": day(9),
            "end": day(9, "16:00"),
            "format": "in_person",
            "city": "Dresden",
            "state": "Sachsen",
            "venue": {"en": "City hall", "de": "Rathaus"},
            "topics": ["reintegration"],
            "registration_url": "https://example.org/register/dresden",
        },
        {
            "id": "t-women",
            "title": WOMEN,
            "start": day(4, "14:00"),
            "end": day(4, "15:30"),
            "format": "online",
            "topics": ["women"],
        },
        {
            "id": "t-stuttgart",
            "title": STUTTGART,
            "start": day(30),
            "end": day(30, "13:00"),
            "format": "in_person",
            "city": "Stuttgart",
            "state": "Baden-Württemberg",
            "topics": ["counselling"],
        },
        {
            "id": "t-munich",
            "title": MUNICH,
            "start": day(45),
            "end": day(45, "15:00"),
            "format": "hybrid",
            "city": "München",
            "state": "Bayern",
            "topics": ["Perspektive Heimat", "reintegration"],
        },
        {
            "id": "t-erfurt",
            "title": ERFURT,
            "start": day(-20),
            "end": day(-20, "15:00"),
            "format": "in_person",
            "city": "Erfurt",
            "state": "Thüringen",
        },
    ]
    path = folder / "events.yml"
    path.write_text(
        yaml.safe_dump({"events": events}, allow_unicode=True), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def bot(tmp_path_factory, trained_model) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("events-var")
    env = {"OFR_EVENTS_FILE": str(events_file(folder))}
    with running_bot(folder, env=env) as servers:
        yield servers


class User:
    """One conversation, in one language from its first message on."""

    def __init__(self, bot: Servers, language: str) -> None:
        self.bot = bot
        self.language = language
        self.sender = f"test-{uuid.uuid4().hex[:8]}"
        self.started = False

    def says(self, text: str) -> List[Dict[str, Any]]:
        metadata = None if self.started else {"language": self.language}
        self.started = True
        answers = self.bot.rest(self.sender, text, metadata=metadata)
        assert answers, f"no answer to {text!r}"
        return answers

    def text(self, text: str) -> str:
        return "\n".join(a.get("text") or "" for a in self.says(text))


def lists(answer: str, *titles: Dict[str, str], language: str) -> bool:
    return all(title[language] in answer for title in titles)


def lists_none(answer: str, *titles: Dict[str, str], language: str) -> bool:
    return not any(title[language] in answer for title in titles)


@pytest.mark.parametrize(
    ("language", "question"),
    [("en", "are there any webinars planned?"), ("de", "gibts digitale Termine?")],
)
def test_format_words_filter_online(bot, language, question):
    answer = User(bot, language).text(question)
    assert lists(answer, WOMEN, MUNICH, language=language), answer
    assert lists_none(answer, DRESDEN, STUTTGART, language=language), answer


@pytest.mark.parametrize(
    ("language", "question"),
    [("en", "anything face to face?"), ("de", "gibt es Präsenzveranstaltungen?")],
)
def test_format_words_filter_in_person(bot, language, question):
    answer = User(bot, language).text(question)
    assert lists(answer, DRESDEN, STUTTGART, language=language), answer
    assert lists_none(answer, WOMEN, language=language), answer


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "what's on in the next two weeks?"),
        ("de", "was läuft in den nächsten 14 Tagen?"),
    ],
)
def test_time_windows(bot, language, question):
    answer = User(bot, language).text(question)
    assert lists(answer, WOMEN, DRESDEN, language=language), answer
    assert lists_none(answer, STUTTGART, MUNICH, language=language), answer


@pytest.mark.parametrize(
    ("language", "question", "title"),
    [
        ("en", "any ofr events in saxony?", DRESDEN),
        ("en", "something in bavaria maybe", MUNICH),
        ("de", "gibt es was in stutgart?", STUTTGART),
        ("de", "veranstaltungen in baden-wuerttemberg", STUTTGART),
    ],
)
def test_places_lower_case_and_misspelt(bot, language, question, title):
    answer = User(bot, language).text(question)
    assert title[language] in answer, answer
    assert lists_none(answer, WOMEN, language=language), answer


@pytest.mark.parametrize(
    ("language", "question"),
    [("en", "what's next?"), ("de", "welche Veranstaltung kommt als nächstes?")],
)
def test_the_next_event(bot, language, question):
    answer = User(bot, language).text(question)
    assert answer.startswith(message("next_found", language, filter="")), answer
    assert WOMEN[language] in answer and DRESDEN[language] not in answer, answer


@pytest.mark.parametrize(
    ("language", "first", "follow_up", "expected", "gone"),
    [
        ("en", "events in Dresden?", "what about virtual ones?", WOMEN, DRESDEN),
        ("de", "Termine in Stuttgart?", "und online?", WOMEN, STUTTGART),
        ("en", "any online events?", "and in Stuttgart?", STUTTGART, WOMEN),
    ],
)
def test_follow_ups_replace_what_they_contradict(
    bot, language, first, follow_up, expected, gone
):
    user = User(bot, language)
    user.says(first)
    answer = user.text(follow_up)
    assert expected[language] in answer and gone[language] not in answer, answer


@pytest.mark.parametrize(
    ("language", "question", "expected"),
    [
        ("en", "is the Dresden meeting on site or virtual?", "in person"),
        ("de", "findet das Treffen in Dresden vor Ort statt?", "vor Ort"),
    ],
)
def test_one_events_format_and_venue(bot, language, question, expected):
    answer = User(bot, language).text(question)
    assert DRESDEN[language] in answer and expected in answer, answer
    assert ("City hall" if language == "en" else "Rathaus") in answer, answer


@pytest.mark.parametrize(
    ("language", "question", "expected"),
    [
        ("en", "how do I register for the Stuttgart workshop?", "lschardt@iom.int"),
        (
            "de",
            "wo kann man sich fürs Treffen in Dresden anmelden?",
            "https://example.org/register/dresden",
        ),
    ],
)
def test_registration(bot, language, question, expected):
    answer = User(bot, language).text(question)
    assert expected in answer, answer


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "where do I sign up for the Hannover meeting?"),
        ("de", "wie melde ich mich für die Veranstaltung in Kiel an?"),
    ],
)
def test_registration_for_nothing_upcoming_says_so(bot, language, question):
    answer = User(bot, language).text(question)
    assert answer.startswith(
        message("event_none_upcoming_named", language, filter="")[:20]
    ), answer
    assert ERFURT[language] not in answer


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "did anything happen in Erfurt recently?"),
        ("de", "war in letzter Zeit was in Erfurt?"),
    ],
)
def test_the_recent_past(bot, language, question):
    answer = User(bot, language).text(question)
    assert ERFURT[language] in answer, answer


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "what was the most recent OFR event?"),
        ("de", "was war die letzte Veranstaltung?"),
    ],
)
def test_the_latest_event(bot, language, question):
    answer = User(bot, language).text(question)
    assert answer.startswith(message("latest_found", language, filter="")), answer
    assert ERFURT[language] in answer, answer


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "is there an event on Perspektive Heimat?"),
        ("de", "gibt es eine Veranstaltung zum Thema Perspektive Heimat?"),
    ],
)
def test_events_on_a_topic(bot, language, question):
    answer = User(bot, language).text(question)
    assert MUNICH[language] in answer, answer
    assert lists_none(answer, DRESDEN, STUTTGART, language=language), answer


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "any events about StarthilfePlus?"),
        ("de", "gibt es Veranstaltungen zu StarthilfePlus?"),
    ],
)
def test_no_event_on_a_topic_offers_the_programme(bot, language, question):
    answers = User(bot, language).says(question)
    payloads = [b["payload"] for a in answers for b in a.get("buttons") or []]
    assert "/ask_starthilfeplus" in payloads, answers


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "will it rain in Köln on Saturday?"),
        ("de", "wie wird das wetter am samstag in hamburg?"),
    ],
)
def test_non_event_questions_with_a_city_or_a_day(bot, domain, language, question):
    answer = User(bot, language).text(question)
    assert answer == text_of(domain, "utter_out_of_scope", language), answer


@pytest.mark.parametrize(
    ("language", "question", "response"),
    [
        (
            "en",
            "Hi there, I started as a volunteer with refugees in Kassel last month. "
            "Some of the families I support are thinking about going home. "
            "Who is the person at IOM I should talk to about OFR? "
            "I would be very grateful for a name. Thanks a lot!",
            "utter_contact_person",
        ),
        (
            "de",
            "Guten Tag, ich arbeite in der Rückkehrberatung eines Landkreises. "
            "Wir bekommen immer wieder Fragen zu Programmen. "
            "Können Sie mir erklären, was StarthilfePlus genau ist? "
            "Das würde mir sehr helfen. Vielen Dank!",
            "utter_starthilfeplus",
        ),
    ],
)
def test_long_messages(bot, domain, language, question, response):
    answer = User(bot, language).text(question)
    assert answer.startswith(text_of(domain, response, language)[:40]), answer


@pytest.mark.parametrize(
    ("language", "question", "response"),
    [
        ("en", "who's my go-to person at iom?", "utter_contact_person"),
        ("de", "wer is bei der iom zustaendig?", "utter_contact_person"),
    ],
)
def test_informal_questions(bot, domain, language, question, response):
    answer = User(bot, language).text(question)
    assert answer.startswith(text_of(domain, response, language)[:40]), answer


@pytest.mark.parametrize(
    ("language", "question"),
    [("en", "any get-togethers coming up?"), ("de", "is bald mal wieder was los?")],
)
def test_informal_event_question(bot, language, question):
    """Answered at once, or after one tap on "Upcoming events" when the NLU is unsure
    (the button reads the question the user typed)."""
    user = User(bot, language)
    answers = user.says(question)
    answer = "\n".join(a.get("text") or "" for a in answers)
    if answer.startswith(message("did_you_mean", language)):
        payloads = [b["payload"] for a in answers for b in a.get("buttons") or []]
        assert "/ask_events" in payloads, answers
        answer = user.text("/ask_events")
    assert lists(answer, WOMEN, DRESDEN, language=language), answer


@pytest.mark.parametrize(
    ("language", "first", "question", "response"),
    [
        (
            "en",
            "hello",
            "So what does Option Freiwillige Rückkehr do?",
            "utter_what_is_ofr",
        ),
        ("en", "hi", "Perspektive Heimat?", "utter_perspektive_heimat"),
        ("de", "hallo", "Was ist Returning from Germany?", "utter_returning_portal"),
    ],
)
def test_names_do_not_switch_the_language(
    bot, domain, language, first, question, response
):
    user = User(bot, language)
    user.says(first)
    answer = user.text(question)
    assert answer.startswith(text_of(domain, response, language)[:40]), answer
