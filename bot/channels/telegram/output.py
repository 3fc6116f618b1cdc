"""Sends the assistant's answers to Telegram: text in HTML, buttons, calendar files."""

from __future__ import annotations

import logging
from typing import Any, Dict

from rasa.core.channels.channel import OutputChannel
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application

from bot.channels.answer_output import Answer, AnswerOutput
from bot.channels.telegram.buttons import ButtonPayloads
from bot.channels.telegram.chats import CHANNEL_NAME, chat_id_of
from bot.channels.telegram.format import escape, split_message
from ofr.events.calendar import ics
from ofr.events.store import default_store

logger = logging.getLogger(__name__)


class TelegramOutput(AnswerOutput, OutputChannel):
    """Sends Rasa's answers with python-telegram-bot."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, application: Application, payloads: ButtonPayloads) -> None:
        self.application = application
        self.payloads = payloads

    async def _send(self, recipient_id: str, text: str, markup: Any = None) -> None:
        chat_id = chat_id_of(recipient_id)
        if chat_id is None:
            return
        chunks = split_message(text)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            try:
                await self.application.bot.send_message(
                    chat_id=chat_id,
                    text=escape(chunk),
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if last else None,
                    disable_web_page_preview=True,
                )
            except TelegramError as error:
                logger.error("sendMessage to a chat failed: %s", type(error).__name__)

    async def send_answer(self, recipient_id: str, answer: Answer) -> None:
        """One button per row; an answer to a question ends with a 👍 👎 row."""
        rows = [
            [
                InlineKeyboardButton(
                    button["title"][:64],
                    callback_data=self.payloads.encode(button["payload"]),
                )
            ]
            for button in answer.buttons
            if button.get("title") and button.get("payload")
        ]
        if answer.votes:
            rows.append(
                [
                    InlineKeyboardButton(b["title"], callback_data=b["payload"])
                    for b in answer.votes
                ]
            )
        await self._send(
            recipient_id, answer.text, InlineKeyboardMarkup(rows) if rows else None
        )

    async def send_image_url(
        self, recipient_id: str, image: str, **kwargs: Any
    ) -> None:
        await self._send(recipient_id, image)

    async def send_attachment(
        self, recipient_id: str, attachment: str, **kwargs: Any
    ) -> None:
        await self._send(recipient_id, str(attachment))

    async def send_custom_json(
        self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any
    ) -> None:
        """Actions attach {"ics_event_id": ...} to event details: send the .ics file."""
        event_id = (
            json_message.get("ics_event_id") if isinstance(json_message, dict) else None
        )
        event = default_store().get(str(event_id)) if event_id else None
        if event is None:
            return
        language = json_message.get("language", "de")
        chat_id = chat_id_of(recipient_id)
        if chat_id is None:
            return
        try:
            await self.application.bot.send_document(
                chat_id=chat_id,
                document=InputFile(ics(event, language), filename=f"{event.id}.ics"),
            )
        except TelegramError as error:
            logger.error("sendDocument to a chat failed: %s", type(error).__name__)
