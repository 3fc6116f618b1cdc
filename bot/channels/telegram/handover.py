"""The Telegram side of handovers to IOM staff (bot/services/handover_desk.py).

It posts every ticket (from any channel) to ``TELEGRAM_STAFF_CHAT_ID`` and sends
staff answers to Telegram users. In the staff group, a reply to a ticket's message
answers it; anything else said there is ignored: it is never a question to the
assistant.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application

from bot.channels.telegram.chats import (
    CHANNEL_NAME,
    chat_id_of,
    conversation_of,
    user_language,
)
from bot.channels.telegram.format import escape, split_message
from bot.services.handover_desk import PREFIX, HandoverDesk, desk
from bot.storage.tickets import Ticket
from ofr import settings
from ofr.messages import message

logger = logging.getLogger(__name__)

HANDOVER_PREFIX = PREFIX


class HandoverService:
    """Tickets to the staff group, answers from it."""

    def __init__(
        self, application: Application, handover: Optional[HandoverDesk] = None
    ) -> None:
        self.application = application
        self.desk = handover or desk()
        self.desk.poster = self.post_ticket
        self.desk.senders[CHANNEL_NAME] = self.send_answer

    def attach(self, agent: Any) -> None:
        self.desk.attach(agent)

    @staticmethod
    def staff_chat() -> Optional[int]:
        return settings.current().telegram_staff_chat_id

    def is_staff_chat(self, update: Update) -> bool:
        chat = update.effective_chat
        staff = self.staff_chat()
        return chat is not None and staff is not None and chat.id == staff

    # ------------------------------------------------------------ from the user

    async def confirm(self, update: Update) -> None:
        """The user pressed "Yes, pass it on"."""
        chat = update.effective_chat
        if chat is None:
            return
        reply = await self.desk.open_ticket(
            conversation_of(chat), CHANNEL_NAME, user_language(update)
        )
        await self.application.bot.send_message(chat.id, reply)

    async def post_ticket(self, ticket: Ticket, text: str) -> bool:
        staff = self.staff_chat()
        if staff is None:
            return False
        try:
            posted = None
            for chunk in split_message(text):
                posted = await self.application.bot.send_message(
                    staff, escape(chunk), parse_mode=ParseMode.HTML
                )
        except TelegramError as error:
            logger.error(
                "Posting ticket %s failed: %s", ticket.id, type(error).__name__
            )
            return False
        if posted is None:
            return False
        await asyncio.to_thread(
            self.desk.store().posted, ticket.id, str(staff), posted.message_id
        )
        return True

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
        ticket = await asyncio.to_thread(
            self.desk.store().by_staff_message, str(chat.id), replied.message_id
        )
        if ticket is None:
            return  # a reply to something that is not (or no longer) a ticket
        note = await self.desk.answer(ticket, text)
        await self.application.bot.send_message(
            chat.id,
            message(note, "en", number=ticket.id),
            reply_to_message_id=msg.message_id,
        )

    async def send_answer(self, ticket: Ticket, answer: str) -> bool:
        user_chat = chat_id_of(ticket.conversation)
        if user_chat is None:
            return False
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
