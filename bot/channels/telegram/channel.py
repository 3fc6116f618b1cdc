"""Telegram channel for Rasa, built on python-telegram-bot.

Webhook mode: Telegram posts updates to ``POST /webhooks/telegram/webhook``; the
request must carry ``X-Telegram-Bot-Api-Secret-Token``. Polling mode
(``make telegram-polling``) fetches updates with python-telegram-bot and posts them to
the same route, so both modes share one handling path: ``Update.de_json`` →
``Application.process_update`` → the handlers below → Rasa.

Configuration comes from the environment (README "Telegram"): TELEGRAM_TOKEN,
TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_BASE_URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List, Optional

import redis
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.input_limits import (
    BadRequest,
    clean_text,
    note,
    parse_json,
    stored_language,
    text_problem,
)
from bot.channels.rate_limits import shared_limits
from bot.channels.telegram.format import escape, split_message
from bot.storage.conversation_ids import conversation_id, external_id
from ofr.events.calendar import ics
from ofr.events.store import default_store
from ofr.language import language_code
from ofr.messages import message

logger = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)

CHANNEL_NAME = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_000_000
UPDATE_TYPES = ["message", "callback_query"]
COMMANDS = ("start", "help", "events", "contact", "language", "forget")
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


class ConfigurationError(Exception):
    """The Telegram settings are incomplete; the message says what to set."""


class ButtonPayloads:
    """Telegram's callback_data holds at most 64 bytes; longer payloads get a key.

    The keys live in this process and, when ``OFR_REDIS_URL`` is set, in Redis for 30
    days, so that a button pressed later works on any instance of a cluster.
    """

    REDIS_PREFIX = "ofr:telegram-button:"
    REDIS_SECONDS = 30 * 24 * 3600

    def __init__(self, capacity: int = 10_000, redis_url: Optional[str] = None) -> None:
        self._payloads: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None

    def encode(self, payload: str) -> str:
        if len(payload.encode("utf-8")) <= 64 and not payload.startswith("k:"):
            return payload
        key = "k:" + hashlib.sha1(payload.encode("utf-8")).hexdigest()[:20]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self._capacity:
            self._payloads.popitem(last=False)
        if self._redis is not None:
            try:
                self._redis.set(self.REDIS_PREFIX + key, payload, ex=self.REDIS_SECONDS)
            except redis.RedisError as error:
                logger.error("Could not keep a button in Redis: %s", error)
        return key

    def decode(self, data: str) -> Optional[str]:
        if not data.startswith("k:"):
            return data
        payload = self._payloads.get(data)
        if payload is None and self._redis is not None:
            try:
                stored = self._redis.get(self.REDIS_PREFIX + data)
            except redis.RedisError as error:
                logger.error("Could not read a button from Redis: %s", error)
                return None
            payload = stored.decode("utf-8") if stored is not None else None
        return payload


def _well_formed(update: Update) -> bool:
    """The fields the handlers rely on have Telegram's types (de_json does not check)."""
    try:
        chat, user = update.effective_chat, update.effective_user
        msg = update.effective_message
        return (
            (chat is None or isinstance(chat.id, int))
            and (user is None or isinstance(user.id, int))
            and (msg is None or msg.text is None or isinstance(msg.text, str))
        )
    except Exception:  # a field of the wrong type broke a property
        return False


def _language_of(update: Update) -> str:
    user = update.effective_user
    return language_code(user.language_code if user else None) or "de"


def _chat_id(recipient_id: str) -> Optional[str]:
    """The chat of a Telegram conversation; None (logged) for any other one."""
    try:
        return external_id(CHANNEL_NAME, recipient_id)
    except ValueError:
        logger.error(
            "Refused to send a Telegram message to a non-Telegram conversation."
        )
        return None


def _conversation(chat: Any) -> str:
    return conversation_id(CHANNEL_NAME, str(chat.id))


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise ConfigurationError(
            f"{variable}={raw!r} is not a number of seconds: give one between 1 and "
            "3600, or leave it unset."
        )
    return value


class TelegramOutput(OutputChannel):
    """Sends Rasa's answers with python-telegram-bot."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, application: Application, payloads: ButtonPayloads) -> None:
        self.application = application
        self.payloads = payloads

    async def _send(self, recipient_id: str, text: str, markup: Any = None) -> None:
        chat_id = _chat_id(recipient_id)
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

    async def send_text_message(
        self, recipient_id: str, text: str, **kwargs: Any
    ) -> None:
        await self._send(recipient_id, text)

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: List[Dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        rows = [
            [
                InlineKeyboardButton(
                    button["title"][:64],
                    callback_data=self.payloads.encode(button["payload"]),
                )
            ]
            for button in buttons
            if button.get("title") and button.get("payload")
        ]
        await self._send(
            recipient_id, text, InlineKeyboardMarkup(rows) if rows else None
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
        chat_id = _chat_id(recipient_id)
        if chat_id is None:
            return
        try:
            await self.application.bot.send_document(
                chat_id=chat_id,
                document=InputFile(ics(event, language), filename=f"{event.id}.ics"),
            )
        except TelegramError as error:
            logger.error("sendDocument to a chat failed: %s", type(error).__name__)


class TelegramInput(InputChannel):
    """Rasa input channel for Telegram (webhook; polling posts to the same route)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> TelegramInput:
        return cls.from_environment()

    @classmethod
    def from_environment(cls) -> TelegramInput:
        token = os.environ.get("TELEGRAM_TOKEN", "").strip()
        if not token:
            raise ConfigurationError(
                "TELEGRAM_TOKEN is not set: set it to the token from @BotFather, "
                "or start without Telegram."
            )
        secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
        if not secret:
            raise ConfigurationError(
                "TELEGRAM_WEBHOOK_SECRET is not set: choose a random string (A-Z, a-z, "
                "0-9, _ and -) so that only Telegram can post to the webhook."
            )
        return cls(
            token=token,
            secret=secret,
            webhook_url=os.environ.get("TELEGRAM_WEBHOOK_URL", "").strip() or None,
            base_url=os.environ.get("TELEGRAM_API_BASE_URL", "").strip() or None,
        )

    def __init__(
        self,
        token: str,
        secret: str,
        webhook_url: Optional[str] = None,
        base_url: Optional[str] = None,
    ) -> None:
        self.secret = secret
        self.webhook_url = webhook_url
        builder = (
            Application.builder()
            .token(token)
            .updater(None)
            .rate_limiter(AIORateLimiter(max_retries=3))
        )
        if base_url:
            builder = builder.base_url(base_url).base_file_url(
                base_url.replace("/bot", "/file/bot")
            )
        self.application = builder.build()
        self.payloads = ButtonPayloads(redis_url=os.environ.get("OFR_REDIS_URL"))
        self.output = TelegramOutput(self.application, self.payloads)
        self._on_new_message: Optional[Callable[[UserMessage], Awaitable[Any]]] = None
        self._tracker_store: Any = None
        self._ready = False
        self._starting: Optional[asyncio.Task] = None
        self.max_retry_pause = _seconds("TELEGRAM_START_RETRY_MAX_SECONDS", 60.0)
        self._register_handlers()

    def get_output_channel(self) -> OutputChannel:
        return self.output

    # --- handlers ----------------------------------------------------------------

    def _register_handlers(self) -> None:
        app = self.application
        app.add_handler(CommandHandler(list(COMMAND_PAYLOADS), self._command))
        app.add_handler(CommandHandler("language", self._language))
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

    async def _ask_rasa(self, update: Update, text: str) -> None:
        chat = update.effective_chat
        if chat is None or self._on_new_message is None:
            return
        if self._too_fast(update):
            await self._note(update, "too_fast")
            return
        metadata = {"language": _language_of(update)}
        await self._on_new_message(
            UserMessage(
                text,
                self.output,
                sender_id=_conversation(chat),
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
        if not self._addressed_to_bot(update):
            return
        text = update.effective_message.text
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
        await self._ask_rasa(update, text)

    def _too_fast(self, update: Update) -> bool:
        """Per chat (Telegram's servers send every update: no per-address limit)."""
        chat = update.effective_chat
        return chat is not None and not shared_limits().allow(_conversation(chat))

    async def _note(self, update: Update, problem: str) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        language = await stored_language(
            self._tracker_store, _conversation(chat), _language_of(update)
        )
        await self.application.bot.send_message(
            chat_id=chat.id, text=note(problem, language)
        )

    async def _command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """/start, /help, /events, /contact ask the assistant the matching question."""
        command = (
            (update.effective_message.text or "").split()[0].lstrip("/").split("@")[0]
        )
        for payload in COMMAND_PAYLOADS.get(command.lower(), []):
            await self._ask_rasa(update, payload)
        if command.lower() == "start" and update.effective_chat is not None:
            # Once, when someone starts the bot: what not to share, how to delete.
            language = await stored_language(
                self._tracker_store,
                _conversation(update.effective_chat),
                _language_of(update),
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
        await update.effective_message.reply_text(
            message("telegram_choose_language", _language_of(update)),
            reply_markup=keyboard,
        )

    async def _callback(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """A pressed button: answer the callback, then ask the assistant its payload
        (also "Yes, delete it" after /forget: the deletion runs in the turn)."""
        query = update.callback_query
        language = _language_of(update)
        data = query.data if isinstance(query.data, str) else ""
        payload = self.payloads.decode(clean_text(data))
        if payload is None or text_problem(payload):
            await query.answer(message("telegram_button_expired", language))
            return
        await query.answer()
        await self._ask_rasa(update, payload)

    async def _not_text(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """Photos, stickers, voice, documents, locations: say that only text is read."""
        await update.effective_message.reply_text(
            message("telegram_text_only", _language_of(update))
        )

    async def _error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error(
            "Handling a Telegram update failed: %s",
            type(context.error).__name__,
            exc_info=(type(context.error), context.error, context.error.__traceback__)
            if context.error
            else None,
        )

    # --- start-up ----------------------------------------------------------------

    async def start(self) -> None:
        """Initialise the bot (getMe), register commands, and set the webhook if asked."""
        # The bot first: python-telegram-bot's Application counts as initialised even
        # when the bot's getMe failed, and would not try again.
        await self.application.bot.initialize()
        await self.application.initialize()
        await self.application.start()
        for language in ("en", "de"):
            commands = [
                BotCommand(c, message(f"telegram_cmd_{c}", language)) for c in COMMANDS
            ]
            try:
                await self.application.bot.set_my_commands(
                    commands, language_code=language
                )
                if language == "de":
                    await self.application.bot.set_my_commands(commands)
            except TelegramError as error:
                logger.error("setMyCommands failed: %s", type(error).__name__)
        if self.webhook_url:
            try:
                await self.application.bot.set_webhook(
                    url=self.webhook_url,
                    secret_token=self.secret,
                    allowed_updates=UPDATE_TYPES,
                )
            except TelegramError as error:
                logger.error("setWebhook failed: %s", type(error).__name__)

    async def _start_with_retries(self) -> None:
        """Start, retrying with growing pauses while the Bot API cannot be reached.

        Until then the webhook answers 503, so Telegram keeps the updates and sends
        them again instead of having them answered 200 and dropped.
        """
        pause = 1.0
        while True:
            try:
                await self.start()
            except Exception as error:  # unreachable Bot API, or anything else
                logger.error(
                    "The Telegram channel could not start (%s); trying again in %.0f s.",
                    type(error).__name__,
                    pause,
                )
                await self._reset()
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.max_retry_pause)
                continue
            self._ready = True
            logger.info("Telegram channel ready.")
            return

    async def _reset(self) -> None:
        """Undo a half-done start, so that the next attempt starts from scratch."""
        for part in (self.application, self.application.bot):
            try:
                if getattr(part, "running", False):
                    await part.stop()
                await part.shutdown()
            except Exception:  # already stopped, or never started
                logger.debug("Resetting the Telegram channel: nothing to undo.")

    async def stop(self) -> None:
        self._ready = False
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        self._on_new_message = on_new_message
        telegram = Blueprint("telegram_webhook", __name__)

        @telegram.listener("after_server_start")
        async def started(app: Any, _: Any) -> None:
            self._tracker_store = (
                getattr(app.ctx.agent, "tracker_store", None)
                if hasattr(app.ctx, "agent")
                else None
            )
            self._starting = asyncio.create_task(self._start_with_retries())

        @telegram.listener("before_server_stop")
        async def stopping(app: Any, _: Any) -> None:
            if self._starting is not None and not self._starting.done():
                self._starting.cancel()
            await self.stop()

        @telegram.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            # Sanic keeps undecodable header bytes as surrogates: encode them back.
            given = request.headers.get(SECRET_HEADER, "").encode(
                errors="surrogateescape"
            )
            if not hmac.compare_digest(given, self.secret.encode()):
                return response.json({"error": "forbidden"}, status=403)
            if not self._ready:
                # Telegram delivers the update again later; nothing is lost.
                return response.json(
                    {"error": "the Telegram channel is starting"},
                    status=503,
                    headers={"Retry-After": "5"},
                )
            try:
                data = parse_json(request.body, MAX_UPDATE_BYTES)
            except BadRequest as error:
                return response.json({"error": error.reason}, status=error.status)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                return response.json({"error": "not a Telegram update"}, status=400)
            if self._tracker_store is None and hasattr(request.app.ctx, "agent"):
                self._tracker_store = request.app.ctx.agent.tracker_store
            try:
                update = Update.de_json(data, self.application.bot)
            except Exception:  # any field of the wrong type or out of range
                return response.json({"error": "not a Telegram update"}, status=400)
            if not _well_formed(update):
                return response.json({"error": "not a Telegram update"}, status=400)
            try:
                await self.application.process_update(update)
            except Exception:
                # Handlers' errors go to _error; this is PTB's own bookkeeping failing
                # on an odd update. Telegram must not send it again: answer 200.
                logger.exception("Processing a Telegram update failed.")
            return response.json({"status": "ok"})

        return telegram
