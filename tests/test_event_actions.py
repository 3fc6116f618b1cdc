"""Event actions through rasa-sdk's Tracker and Dispatcher, with a fixed "today"."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from actions import event_actions
from actions.event_actions import (
    ActionEventDetails,
    ActionMoreEvents,
    ActionPastEvents,
    ActionSearchEvents,
    ActionSubscribeEvents,
)
from ofr.events.event_filter import EventFilter
from ofr.events.search import search
from ofr.events.store import EventsStore
from tests.conftest import ROOT, make_tracker

FIXTURE = ROOT / "tests" / "fixtures" / "events.yml"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def fixed_world(monkeypatch):
    monkeypatch.setenv("OFR_EVENTS_FILE", str(FIXTURE))
    monkeypatch.setattr(event_actions, "now", lambda: NOW)


def ent(name, value):
    return {"entity": name, "value": value}


async def run(action, dispatcher, domain, **tracker_args):
    events = await action.run(dispatcher, make_tracker(**tracker_args), domain)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, slots


def ids_in(message):
    return [
        b["payload"].split('"event_id": "')[1].rstrip('"}')
        for b in message["buttons"]
        if "event_id" in b["payload"]
    ]


# --- the filters themselves ------------------------------------------------------


@pytest.fixture(scope="module")
def all_events():
    return EventsStore(FIXTURE).events()


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (
            EventFilter(),
            [
                "test-2026-online-women",
                "test-2027-hamburg",
                "test-2027-online-march",
                "test-2027-munich",
                "test-2027-cologne",
            ],
        ),
        (EventFilter(city="Munich"), ["test-2027-munich"]),
        (EventFilter(city="münchen"), ["test-2027-munich"]),
        (EventFilter(city="Köln"), ["test-2027-cologne"]),
        (EventFilter(state="Bavaria"), ["test-2027-munich"]),
        (EventFilter(state="NRW"), ["test-2027-cologne"]),
        (EventFilter(state="Hamburg"), ["test-2027-hamburg"]),
        (
            # A hybrid event can be attended online too.
            EventFilter(format="online"),
            ["test-2026-online-women", "test-2027-online-march", "test-2027-munich"],
        ),
        (EventFilter(format="hybrid"), ["test-2027-munich"]),
        (EventFilter(topic="women"), ["test-2026-online-women"]),
        (EventFilter(topic="Afghanistan"), ["test-2027-munich"]),
        (EventFilter(city="Leipzig"), []),
    ],
)
def test_filters(all_events, wanted, expected):
    assert [e.id for e in search(all_events, wanted, NOW)] == expected


def test_filters_combine(all_events):
    from ofr.events.periods import parse_period

    march = parse_period("im März", "de", NOW.date())
    online_march = EventFilter(format="online", period=march)
    assert [e.id for e in search(all_events, online_march, NOW)] == [
        "test-2027-online-march",
        "test-2027-munich",
    ]
    in_person_march = EventFilter(format="in_person", period=march)
    assert [e.id for e in search(all_events, in_person_march, NOW)] == [
        "test-2027-munich",
        "test-2027-cologne",
    ]
    assert search(all_events, EventFilter(city="Hamburg", format="online"), NOW) == []


def test_past_scope_newest_first(all_events):
    found = search(all_events, EventFilter(scope="past"), NOW)
    assert [e.id for e in found] == ["test-2022-neu-ulm", "test-2019-series"]


# --- the actions -----------------------------------------------------------------


async def test_upcoming_events_a_page_at_a_time(dispatcher, domain):
    messages, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="Welche Veranstaltungen gibt es?",
        intent="ask_events",
    )
    text = messages[0]["text"]
    assert text.startswith("Kommende OFR-Veranstaltungen – 3 von 5:")
    assert (
        "1. Online-Dialog: Rückkehrerinnen — Mittwoch, 9. Dezember 2026, 14:00–15:30 Uhr"
        in text
    )
    assert ids_in(messages[0]) == [
        "test-2026-online-women",
        "test-2027-hamburg",
        "test-2027-online-march",
    ]
    assert messages[0]["buttons"][-1]["payload"] == "/more_events"
    assert slots["event_offset"] == 3

    dispatcher.messages.clear()
    more, slots = await run(
        ActionMoreEvents(),
        dispatcher,
        domain,
        text="mehr",
        intent="more_events",
        slots={"event_filter": slots["event_filter"], "event_offset": 3},
    )
    assert more[0]["text"].startswith(
        "Weitere kommende Veranstaltungen – 4 bis 5 von 5:"
    )
    assert ids_in(more[0]) == ["test-2027-munich", "test-2027-cologne"]
    assert all(b["payload"] != "/more_events" for b in more[0]["buttons"])


async def test_follow_ups_keep_context(dispatcher, domain):
    _, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="Is there anything in Hamburg?",
        intent="ask_events",
        entities=[ent("city", "Hamburg")],
        slots={"language": "en"},
    )
    assert "Network meeting Hamburg" in dispatcher.messages[-1]["text"]

    _, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="and in Munich?",
        intent="inform_event_filter",
        entities=[ent("city", "Munich")],
        slots={"language": "en", "event_filter": slots["event_filter"]},
    )
    assert "Workshop Munich" in dispatcher.messages[-1]["text"]
    assert slots["event_filter"]["city"] == "München"

    _, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="only online ones?",
        intent="inform_event_filter",
        entities=[ent("format", "online")],
        slots={"language": "en", "event_filter": slots["event_filter"]},
    )
    last = dispatcher.messages[-1]
    # Online events have no place: "online" replaces the kept city; Munich's
    # workshop is hybrid, so it can be attended online too.
    assert ids_in(last) == [
        "test-2026-online-women",
        "test-2027-online-march",
        "test-2027-munich",
    ]
    assert (slots["event_filter"]["format"], slots["event_filter"]["city"]) == (
        "online",
        None,
    )

    _, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="only in person ones in Hamburg",
        intent="inform_event_filter",
        slots={"language": "en", "event_filter": slots["event_filter"]},
    )
    assert ids_in(dispatcher.messages[-1]) == ["test-2027-hamburg"]
    assert (slots["event_filter"]["city"], slots["event_filter"]["format"]) == (
        "Hamburg",
        "in_person",
    )


async def test_nothing_found_offers_online_events(dispatcher, domain):
    messages, _ = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="events in Leipzig?",
        intent="ask_events",
        entities=[ent("city", "Leipzig")],
        slots={"language": "en"},
    )
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert messages[0]["text"].startswith("I found no upcoming OFR events in Leipzig.")
    assert payloads == ["/ask_events", '/ask_events{"format": "online"}']


async def test_month_and_format_combined(dispatcher, domain):
    messages, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="online events in March",
        intent="ask_events",
        slots={"language": "en"},
        entities=[ent("format", "online"), ent("date", "in March")],
    )
    assert ids_in(messages[0]) == ["test-2027-online-march", "test-2027-munich"]
    assert slots["event_filter"]["period"]["start"] == "2027-03-01"


async def test_a_past_year_asked_as_events_answers_from_the_history(dispatcher, domain):
    messages, _ = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="Veranstaltungen 2022",
        intent="ask_events",
        entities=[ent("date", "2022")],
    )
    assert messages[0]["text"].startswith("Vergangene OFR-Veranstaltungen (2022):")
    assert "Beratung für Pakistan" in messages[0]["text"]


async def test_past_events_by_year(dispatcher, domain):
    messages, _ = await run(
        ActionPastEvents(),
        dispatcher,
        domain,
        text="what did OFR do in 2019?",
        intent="ask_past_events",
        entities=[ent("date", "2019")],
        slots={"language": "en"},
    )
    assert messages[0]["text"].startswith("Past OFR events (2019):")
    assert "Dialogues 2019 — 2019" in messages[0]["text"]

    dispatcher.messages.clear()
    messages, _ = await run(
        ActionPastEvents(),
        dispatcher,
        domain,
        text="Was war 2015?",
        intent="ask_past_events",
        entities=[ent("date", "2015")],
    )
    assert messages[0]["text"].startswith(
        "Ich kenne keine vergangenen OFR-Veranstaltungen (2015)."
    )


async def test_details_by_button_include_calendar_link(dispatcher, domain):
    messages, _ = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text="/ask_event_details",
        intent="ask_event_details",
        entities=[ent("event_id", "test-2027-hamburg")],
        slots={"language": "en"},
    )
    text = messages[0]["text"]
    assert text.startswith(
        "Network meeting Hamburg\n\nWhen: Wednesday, 3 February 2027, 10:00–16:00"
    )
    assert "/webhooks/calendar/events/test-2027-hamburg.ics" in text


async def test_details_by_title_and_by_city(dispatcher, domain):
    messages, _ = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text="mehr infos zum online dialog rückkehrerinnen",
        intent="ask_event_details",
    )
    assert messages[0]["text"].startswith("Online-Dialog: Rückkehrerinnen")

    dispatcher.messages.clear()
    messages, _ = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text="was war in Neu-Ulm?",
        intent="ask_event_details",
        entities=[ent("city", "Neu-Ulm")],
    )
    assert messages[0]["text"].startswith("Beratung für Pakistan")
    assert "bereits stattgefunden" in messages[0]["text"]
    assert ".ics" not in messages[0]["text"]


async def test_no_upcoming_event_names_the_latest_and_the_contact(
    dispatcher, domain, monkeypatch
):
    monkeypatch.setenv("OFR_EVENTS_FILE", str(ROOT / "data" / "events.yml"))
    messages, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="any events coming up?",
        intent="ask_events",
        slots={"language": "en"},
    )
    text = messages[0]["text"]
    assert text.startswith(
        "There are no upcoming OFR events in my calendar at the moment."
    )
    assert (
        "Current developments and experiences in return and reintegration — May 2023"
        in text
    )
    assert "lschardt@iom.int" in text
    assert isinstance(slots["event_filter"], dict)
    # The last event named is in view: "wann genau war die letzte?" asks about it.
    assert slots["shown_events"]["ids"] == ["ofr-2023-nuremberg"]
    assert slots["shown_events"]["kind"] == "latest"


def test_slot_round_trip():
    from ofr.events.periods import parse_period

    wanted = EventFilter(
        city="Köln", format="online", period=parse_period("2027", "en")
    )
    assert EventFilter.from_slot(wanted.to_slot()) == wanted
    assert EventFilter.from_slot("garbage") == EventFilter()


# --- the next, the latest, one event's registration ---------------------------------


async def test_the_next_event_in_full_with_later_ones_a_tap_away(dispatcher, domain):
    messages, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="what's next?",
        intent="ask_events",
        slots={"language": "en"},
    )
    assert messages[0]["text"].startswith("The next OFR event:\n\n")
    assert "Online dialogue: women returnees" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/more_events"]
    assert messages[1]["custom"] == {
        "ics_event_id": "test-2026-online-women",
        "language": "en",
    }
    assert (slots["event_offset"], slots["event_filter"]["scope"]) == (1, "upcoming")


async def test_the_next_event_in_a_city_says_how_to_register(dispatcher, domain):
    messages, _ = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="nächstes Treffen in hambrug?",
        intent="ask_events",
    )
    assert messages[0]["text"].startswith("Die nächste OFR-Veranstaltung in Hamburg:")
    assert "https://example.org/register/hamburg" in messages[0]["text"]


async def test_the_latest_event(dispatcher, domain):
    messages, slots = await run(
        ActionPastEvents(),
        dispatcher,
        domain,
        text="which was the last OFR event?",
        intent="ask_past_events",
        slots={"language": "en"},
    )
    assert messages[0]["text"].startswith("The most recent OFR event I know of:\n")
    assert "Counselling for Pakistan" in messages[0]["text"]
    assert slots["event_filter"]["scope"] == "past"


async def test_no_past_match_names_the_years_the_events_file_has(
    dispatcher, domain, monkeypatch, tmp_path
):
    """The range is computed, never written into the answer: an event that staff
    add to the file moves it, in both languages."""
    events = tmp_path / "events.yml"
    events.write_text(
        FIXTURE.read_text(encoding="utf-8") + "\n  - id: test-2016-bonn\n"
        "    title: {en: Early meeting, de: Frühes Treffen}\n"
        "    start: 2016-05-04\n"
        "    format: in_person\n"
        "    city: Bonn\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("OFR_EVENTS_FILE", str(events))
    for language, text, expected in (
        ("en", "past events in hamburg?", "The events I know of are from 2016–2027."),
        (
            "de",
            "vergangene Veranstaltungen in Hamburg?",
            "Die Veranstaltungen, die ich kenne, liegen im Zeitraum 2016–2027.",
        ),
    ):
        dispatcher.messages.clear()
        messages, _ = await run(
            ActionPastEvents(),
            dispatcher,
            domain,
            text=text,
            intent="ask_past_events",
            slots={"language": language},
        )
        assert expected in messages[0]["text"]


def test_known_years_of_one_year_and_of_no_events() -> None:
    from ofr.events.index import EventIndex
    from ofr.events.model import Event

    one = Event(
        id="a", title={"en": "A", "de": "A"}, start="2021-03-01", format="online"
    )
    assert event_actions.known_years(EventIndex([one])) == "2021"
    assert event_actions.known_years(EventIndex([])) == ""


async def test_nothing_recent_names_the_last_one_there(dispatcher, domain):
    messages, _ = await run(
        ActionPastEvents(),
        dispatcher,
        domain,
        text="was there something in neu-ulm lately?",
        intent="ask_past_events",
        slots={"language": "en"},
    )
    text = messages[0]["text"]
    assert text.startswith("I know of no past OFR events in Neu-Ulm (")
    # The years come from the events file (2019 to 2027 in the fixture).
    assert "The events I know of are from 2019–2027." in text
    assert (
        "The most recent one in Neu-Ulm I know of:\n• Counselling for Pakistan" in text
    )


async def test_registration_without_a_link_says_so_and_names_the_contact(
    dispatcher, domain
):
    messages, _ = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text="how do I register for the munich workshop?",
        intent="ask_event_details",
        slots={"language": "en"},
    )
    assert messages[0]["text"].startswith("Workshop Munich")
    # No source says registration goes through the OFR contact: the answer says
    # what it does not know and gives the contact, dated, for questions.
    assert "I have no registration details for this event." in messages[0]["text"]
    assert (
        "you can contact IOM: Lilith Schardt, lschardt@iom.int, +49 30 27877 8816 "
        "(contact details as published in 2021)"
    ) in messages[0]["text"]
    assert "To register" not in messages[0]["text"]
    assert "hybrid" in messages[0]["text"]


async def test_details_of_nothing_upcoming_say_so(dispatcher, domain):
    messages, _ = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text="wo melde ich mich für das Treffen in Neu-Ulm an?",
        intent="ask_event_details",
    )
    assert messages[0]["text"].startswith(
        "In meinem Kalender steht keine kommende OFR-Veranstaltung in Neu-Ulm."
    )
    assert not any("event_id" in b["payload"] for b in messages[0]["buttons"])


async def test_details_with_nothing_upcoming_keep_the_last_event_in_view(
    dispatcher, domain, monkeypatch
):
    monkeypatch.setenv("OFR_EVENTS_FILE", str(ROOT / "data" / "events.yml"))
    messages, slots = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text="what time does it start?",
        intent="ask_event_details",
        slots={"language": "en"},
    )
    assert messages[0]["text"].startswith("There are no upcoming OFR events")
    assert slots["shown_events"]["ids"] == ["ofr-2023-nuremberg"]


async def test_format_words_in_a_details_question_are_no_filter(dispatcher, domain):
    messages, _ = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text="is the hamburg meeting online or on site?",
        intent="ask_event_details",
        slots={"language": "en"},
    )
    assert messages[0]["text"].startswith("Network meeting Hamburg")
    assert "Hamburg, Rathaus (in person)" in messages[0]["text"]


async def test_no_event_on_a_programme_offers_the_programme(dispatcher, domain):
    messages, _ = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="gibt es Veranstaltungen zu StarthilfePlus?",
        intent="ask_events",
    )
    assert messages[0]["text"].startswith(
        "Ich habe keine kommenden OFR-Veranstaltungen zum Thema „StarthilfePlus“"
    )
    assert messages[0]["buttons"][0] == {
        "title": "Über StarthilfePlus",
        "payload": "/ask_starthilfeplus",
    }


async def test_a_button_after_did_you_mean_reads_the_typed_question(dispatcher, domain):
    typed = {
        "event": "user",
        "text": "webinare im dezember??",
        "parse_data": {"intent": {"name": "nlu_fallback"}, "entities": []},
    }
    button = {"event": "user", "text": "/ask_events", "parse_data": {}}
    messages, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="/ask_events",
        intent="ask_events",
        events=[typed, button],
    )
    assert ids_in(messages[0]) == ["test-2026-online-women"]
    assert slots["event_filter"]["format"] == "online"


async def test_the_recent_period_is_named_in_the_users_language(dispatcher, domain):
    messages, _ = await run(
        ActionPastEvents(),
        dispatcher,
        domain,
        text="war neulich was in neu-ulm?",
        intent="ask_past_events",
    )
    assert messages[0]["text"].startswith(
        "Ich kenne keine vergangenen OFR-Veranstaltungen in Neu-Ulm "
        "(in den letzten drei Monaten)."
    )


def test_title_matching_work_does_not_grow_with_message_times_titles(all_events):
    """Issue 15 (8): titles were matched with difflib over every word of the message,
    every title word and every event (2.5 s for a 400-word message at 100 events).
    Now each title's words are computed once, and a message costs one pass over its
    own words plus one set intersection per event (bench/action_cost.py times it:
    about 20 ms for 2,000 characters at 1,000 events)."""
    from actions.event_actions import _by_title, _title_words

    many = list(all_events) * (1000 // len(all_events) + 1)
    words = "Ich suche den Workshop zur Reintegration in Dresden und Umgebung. " * 30
    _by_title("warm up the title cache " + words, many)
    before = _title_words.cache_info()
    _by_title("another long message " + words, many)
    after = _title_words.cache_info()
    assert after.misses - before.misses == 1  # only the new message itself
    assert after.hits - before.hits == len(many)  # one lookup per event


async def test_a_list_offers_the_calendar_feed_of_its_search(dispatcher, domain):
    messages, _ = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="online events in March",
        intent="ask_events",
        slots={"language": "en"},
        entities=[ent("format", "online"), ent("date", "in March")],
    )
    label, url = messages[0]["text"].splitlines()[-1].split(": ", 1)
    assert (
        label
        == "Subscribe in your calendar (new events of this search appear by themselves)"
    )
    address = urlsplit(url)
    assert address.path == "/webhooks/calendar/feed.ics"
    # A feed holds what is coming: the format is followed, the month is not.
    assert parse_qs(address.query) == {"format": ["online"], "lang": ["en"]}


async def test_the_feed_link_stands_under_the_first_page_only(dispatcher, domain):
    messages, slots = await run(
        ActionSearchEvents(),
        dispatcher,
        domain,
        text="Welche Veranstaltungen gibt es?",
        intent="ask_events",
    )
    assert "Im Kalender abonnieren" in messages[0]["text"]
    assert messages[0]["text"].endswith("/webhooks/calendar/feed.ics?lang=de")
    dispatcher.messages.clear()
    more, _ = await run(
        ActionMoreEvents(),
        dispatcher,
        domain,
        text="mehr",
        intent="more_events",
        slots={"event_filter": slots["event_filter"], "event_offset": 3},
    )
    assert "abonnieren" not in more[0]["text"]


# --- subscribing in words, "remind me" (issue 17) ---------------------------------

ON_TELEGRAM = [{"event": "user", "text": "…", "input_channel": "telegram"}]
ON_REST = [{"event": "user", "text": "…", "input_channel": "rest"}]


async def test_subscribing_in_words_on_telegram_asks_with_a_button(dispatcher, domain):
    messages, _ = await run(
        ActionSubscribeEvents(),
        dispatcher,
        domain,
        text="tell me about new online events in Bavaria",
        intent="subscribe_events",
        slots={"language": "en"},
        entities=[ent("state", "Bavaria"), ent("format", "online")],
        events=ON_TELEGRAM,
    )
    assert messages[0]["text"].startswith("Shall I send you a message here")
    yes, now_button = messages[0]["buttons"]
    # The alert service of the Telegram channel answers this payload itself.
    assert yes["payload"] == "sub:format=online&state=Bayern"
    assert yes["title"] == "🔔 Yes: new events in Bayern (online)"
    assert now_button["payload"].startswith("/ask_events")


async def test_after_a_search_the_offer_names_it_or_all_events(dispatcher, domain):
    searched = EventFilter(city="Hamburg").to_slot()
    messages, _ = await run(
        ActionSubscribeEvents(),
        dispatcher,
        domain,
        text="sag mir Bescheid, wenn es neue gibt",
        intent="subscribe_events",
        slots={"event_filter": searched},
        events=ON_TELEGRAM,
    )
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads[:2] == ["sub:city=Hamburg", "sub:all"]
    assert "in Hamburg" in messages[0]["text"]


async def test_subscribing_in_words_elsewhere_gives_the_calendar_feed(
    dispatcher, domain
):
    messages, _ = await run(
        ActionSubscribeEvents(),
        dispatcher,
        domain,
        text="benachrichtige mich über neue Veranstaltungen in Köln",
        intent="subscribe_events",
        entities=[ent("city", "Köln")],
        events=ON_REST,
    )
    text = messages[0]["text"]
    assert "/subscribe Köln" in text
    address = urlsplit(text.splitlines()[-1])
    assert address.path == "/webhooks/calendar/feed.ics"
    assert parse_qs(address.query) == {"city": ["Köln"], "lang": ["de"]}
    assert not any(b["payload"].startswith("sub:") for b in messages[0]["buttons"])


async def details_of(dispatcher, domain, event_id, events):
    messages, _ = await run(
        ActionEventDetails(),
        dispatcher,
        domain,
        text=f'/ask_event_details{{"event_id": "{event_id}"}}',
        intent="ask_event_details",
        slots={"language": "en"},
        entities=[ent("event_id", event_id)],
        events=events,
    )
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


async def test_upcoming_details_on_telegram_offer_a_reminder(dispatcher, domain):
    assert "remind:test-2027-munich" in await details_of(
        dispatcher, domain, "test-2027-munich", ON_TELEGRAM
    )
    dispatcher.messages.clear()
    # Not on channels that cannot send it later, not for a past event.
    assert await details_of(dispatcher, domain, "test-2027-munich", ON_REST) == []
    dispatcher.messages.clear()
    past = await details_of(dispatcher, domain, "test-2022-neu-ulm", ON_TELEGRAM)
    assert not any(p.startswith("remind:") for p in past)
