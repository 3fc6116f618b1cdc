"""Handover to IOM staff without servers: what is passed on, office hours, tickets."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from bot.storage.tickets import TicketStore
from ofr import office_hours
from ofr.handover import Turn, hours_note, question_and_turns
from ofr_tools import tickets as tickets_tool
from tests.stores import sql_engine


def user(text: str, intent: str) -> Dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def bot(text: str) -> Dict[str, Any]:
    return {"event": "bot", "text": text}


def test_the_latest_real_question_is_passed_on_with_its_answer():
    events: List[Dict[str, Any]] = [
        user("hi", "greet"),
        bot("Hello!"),
        user("What is StarthilfePlus?", "ask_starthilfeplus"),
        bot("StarthilfePlus is ..."),
        user("/ask_contact", "ask_contact"),  # a button: no question of its own
        bot("Write to IOM ..."),
        user("can I talk to a person?", "ask_human"),
    ]
    question, turns = question_and_turns(events)
    assert question == "What is StarthilfePlus?"
    # The last few turns up to the request (buttons left out), the question kept.
    assert turns == [
        Turn("user", "hi"),
        Turn("bot", "Hello!"),
        Turn("user", "What is StarthilfePlus?"),
        Turn("bot", "StarthilfePlus is ..."),
        Turn("bot", "Write to IOM ..."),
        Turn("user", "can I talk to a person?"),
    ]
    later = events + [bot("Offer")] + [user(f"chat {n}", "greet") for n in range(8)]
    question, turns = question_and_turns(later)
    assert question == "What is StarthilfePlus?"
    assert turns[:2] == [Turn("user", question), Turn("bot", "StarthilfePlus is ...")]
    assert len(turns) == 2 + 6 and turns[-1] == Turn("user", "chat 7")


def test_a_request_that_says_what_about_is_the_question():
    long = "I need someone at IOM to look at my client's case from Iraq please"
    assert question_and_turns([user(long, "ask_human")])[0] == long
    assert question_and_turns([user("human please", "ask_human")]) == ("", [])
    assert question_and_turns([]) == ("", [])


def test_office_hours():
    hours = office_hours.parse("Mon-Fri 09:00-17:00")
    assert hours is not None
    friday_evening = datetime(2026, 12, 4, 17, 30, tzinfo=office_hours.BERLIN)
    assert not hours.is_open(friday_evening)
    monday = hours.next_opening(friday_evening)
    assert (monday.weekday(), monday.hour) == (0, 9)
    assert hours.is_open(datetime(2026, 12, 7, 9, 0, tzinfo=office_hours.BERLIN))
    note = hours_note(hours, "en", friday_evening.astimezone(timezone.utc))
    assert "Monday, 7 December 2026, 09:00" in note
    assert "Montag – Freitag, 09:00–17:00 Uhr" in hours_note(hours, "de", monday)
    for wrong in ("weekdays", "Fri-Mon 09:00-17:00", "Mon-Fri 17:00-09:00", "Mo 9-5"):
        assert office_hours.parse(wrong) is None, wrong


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> Iterator[TicketStore]:
    with sql_engine(request.param, tmp_path) as engine:
        yield TicketStore(engine)


def test_a_ticket_is_opened_once_posted_answered_and_deleted(store):
    turns = [Turn("user", "Was ist OFR?")]
    first = store.open("telegram:7", "telegram", "de", "Was ist OFR?", turns, now=1.0)
    again = store.open("telegram:7", "telegram", "de", "Was ist OFR?", turns, now=2.0)
    assert again.id == first.id  # the button pressed twice
    other = store.open("rest:9", "rest", "en", "What is OFR?", [], now=3.0)
    assert other.id != first.id
    assert not store.is_posted(first.id)
    store.posted(first.id, "-100", 55)
    assert store.is_posted(first.id)
    assert store.by_staff_message("-100", 55).id == first.id
    assert store.by_staff_message("-101", 55) is None
    store.answer(first.id, "Hallo!")
    answered = store.by_staff_message("-100", 55)
    assert answered.status == "answered" and answered.answers == ["Hallo!"]
    assert [t.id for t in store.listing()] == [other.id, first.id]  # newest first
    assert [t.id for t in store.listing("open")] == [other.id]
    assert store.forget_conversation("telegram:7") == 1
    assert store.by_staff_message("-100", 55) is None
    text = "\n".join(tickets_tool.lines(store.listing()))
    assert "What is OFR?" in text and "telegram:7" not in text


def test_ticket_numbers_are_never_used_twice(store):
    """Issue 29: after the newest ticket's conversation was deleted, the next ticket
    got its number again, and staff answering "#1" could answer the wrong person."""
    first = store.open("telegram:7", "telegram", "de", "Was ist OFR?", [], now=1.0)
    assert store.forget_conversation("telegram:7") == 1
    second = store.open("rest:9", "rest", "en", "What is OFR?", [], now=2.0)
    assert second.id > first.id
    store.keep_answer("rest:9", second.id, "Hello")
    [waiting] = store.waiting("rest:9")
    assert store.take(waiting.id)
    store.keep_answer("rest:9", second.id, "Again")
    assert store.waiting("rest:9")[0].id > waiting.id


def test_a_tickets_table_from_before_keeps_its_rows_and_never_reuses_numbers(
    tmp_path: Path,
):
    """A SQLite database made before the numbers were AUTOINCREMENT is rebuilt once."""
    import sqlalchemy as sa

    from bot.storage import tickets

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old = sa.MetaData()
    for table in (tickets.TICKETS, tickets.WAITING):
        table.to_metadata(old).dialect_options["sqlite"]["autoincrement"] = False
    old.create_all(engine)
    with engine.connect() as connection:
        made = connection.execute(sa.text("SELECT sql FROM sqlite_master")).scalars()
        assert not any("AUTOINCREMENT" in (sql or "") for sql in made)
    before = TicketStore.__new__(TicketStore)
    before.engine = engine
    kept = TicketStore.open(before, "rest:1", "rest", "en", "Kept?", [], now=1.0)
    gone = TicketStore.open(before, "rest:2", "rest", "en", "Gone?", [], now=2.0)
    store = TicketStore(engine)
    assert [t.id for t in store.listing()] == [gone.id, kept.id]
    assert store.forget_conversation("rest:2") == 1
    assert store.open("rest:3", "rest", "en", "New?", []).id > gone.id
    TicketStore(engine)  # a second start changes nothing
    assert [t.question for t in store.listing()] == ["New?", "Kept?"]


def test_answers_wait_for_a_web_user_and_are_taken_once(store):
    ticket = store.open("socketio:s1", "socketio", "en", "Q?", [], "a@example.org")
    assert ticket.email == "a@example.org"
    store.keep_answer("socketio:s1", ticket.id, "First")
    store.keep_answer("socketio:s1", ticket.id, "Second")
    store.keep_answer("rest:r1", 99, "Other")
    waiting = store.waiting("socketio:s1")
    assert [w.text for w in waiting] == ["First", "Second"]
    assert [w.conversation for w in store.waiting()] == [
        "socketio:s1",
        "socketio:s1",
        "rest:r1",
    ]
    # Two servers try to show the same answer: only one gets it.
    assert store.take(waiting[0].id) is True
    assert store.take(waiting[0].id) is False
    # Deleting the user's data deletes what still waits for them.
    store.forget_conversation("socketio:s1")
    assert store.waiting("socketio:s1") == []
    assert [w.text for w in store.waiting()] == ["Other"]


def test_handover_needs_the_staff_group_and_the_telegram_bot():
    from ofr import settings

    assert not settings.read({}).handover_available
    only_group = {"TELEGRAM_STAFF_CHAT_ID": "-1001"}
    assert not settings.read(only_group).handover_available
    both = {**only_group, "TELEGRAM_TOKEN": "1:x"}
    assert settings.read(both).handover_available
    assert not settings.read(both).answers_by_email
    mail = {"OFR_SMTP_URL": "smtp://127.0.0.1:25", "OFR_STAFF_EMAIL": "s@example.org"}
    assert settings.read({**both, **mail}).answers_by_email


def test_what_staff_see_names_an_address_but_does_not_show_it():
    from bot.services.handover_desk import email_ok, staff_text
    from bot.storage.tickets import Ticket

    ticket = Ticket(
        3,
        "socketio:x",
        "socketio",
        "de",
        "Frage?",
        [Turn("user", "Frage?")],
        "open",
        0.0,
        email="me@example.org",
    )
    text = staff_text(ticket)
    assert text.startswith("Ticket #3 · DE · socketio")
    assert "left an e-mail address" in text and "me@example.org" not in text
    assert email_ok("me@example.org") and email_ok("a.b+c@sub.example.de")
    for wrong in ("me@", "me@example", "a b@example.org", "x" * 250 + "@example.org"):
        assert not email_ok(wrong), wrong


def test_a_waiting_answer_is_offered_by_one_server_until_acknowledged(store):
    """Issue 29, finding 9: a web chat's answer is offered, deleted once the widget
    acknowledged it, and offered again only when no acknowledgement came."""
    ticket = store.open("socketio:s1", "socketio", "en", "Q?", [])
    store.keep_answer("socketio:s1", ticket.id, "First")
    [waiting] = store.waiting("socketio:s1")
    assert store.offer(waiting.id, 15, now=100.0) is True
    assert store.offer(waiting.id, 15, now=101.0) is False  # another server: not now
    store.offer_again(waiting.id)  # no acknowledgement came
    assert store.waiting("socketio:s1") == [waiting]
    assert store.offer(waiting.id, 15, now=102.0) is True
    # A server that died while offering it: after the offer's time, another offers.
    assert store.offer(waiting.id, 15, now=117.0) is True
    assert store.delivered(waiting.id) is True  # acknowledged
    assert store.waiting("socketio:s1") == []
    assert store.delivered(waiting.id) is False
    assert store.offer(waiting.id, 15, now=200.0) is False  # never again


def test_a_waiting_answers_table_from_before_gets_the_offer_column(tmp_path: Path):
    import sqlalchemy as sa

    from bot.storage import tickets

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old = sa.MetaData()
    table = sa.Table(
        tickets.WAITING.name,
        old,
        *(c.copy() for c in tickets.WAITING.columns if c.name != "offered_until"),
        sqlite_autoincrement=True,
    )
    old.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(table).values(
                conversation="socketio:s1", ticket_id=1, text="Kept", created=1.0
            )
        )
    store = TicketStore(engine)
    [kept] = store.waiting("socketio:s1")
    assert kept.text == "Kept" and store.offer(kept.id, 15, now=1.0)
    TicketStore(engine)  # a second start changes nothing
    assert not store.offer(kept.id, 15, now=2.0)
