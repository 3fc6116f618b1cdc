"""What the bot does with each kind of Telegram update.

Commands and typed text become questions to the assistant; a pressed button asks
its payload; anything else gets a short note. Updates reach these handlers through
``Application.process_update`` (bot/channels/telegram/input.py).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.telegram.alerts import AlertService, is_alert_button
from bot.channels.telegram.buttons import ButtonPayloads
from bot.channels.telegram.chats import CHANNEL_NAME, conversation_of, user_language
from bot.channels.telegram.handover import HANDOVER_PREFIX, HandoverService
from bot.channels.telegram.output import TelegramOutput
from bot.dialogue.follow_ups import each_message
from bot.services import feedback
from bot.services.answered_once import identified, part_id
from bot.services.input_limits import clean_text, note, stored_language, text_problem
from bot.services.rate_limits import record_refusal, shared_limits
from ofr import deep_links
from ofr.feedback import is_feedback
from ofr.messages import message

logger = logging.getLogger(__name__)

# Commands that are simply questions to the assistant.
COMMAND_PAYLOADS = {
    "start": ["/greet", "/what_can_you_do"],
    "help": ["/what_can_you_do"],
    "events": ["/ask_events"],
    "contact": ["/ask_contact"],
    # Asks first (yes/no buttons); the conversation is erased at the end of the
    # confirming turn, under its lock, like "delete my data" on every channel.
    "forget": ["/delete_my_data"],
}


@dataclass
class UpdateTurns:
    """The Rasa turns of the update being handled. Each gets an id made from the
    update's, stored with the turn, so that an update taken over from a dead
    instance (``recovered``) runs only the turns not stored yet."""

    update_id: int
    recovered: bool = False
    count: int = 0

    def message(self, text: str, output: Any, sender: str, metadata: dict) -> Any:
        message_id = part_id(f"telegram-{self.update_id}", self.count)
        self.count += 1
        message = UserMessage(
            text,
            output,
            sender_id=sender,
            input_channel=CHANNEL_NAME,
            message_id=message_id,
            metadata=metadata,
        )
        if self.recovered:
            # Its answers went out as the turn ran: a stored turn sends nothing.
            return identified(message, message_id, resend_stored=False)
        return message


# Set by the channel around each update it processes.
CURRENT_UPDATE: ContextVar[Optional[UpdateTurns]] = ContextVar(
    "ofr_telegram_update", default=None
)


class UpdateHandlers:
    """The handlers of one Telegram channel, sharing its Application and output."""

    def __init__(
        self,
        application: Application,
        output: TelegramOutput,
        payloads: ButtonPayloads,
        alerts: AlertService,
        handover: HandoverService,
    ) -> None:
        self.application = application
        self.output = output
        self.payloads = payloads
        self.alerts = alerts
        self.handover = handover
        # Set when Rasa builds the channel's routes and when the server has started.
        self.on_new_message: Optional[Callable[[UserMessage], Awaitable[Any]]] = None
        self.tracker_store: Any = None

    def register(self) -> None:
        """Add the handlers to the Application, in the order they are tried."""
        app = self.application
        app.add_handler(CommandHandler(list(COMMAND_PAYLOADS), self._command))
        app.add_handler(CommandHandler("language", self._language))
        alerts = self.alerts
        app.add_handler(CommandHandler("subscribe", alerts.subscribe_command))
        app.add_handler(CommandHandler("subscriptions", alerts.subscriptions_command))
        app.add_handler(CommandHandler("unsubscribe", alerts.unsubscribe_command))
        app.add_handler(CallbackQueryHandler(self._callback))
        app.add_handler(
            MessageHandler(
                filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self._text
            )
        )
        app.add_handler(
            MessageHandler(
                filters.UpdateType.MESSAGE
                & filters.ChatType.PRIVATE
                & ~filters.TEXT
                & ~filters.StatusUpdate.ALL,
                self._not_text,
            )
        )
        app.add_error_handler(self._error)

    async def _ask_rasa(
        self, update: Update, text: str, extra: Optional[dict] = None
    ) -> None:
        chat = update.effective_chat
        if chat is None or self.on_new_message is None:
            return
        if self._too_fast(update):
            await record_refusal(self.tracker_store, conversation_of(chat))
            await self._note(update, "too_fast")
            return
        metadata = {**(extra or {}), "language": user_language(update)}
        turns = CURRENT_UPDATE.get()
        if turns is not None and turns.update_id == update.update_id:
            await self.on_new_message(
                turns.message(text, self.output, conversation_of(chat), metadata)
            )
            return
        await self.on_new_message(
            UserMessage(
                text,
                self.output,
                sender_id=conversation_of(chat),
                input_channel=CHANNEL_NAME,
                metadata=metadata,
            )
        )

    def _addressed_to_bot(self, update: Update) -> bool:
        """In groups only mentions of the bot and replies to it count."""
        msg = update.effective_message
        chat = update.effective_chat
        if msg is None or chat is None or chat.type == ChatType.PRIVATE:
            return True
        username = (self.application.bot.username or "").lower()
        mentioned = username and f"@{username}" in (msg.text or "").lower()
        replied = (
            msg.reply_to_message is not None
            and msg.reply_to_message.from_user is not None
            and msg.reply_to_message.from_user.id == self.application.bot.id
        )
        return bool(mentioned or replied)

    async def _text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A question typed by the user goes to the assistant; an empty or too long
        one gets a polite note instead."""
        msg = update.effective_message
        if self.handover.is_staff_chat(update):
            # Staff answer tickets there; nothing said in that group is a question.
            await self.handover.staff_message(update)
            return
        if msg is None or not self._addressed_to_bot(update):
            return
        text = msg.text
        text = clean_text(text if isinstance(text, str) else "")
        username = self.application.bot.username
        if username:
            text = text.replace(f"@{username}", "").strip()
        # Typed text is never a Rasa payload ("/intent{...}"): buttons come as
        # callback queries and commands have their own handlers.
        text = text.lstrip("/").strip()
        problem = text_problem(text)
        if problem:
            await self._note(update, problem)
            return
        chat = update.effective_chat
        if chat is None:
            return
        # Read in its conversation: a part that stands for a button is answered as
        # that button would be.
        async for part, extra in each_message(
            text, conversation_of(chat), self.tracker_store, user_language(update)
        ):
            if part != text and is_alert_button(part):
                await self.alerts.button(update, part)
            elif part != text and part.startswith(HANDOVER_PREFIX):
                await self.handover.confirm(update)
            else:
                await self._ask_rasa(update, part, extra)

    def _too_fast(self, update: Update) -> bool:
        """Per chat (Telegram's servers send every update: no per-address limit)."""
        chat = update.effective_chat
        return chat is not None and not shared_limits().allow(conversation_of(chat))

    async def _note(self, update: Update, problem: str) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        language = await stored_language(
            self.tracker_store, conversation_of(chat), user_language(update)
        )
        await self.application.bot.send_message(
            chat_id=chat.id, text=note(problem, language)
        )

    async def _command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """/start, /help, /events, /contact ask the assistant the matching question."""
        msg = update.effective_message
        if msg is None or self.handover.is_staff_chat(update):
            return  # the staff group is no conversation with the assistant
        words = (msg.text or "").split()
        command = words[0].lstrip("/").split("@")[0]
        opened = (
            deep_links.read(words[1]) if command == "start" and len(words) > 1 else None
        )
        if opened is not None:
            # Opened from a deep link (a flyer's QR code): greet, then what it names.
            await self._ask_rasa(update, "/greet")
            if opened.question:
                await self._ask_rasa(update, opened.question)
            elif opened.subscription and update.effective_chat is not None:
                await self.alerts.subscribe_from_link(update, opened.subscription)
        else:
            for payload in COMMAND_PAYLOADS.get(command.lower(), []):
                await self._ask_rasa(update, payload)
        if command.lower() == "start" and update.effective_chat is not None:
            # Once, when someone starts the bot: what not to share, how to delete.
            language = await stored_language(
                self.tracker_store,
                conversation_of(update.effective_chat),
                user_language(update),
            )
            await self.application.bot.send_message(
                chat_id=update.effective_chat.id,
                text=message("telegram_privacy_notice", language),
            )

    async def _language(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """/language offers English and Deutsch as buttons."""
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "English", callback_data='/switch_language{"language":"en"}'
                    ),
                    InlineKeyboardButton(
                        "Deutsch", callback_data='/switch_language{"language":"de"}'
                    ),
                ]
            ]
        )
        if update.effective_message is not None:
            await update.effective_message.reply_text(
                message("telegram_choose_language", user_language(update)),
                reply_markup=keyboard,
            )

    async def _callback(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """A pressed button: answer the callback, then ask the assistant its payload
        (also "Yes, delete it" after /forget: the deletion runs in the turn).
        Subscribe, stop and "remind me" buttons are the alert service's."""
        query = update.callback_query
        if query is None:
            return
        language = user_language(update)
        data = query.data if isinstance(query.data, str) else ""
        payload = self.payloads.decode(clean_text(data))
        if payload is None or text_problem(payload):
            await query.answer(message("telegram_button_expired", language))
            return
        await query.answer()
        if is_alert_button(payload):
            await self.alerts.button(update, payload)
            return
        if payload.startswith(HANDOVER_PREFIX):
            await self.handover.confirm(update)
            return
        if is_feedback(payload):
            await self._feedback(update, payload)
            return
        await self._ask_rasa(update, payload)

    async def _feedback(self, update: Update, payload: str) -> None:
        """👍 / 👎 (or "ask in other words"): counted once, the pair taken off the
        answer, and a short reply."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        reply = await feedback.handle(
            payload,
            conversation_of(chat),
            CHANNEL_NAME,
            user_language(update),
            self.tracker_store,
            self.handover.desk.lock_store,
        )
        answered = query.message
        markup = getattr(answered, "reply_markup", None)
        if markup is not None and payload != feedback.REPHRASE:
            rows = [
                [b for b in row if not is_feedback(str(b.callback_data or ""))]
                for row in markup.inline_keyboard
            ]
            rows = [row for row in rows if row]
            try:
                await query.edit_message_reply_markup(
                    InlineKeyboardMarkup(rows) if rows else None
                )
            except TelegramError as error:
                logger.info("Could not take the vote buttons off: %s", error)
        await self.output.send_text_with_buttons(
            conversation_of(chat), reply.text, reply.buttons
        )

    async def _not_text(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """Photos, stickers, voice, documents, locations: say that only text is read."""
        if update.effective_message is not None:
            await update.effective_message.reply_text(
                message("telegram_text_only", user_language(update))
            )

    async def _error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error(
            "Handling a Telegram update failed: %s",
            type(context.error).__name__,
            exc_info=(type(context.error), context.error, context.error.__traceback__)
            if context.error
            else None,
        )
