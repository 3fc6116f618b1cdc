"""Handing questions over to IOM staff, whatever channel the user is on.

A user who asked for a person and pressed "Yes, pass it on" (payload
``handover:confirm``) gets a ticket (bot/storage/tickets.py): the question and the
last few turns (ofr/handover.py), and on the web an e-mail address if they left
one. The Telegram channel posts it to the staff group (``TELEGRAM_STAFF_CHAT_ID``);
it also goes to the staff mailbox when e-mail is set up. Staff answer by replying
to the ticket in the group, and the answer goes back the way the question came:

- Telegram: sent to the chat at once;
- web chat and REST: kept as a waiting answer, shown at once in a web chat that is
  open (on whichever server holds its socket) or when the user comes back; a web
  user who left an address also gets it by e-mail once they confirmed the address
  (bot/services/email_codes.py): an address nobody confirmed gets no answer;
- always written into the conversation, marked as coming from IOM staff.

One desk per process, shared by the channels (they register what they can do).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.shared.core.events import BotUttered

from bot.services import email_codes
from bot.services.staff_email import send_answer_mail, send_ticket_mail
from bot.storage.conversation_updates import update_conversation
from bot.storage.email_checks import EmailChecks
from bot.storage.tickets import Ticket, TicketStore, ticket_store_for
from ofr import settings
from ofr.handover import question_and_turns
from ofr.messages import message

logger = logging.getLogger(__name__)

PREFIX = "handover:"  # ofr.handover.CONFIRM_PAYLOAD and any later handover button
STAFF_ANSWER_KEY = "ofr_staff_answer"
_EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]{2,}")
MAX_EMAIL = 254

# Posts a ticket to the staff group; True once it is there.
Poster = Callable[[Ticket, str], Awaitable[bool]]
# Sends an answer to the user's chat at once; True when it arrived.
Sender = Callable[[Ticket, str], Awaitable[bool]]


def is_handover(text: str) -> bool:
    return text.startswith(PREFIX)


def email_ok(address: str) -> bool:
    return len(address) <= MAX_EMAIL and _EMAIL.fullmatch(address) is not None


def staff_text(ticket: Ticket) -> str:
    """The ticket as staff see it, in the group and by e-mail."""
    lines = [
        message(
            "ticket_heading",
            "en",
            number=ticket.id,
            lang=ticket.language.upper(),
            channel=ticket.channel,
        ),
        "",
        message("ticket_question", "en") + " " + ticket.question,
        "",
        message("ticket_turns", "en"),
    ]
    for turn in ticket.turns:
        who = message(f"ticket_{turn.speaker}", "en")
        lines.append(f"{who}: {turn.text}")
    if ticket.email:
        lines += ["", message("ticket_email", "en")]
    lines += ["", message("ticket_how_to_answer", "en")]
    return "\n".join(lines)


@dataclass
class HandoverDesk:
    tracker_store: Any = None
    lock_store: Any = None
    poster: Optional[Poster] = None
    senders: Dict[str, Sender] = field(default_factory=dict)
    # Called when an answer is waiting, so a web chat shows it without delay.
    on_waiting: List[Callable[[], None]] = field(default_factory=list)

    def attach(self, agent: Any) -> None:
        """The running server's stores (any channel may call this at start)."""
        if agent is not None and getattr(agent, "tracker_store", None) is not None:
            self.tracker_store = agent.tracker_store
            self.lock_store = getattr(agent, "lock_store", None)

    def store(self) -> TicketStore:
        return ticket_store_for(self.tracker_store, settings.current().var_dir)

    def email_checks(self) -> EmailChecks:
        """The e-mail confirmations, beside the tickets."""
        return EmailChecks(self.store().engine)

    # ------------------------------------------------------------ from the user

    async def open_ticket(
        self,
        conversation: str,
        channel: str,
        language: str,
        email: Optional[str] = None,
    ) -> str:
        """Open and post the ticket of the user's latest question; what to tell
        the user, in their language."""
        tracker = (
            await self.tracker_store.retrieve(conversation)
            if self.tracker_store is not None
            else None
        )
        language = (tracker.get_slot("language") if tracker else None) or language
        if not settings.current().handover_available or self.poster is None:
            return message("handover_unavailable", language)
        email = (email or "").strip() or None
        if not settings.current().answers_by_email:
            email = None  # no mail server: nothing would go there
        if email is not None and not email_ok(email):
            return message("handover_bad_email", language)
        events = [event.as_dict() for event in tracker.events] if tracker else []
        question, turns = question_and_turns(events)
        if not question:
            return message("handover_no_question", language)
        store = self.store()
        ticket = await asyncio.to_thread(
            store.open, conversation, channel, language, question, turns, email
        )
        if await asyncio.to_thread(store.is_posted, ticket.id):
            reply = message(_already(channel), language, number=ticket.id)
        else:
            text = staff_text(ticket)
            if not await self.poster(ticket, text):
                return message("handover_failed", language)
            await asyncio.to_thread(send_ticket_mail, ticket.id, text)
            reply = message(_done(channel), language, number=ticket.id)
        if email is None:
            return reply
        note = await email_codes.ask_to_confirm(
            self.email_checks(), ticket, email, language
        )
        return f"{reply} {note}"

    async def confirm_email(self, conversation: str, text: str) -> Optional[str]:
        """The reply to a confirmation code typed in the chat; None when ``text``
        is no code for an open confirmation (an ordinary message)."""
        if not settings.current().answers_by_email:
            return None
        return await email_codes.confirm(self.email_checks(), conversation, text)

    # ------------------------------------------------------------ from staff

    async def answer(self, ticket: Ticket, text: str) -> str:
        """Pass a staff answer on; the name of the note that tells staff how."""
        answer = message(
            "handover_answer", ticket.language, number=ticket.id, text=text
        )
        await self._write_into_conversation(ticket, answer)
        store = self.store()
        await asyncio.to_thread(store.answer, ticket.id, text)
        sender = self.senders.get(ticket.channel)
        if sender is not None:
            return (
                "ticket_answer_sent"
                if await sender(ticket, answer)
                else ("ticket_answer_kept")
            )
        await asyncio.to_thread(
            store.keep_answer, ticket.conversation, ticket.id, answer
        )
        for wake in self.on_waiting:
            wake()
        # Only to an address its owner confirmed: anyone can type anyone's.
        address = await asyncio.to_thread(
            self.email_checks().verified_address, ticket.id
        )
        if address:
            subject = message(
                "handover_mail_subject", ticket.language, number=ticket.id
            )
            await asyncio.to_thread(send_answer_mail, address, subject, answer)
        return "ticket_answer_waiting"

    async def _write_into_conversation(self, ticket: Ticket, answer: str) -> None:
        def append(tracker: Any) -> bool:
            tracker.update(BotUttered(answer, metadata={STAFF_ANSWER_KEY: ticket.id}))
            return True

        await update_conversation(
            self.tracker_store, self.lock_store, ticket.conversation, append
        )


def _done(channel: str) -> str:
    return "handover_done" if channel == "telegram" else "handover_done_web"


def _already(channel: str) -> str:
    return "handover_already" if channel == "telegram" else "handover_already_web"


_desk = HandoverDesk()


def desk() -> HandoverDesk:
    """This process's desk."""
    return _desk
