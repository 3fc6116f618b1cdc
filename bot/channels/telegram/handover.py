"""Questions handed over to IOM staff through a Telegram staff group.

After the user asked for a person and pressed the confirming button ("Yes, pass it
on", payload ``handover:confirm``), the question and the last few turns
(ofr/handover.py) become a ticket (bot/storage/tickets.py), posted to
``TELEGRAM_STAFF_CHAT_ID``. A member of that group answers by replying to the
ticket's message: the reply goes to the user's chat, marked as coming from IOM
staff, and into the conversation. Anything else said in the staff group is ignored:
it is never a question to the assistant.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from rasa.shared.core.events import BotUttered
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application

from bot.channels.staff_email import send_ticket_mail
from bot.channels.telegram.chats import (
    CHANNEL_NAME,
    chat_id_of,
    conversation_of,
    user_language,
)
from bot.channels.telegram.format import escape, split_message
from bot.storage.tickets import Ticket, TicketStore, ticket_store_for
from ofr import settings
from ofr.handover import question_and_turns
from ofr.messages import message

logger = logging.getLogger(__name__)

HANDOVER_PREFIX = "handover:"
CONFIRM = HANDOVER_PREFIX + "confirm"


def staff_text(ticket: Ticket) -> str:
    """The ticket as staff see it in their group."""
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
    lines += ["", message("ticket_how_to_answer", "en")]
    return "\n".join(lines)


class HandoverService:
    """The Telegram side of handovers: tickets from chats, answers from staff."""

    def __init__(self, application: Application) -> None:
        self.application = application
        # Set by the channel when the server has started (bot/channels/telegram/input.py).
        self.tracker_store: Any = None
        self.lock_store: Any = None

    def _store(self) -> TicketStore:
        return ticket_store_for(self.tracker_store, settings.current().var_dir)

    @staticmethod
    def staff_chat() -> Optional[int]:
        return settings.current().telegram_staff_chat_id

    def is_staff_chat(self, update: Update) -> bool:
        chat = update.effective_chat
        staff = self.staff_chat()
        return chat is not None and staff is not None and chat.id == staff

    # ------------------------------------------------------------ from the user

    async def confirm(self, update: Update) -> None:
        """The user pressed "Yes, pass it on": open the ticket and post it."""
        chat = update.effective_chat
        if chat is None:
            return
        language = user_language(update)
        bot = self.application.bot
        staff = self.staff_chat()
        if staff is None or self.tracker_store is None:
            await bot.send_message(chat.id, message("handover_unavailable", language))
            return
        conversation = conversation_of(chat)
        tracker = await self.tracker_store.retrieve(conversation)
        events = [event.as_dict() for event in tracker.events] if tracker else []
        language = (tracker.get_slot("language") if tracker else None) or language
        question, turns = question_and_turns(events)
        if not question:
            await bot.send_message(chat.id, message("handover_no_question", language))
            return
        store = self._store()
        ticket = await asyncio.to_thread(
            store.open, conversation, CHANNEL_NAME, language, question, turns
        )
        if await asyncio.to_thread(store.is_posted, ticket.id):
            await bot.send_message(
                chat.id, message("handover_already", language, number=ticket.id)
            )
            return
        try:
            posted = None
            for chunk in split_message(staff_text(ticket)):
                posted = await bot.send_message(
                    staff, escape(chunk), parse_mode=ParseMode.HTML
                )
        except TelegramError as error:
            logger.error(
                "Posting ticket %s failed: %s", ticket.id, type(error).__name__
            )
            await bot.send_message(chat.id, message("handover_failed", language))
            return
        assert posted is not None
        await asyncio.to_thread(store.posted, ticket.id, str(staff), posted.message_id)
        await asyncio.to_thread(send_ticket_mail, ticket.id, staff_text(ticket))
        await bot.send_message(
            chat.id, message("handover_done", language, number=ticket.id)
        )

    # ------------------------------------------------------------ from staff

    async def staff_message(self, update: Update) -> None:
        """A message in the staff group: a reply to a ticket answers it; anything
        else is not for the bot."""
        msg, chat = update.effective_message, update.effective_chat
        if msg is None or chat is None or not self.is_staff_chat(update):
            return
        replied = msg.reply_to_message
        text = (msg.text or "").strip()
        if replied is None or not text:
            return
        store = self._store()
        ticket = await asyncio.to_thread(
            store.by_staff_message, str(chat.id), replied.message_id
        )
        if ticket is None:
            return  # a reply to something that is not (or no longer) a ticket
        delivered = await self._deliver(ticket, text)
        await asyncio.to_thread(store.answer, ticket.id, text)
        note = "ticket_answer_sent" if delivered else "ticket_answer_kept"
        await self.application.bot.send_message(
            chat.id,
            message(note, "en", number=ticket.id),
            reply_to_message_id=msg.message_id,
        )

    async def _deliver(self, ticket: Ticket, text: str) -> bool:
        """The answer to the user's chat, and into their conversation."""
        answer = message(
            "handover_answer", ticket.language, number=ticket.id, text=text
        )
        await self._write_into_conversation(ticket, answer)
        user_chat = chat_id_of(ticket.conversation)
        if user_chat is None:
            return False  # a conversation of another channel: the widget shows it
        try:
            for chunk in split_message(answer):
                await self.application.bot.send_message(user_chat, chunk)
        except TelegramError as error:
            logger.error(
                "Sending the answer of ticket %s failed: %s",
                ticket.id,
                type(error).__name__,
            )
            return False
        return True

    async def _write_into_conversation(self, ticket: Ticket, answer: str) -> None:
        if self.tracker_store is None:
            return

        async def append() -> None:
            tracker = await self.tracker_store.retrieve(ticket.conversation)
            if tracker is None:
                return  # deleted meanwhile
            tracker.update(BotUttered(answer, metadata={"ofr_staff_answer": ticket.id}))
            await self.tracker_store.save(tracker)

        if self.lock_store is not None:
            async with self.lock_store.lock(ticket.conversation):
                await append()
        else:
            await append()
