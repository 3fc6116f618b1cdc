"""A staff answer goes by e-mail only to an address its owner confirmed (issue 29,
finding 4): a web user could type anyone's address and make IOM mail there.

The desk (bot/services/handover_desk.py) runs as on the Rasa server, with a real
SMTP server on this machine (tests/mailbox.py) and the tickets in SQLite or
PostgreSQL. Mail is sent before ``open_ticket`` and ``answer`` return, so what the
mailbox holds then is all that was sent: no waiting for mail that should not come.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from bot.services import email_codes
from bot.services.handover_desk import HandoverDesk
from bot.storage import email_checks
from bot.storage.email_checks import (
    CODE_MINUTES,
    MAX_ATTEMPTS,
    MAX_CODES_PER_ADDRESS,
    MAX_CODES_PER_TICKET,
    EmailChecks,
)
from bot.storage.tickets import Ticket, TicketStore, delete_tickets
from tests.mailbox import Mailbox, running_mailbox
from tests.stores import sql_engine

ADDRESS = "counsellor@example.org"
QUESTION = "Which reintegration help is there for returnees to Iraq?"
STAFF_TEXT = "Hello from IOM: ERRIN partners advise returnees in Iraq."


# ------------------------------------------------------------ reading a code


@pytest.mark.parametrize(
    "text",
    [
        "123456",
        " 123 456 ",
        "123-456",
        "Code: 123456",
        "my code is 123456",
        "the code is 123 456, thanks",
        "der Code ist 123456",
        "Mein Code lautet 123456.",
        "Code 123456 bitte",
    ],
)
def test_a_code_is_read_in_either_language(text):
    assert email_codes.code_in(text) == "123456"


@pytest.mark.parametrize(
    "text",
    [
        "12345",  # too short
        "1234567",  # too long
        "+49 30 27877 8816",  # a phone number
        "123456 and 654321",  # two
        "events on 20.05.2027 in Berlin 123456",
        "What happened at OFR in 2019 and what is planned for 123456 returnees in the "
        "next years, and who pays for it?",
        "Was ist OFR?",
    ],
)
def test_other_messages_are_no_code(text):
    assert email_codes.code_in(text) is None


# ------------------------------------------------------------ the checks


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request, tmp_path: Path) -> Iterator[Tuple[TicketStore, EmailChecks]]:
    with sql_engine(request.param, tmp_path) as engine:
        tickets = TicketStore(engine)  # makes the tables
        yield tickets, EmailChecks(engine)


def a_ticket(tickets: TicketStore, conversation: str = "socketio:s1") -> Ticket:
    return tickets.open(conversation, "socketio", "en", QUESTION, [], ADDRESS)


def test_the_right_code_confirms_the_address(stores):
    tickets, checks = stores
    ticket = a_ticket(tickets)
    code = checks.start(ticket.id, ticket.conversation, "en", ADDRESS, now=100.0)
    assert code is not None and re.fullmatch(r"\d{6}", code)
    assert checks.verified_address(ticket.id) is None
    assert checks.check("socketio:other", code, now=101.0) is None  # not theirs
    result = checks.check(ticket.conversation, code, now=101.0)
    assert result is not None and (result.outcome, result.ticket_id) == (
        "right",
        ticket.id,
    )
    assert checks.verified_address(ticket.id) == ADDRESS
    # Confirmed: a number typed later is an ordinary message again.
    assert checks.check(ticket.conversation, code, now=102.0) is None


def test_a_wrong_code_is_refused_and_the_tries_are_limited(stores):
    tickets, checks = stores
    ticket = a_ticket(tickets)
    code = checks.start(ticket.id, ticket.conversation, "en", ADDRESS, now=100.0)
    assert code is not None
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    lefts = []
    for _ in range(MAX_ATTEMPTS - 1):
        result = checks.check(ticket.conversation, wrong, now=101.0)
        assert result is not None and result.outcome == "wrong"
        lefts.append(result.left)
    assert lefts == list(range(MAX_ATTEMPTS - 1, 0, -1))
    last = checks.check(ticket.conversation, wrong, now=101.0)
    assert last is not None and last.outcome == "no_more"
    # No more tries: not even the right code confirms now.
    after = checks.check(ticket.conversation, code, now=101.0)
    assert after is not None and after.outcome == "no_more"
    assert checks.verified_address(ticket.id) is None


def test_a_code_expires(stores):
    tickets, checks = stores
    ticket = a_ticket(tickets)
    code = checks.start(ticket.id, ticket.conversation, "de", ADDRESS, now=100.0)
    assert code is not None
    late = 100.0 + CODE_MINUTES * 60
    result = checks.check(ticket.conversation, code, now=late)
    assert result is not None and (result.outcome, result.language) == (
        "expired",
        "de",
    )
    assert checks.verified_address(ticket.id) is None
    # A day after, a number in the chat is no longer read as this code.
    assert checks.check(ticket.conversation, code, now=late + 2 * 86400) is None


def test_codes_are_limited_per_ticket_and_per_address(stores):
    tickets, checks = stores
    ticket = a_ticket(tickets)
    codes = [
        checks.start(ticket.id, ticket.conversation, "en", ADDRESS, now=100.0 + n)
        for n in range(MAX_CODES_PER_TICKET + 1)
    ]
    assert all(codes[:MAX_CODES_PER_TICKET]) and codes[-1] is None
    # Only the newest code counts.
    first = checks.check(ticket.conversation, codes[0] or "", now=200.0)
    assert first is not None and first.outcome == "wrong"
    # Other tickets (other conversations) mailing the same address: a daily cap.
    sent = MAX_CODES_PER_TICKET
    for number in range(MAX_CODES_PER_ADDRESS):
        other = a_ticket(tickets, f"socketio:o{number}")
        code = checks.start(other.id, other.conversation, "en", ADDRESS, now=300.0)
        sent += code is not None
    assert sent == MAX_CODES_PER_ADDRESS
    later = a_ticket(tickets, "socketio:next-day")
    assert checks.start(later.id, later.conversation, "en", ADDRESS, now=300.0 + 86401)


def test_a_check_goes_with_the_conversation(stores):
    tickets, checks = stores
    ticket = a_ticket(tickets)
    code = checks.start(ticket.id, ticket.conversation, "en", ADDRESS, now=100.0)
    assert code is not None
    with tickets.engine.begin() as connection:
        delete_tickets(connection, ticket.conversation)
    assert checks.check(ticket.conversation, code, now=101.0) is None


# ------------------------------------------------------------ the desk, with mail


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as box:
        yield box


@pytest.fixture
def desk(monkeypatch, tmp_path: Path, mailbox: Mailbox, rasa_domain) -> HandoverDesk:
    from rasa.core.tracker_store import InMemoryTrackerStore

    monkeypatch.setenv("OFR_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:test")
    monkeypatch.setenv("TELEGRAM_STAFF_CHAT_ID", "-1001")
    monkeypatch.setenv("OFR_SMTP_URL", f"smtp://127.0.0.1:{mailbox.port}")
    monkeypatch.setenv("OFR_STAFF_EMAIL", "ofr-staff@example.org")
    made = HandoverDesk(tracker_store=InMemoryTrackerStore(rasa_domain))

    async def poster(ticket: Ticket, text: str) -> bool:
        """The staff group, as the Telegram channel posts there."""
        made.store().posted(ticket.id, "-1001", ticket.id)
        return True

    made.poster = poster
    return made


def conversation_with_a_question(desk: HandoverDesk, rasa_domain, name: str) -> str:
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    conversation = f"socketio:{name}"
    tracker = DialogueStateTracker(conversation, rasa_domain.slots)
    tracker.update(SlotSet("language", "en"))
    tracker.update(UserUttered(QUESTION, {"name": "ask_reintegration"}))
    asyncio.run(desk.tracker_store.save(tracker))
    return conversation


def mails_to(mailbox: Mailbox, address: str) -> List[str]:
    return [m for m in mailbox.messages if f"To: {address}" in m]


def code_in_mail(mail: str) -> str:
    [code] = re.findall(r"^(\d{6})\s*$", mail, flags=re.MULTILINE)
    return code


def hand_over(desk: HandoverDesk, conversation: str, email: Optional[str]) -> str:
    return asyncio.run(desk.open_ticket(conversation, "socketio", "en", email=email))


def staff_answer(desk: HandoverDesk, conversation: str) -> Any:
    [ticket] = [t for t in desk.store().listing() if t.conversation == conversation]
    return asyncio.run(desk.answer(ticket, STAFF_TEXT))


def test_an_unconfirmed_address_gets_a_code_and_never_the_answer(
    desk, mailbox, rasa_domain
):
    conversation = conversation_with_a_question(desk, rasa_domain, "unconfirmed")
    done = hand_over(desk, conversation, ADDRESS)
    assert "type here the code" in done and "Without it, nothing is sent" in done
    [mail] = mails_to(mailbox, ADDRESS)
    # The code mail holds the code and the number, nothing the user wrote.
    assert code_in_mail(mail) and QUESTION not in mail
    assert staff_answer(desk, conversation) == "ticket_answer_waiting"
    assert mails_to(mailbox, ADDRESS) == [mail]  # no answer: the address is unconfirmed
    assert not any(STAFF_TEXT in m for m in mailbox.messages)


def test_after_the_right_code_the_answer_goes_to_the_address(
    desk, mailbox, rasa_domain
):
    conversation = conversation_with_a_question(desk, rasa_domain, "confirmed")
    hand_over(desk, conversation, ADDRESS)
    code = code_in_mail(mails_to(mailbox, ADDRESS)[0])
    typed = f"der Code ist {code[:3]} {code[3:]}"
    reply = asyncio.run(desk.confirm_email(conversation, typed))
    assert reply is not None and reply.startswith("Thank you, your e-mail address")
    # Pressing "Yes, pass it on" again with the same address sends no new code.
    again = hand_over(desk, conversation, ADDRESS)
    assert "already with IOM staff" in again and "is confirmed" in again
    assert len(mails_to(mailbox, ADDRESS)) == 1
    staff_answer(desk, conversation)
    [_, answer] = mails_to(mailbox, ADDRESS)
    assert STAFF_TEXT in answer and "From: ofr-staff@example.org" in answer
    # A later ticket of the same conversation to the same address needs no code.
    later = hand_over(desk, conversation, ADDRESS)
    assert "is confirmed" in later and len(mails_to(mailbox, ADDRESS)) == 2
    # Another address is another matter.
    other = hand_over(desk, conversation, "someone.else@example.org")
    assert "type here the code" in other
    assert len(mails_to(mailbox, "someone.else@example.org")) == 1


def test_a_wrong_code_is_refused_and_the_answer_stays_in_the_chat(
    desk, mailbox, rasa_domain
):
    conversation = conversation_with_a_question(desk, rasa_domain, "wrong")
    hand_over(desk, conversation, ADDRESS)
    code = code_in_mail(mails_to(mailbox, ADDRESS)[0])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    reply = asyncio.run(desk.confirm_email(conversation, wrong))
    assert reply == (
        f"That code is not right. Please type the code from the e-mail again "
        f"({MAX_ATTEMPTS - 1} more tries)."
    )
    # An ordinary message is no code and goes on to the assistant.
    assert asyncio.run(desk.confirm_email(conversation, "Was ist OFR?")) is None
    staff_answer(desk, conversation)
    assert not any(STAFF_TEXT in m for m in mailbox.messages)


def test_an_expired_code_confirms_nothing(desk, mailbox, rasa_domain, monkeypatch):
    conversation = conversation_with_a_question(desk, rasa_domain, "expired")
    hand_over(desk, conversation, ADDRESS)
    code = code_in_mail(mails_to(mailbox, ADDRESS)[0])
    later = email_checks.time.time() + CODE_MINUTES * 60 + 1
    monkeypatch.setattr(email_checks.time, "time", lambda: later)
    reply = asyncio.run(desk.confirm_email(conversation, code))
    assert reply is not None and reply.startswith("That code has expired")
    staff_answer(desk, conversation)
    assert not any(STAFF_TEXT in m for m in mailbox.messages)


def test_without_a_mail_server_no_address_is_kept(
    desk, mailbox, rasa_domain, monkeypatch
):
    monkeypatch.delenv("OFR_SMTP_URL")
    monkeypatch.delenv("OFR_STAFF_EMAIL")
    conversation = conversation_with_a_question(desk, rasa_domain, "no-mail")
    done = hand_over(desk, conversation, ADDRESS)
    assert "code" not in done
    [ticket] = [t for t in desk.store().listing() if t.conversation == conversation]
    assert ticket.email is None and mailbox.messages == []
