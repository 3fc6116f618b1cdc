"""Telegram channel for Rasa, built on python-telegram-bot.

Webhook mode: Telegram posts updates to ``POST /webhooks/telegram/webhook``; the
request must carry ``X-Telegram-Bot-Api-Secret-Token``. Polling mode
(``make telegram-polling``) fetches updates with python-telegram-bot and posts them to
the same route, so both modes share one handling path: ``Update.de_json`` → each
update id taken once (``bot/storage/telegram_updates.py``) → 200 at once → the
chat's queue (``update_queue.py``) → ``Application.process_update`` → the handlers →
Rasa.

In the cluster (locks in Redis) the update is also kept as pending before the 200
(``bot/storage/telegram_pending.py``) until it is done. Every instance looks every
``SWEEP_SECONDS`` for pending updates of a dead instance and runs them; before it
runs an update, the chat's earlier pending updates run first (taken over when
their instance died, waited for while it lives), so a chat's updates keep their
order across instances. A turn's message id comes from the update id, so an
update taken over runs only the turns that were not stored
(``bot.services.answered_once``).

Configuration comes from the environment (docs/channels.md, "Telegram"): TELEGRAM_TOKEN,
TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_BASE_URL.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

import redis
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application

from bot.channels.telegram.alerts import AlertService
from bot.channels.telegram.buttons import ButtonPayloads
from bot.channels.telegram.chats import CHANNEL_NAME, well_formed
from bot.channels.telegram.handlers import CURRENT_UPDATE, UpdateHandlers, UpdateTurns
from bot.channels.telegram.handover import HandoverService
from bot.channels.telegram.output import TelegramOutput
from bot.channels.telegram.update_queue import ChatQueues, chat_key
from bot.dialogue.fair_turns import fair
from bot.services.answered_once import answered_once
from bot.services.input_limits import BadRequest, parse_json
from bot.storage.telegram_pending import (
    Pending,
    PendingUpdates,
    pending_updates_for,
)
from bot.storage.telegram_updates import SeenUpdates, shared_updates_for
from ofr import settings
from ofr.messages import message
from ofr.settings import SettingsError

logger = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_000_000
UPDATE_TYPES = ["message", "callback_query"]
# At shutdown, seconds to finish the updates already answered 200.
DRAIN_SECONDS = 20.0
# How often an instance looks for the pending updates of a dead one.
SWEEP_SECONDS = 2.0
# How long an update waits for its chat's earlier ones on a live instance.
ORDER_WAIT_SECONDS = 120.0
ORDER_POLL_SECONDS = 0.2


def rate_limiter() -> AIORateLimiter:
    """Telegram's limits: about 30 messages a second overall (spaced, not in bursts:
    aiolimiter lets ``max_rate`` calls through at once), 20 a minute per group; after
    a 429 the call waits as long as Telegram says, up to 3 times."""
    return AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 30, max_retries=3)


COMMANDS = (
    "start",
    "help",
    "events",
    "contact",
    "language",
    "forget",
    "subscribe",
    "subscriptions",
    "unsubscribe",
)


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
        configured = settings.current()
        token = configured.telegram_token
        if not token:
            raise SettingsError(
                [
                    "TELEGRAM_TOKEN is not set: set it to the token from @BotFather, "
                    "or start without Telegram."
                ]
            )
        secret = configured.telegram_webhook_secret
        if not secret:
            raise SettingsError(
                [
                    "TELEGRAM_WEBHOOK_SECRET is not set: choose a random string (A-Z, "
                    "a-z, 0-9, _ and -) so that only Telegram can post to the webhook."
                ]
            )
        return cls(
            token=token,
            secret=secret,
            webhook_url=configured.telegram_webhook_url,
            base_url=configured.telegram_api_base_url,
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
        # The bot's id is the token's first part: update ids count per bot.
        self.bot_id = token.split(":", 1)[0]
        builder = (
            Application.builder()
            .token(token)
            .updater(None)
            .rate_limiter(rate_limiter())
        )
        if base_url:
            builder = builder.base_url(base_url).base_file_url(
                base_url.replace("/bot", "/file/bot")
            )
        self.application = builder.build()
        configured = settings.current()
        self.payloads = ButtonPayloads(redis_url=configured.redis_url)
        self.output = TelegramOutput(self.application, self.payloads)
        self.alerts = AlertService(self.application)
        self.alerts.can_send = lambda: self._ready
        self.handover = HandoverService(self.application)
        self.handlers = UpdateHandlers(
            self.application, self.output, self.payloads, self.alerts, self.handover
        )
        self._ready = False
        self._starting: Optional[asyncio.Task] = None
        self.max_retry_pause = configured.telegram_start_retry_max_seconds
        self.var_dir = configured.var_dir
        self.handlers.register()
        # In this process only until the stores are known (_share_stores).
        self.seen = SeenUpdates(self.bot_id)
        self.queue = ChatQueues(self._process)
        # The cluster's (Redis) record of updates taken and not done.
        self.pending: Optional[PendingUpdates] = None
        self._recovered: Set[int] = set()  # taken over from a dead instance
        self._started: Set[int] = set()  # running here now
        self._unkept: Set[int] = set()  # taken while Redis could not keep them
        self._sweeping: Optional[asyncio.Task] = None
        self._app: Any = None

    def get_output_channel(self) -> OutputChannel:
        return self.output

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
        parts: Tuple[Any, ...] = (self.application, self.application.bot)
        for part in parts:
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

    def _allowed(self, request: Request) -> bool:
        """The request carries the webhook secret."""
        # Sanic keeps undecodable header bytes as surrogates: encode them back.
        given = request.headers.get(SECRET_HEADER, "").encode(errors="surrogateescape")
        return hmac.compare_digest(given, self.secret.encode())

    def _share_stores(self, app: Any) -> None:
        """The agent's tracker and lock stores, for the handlers and handovers."""
        agent = getattr(app.ctx, "agent", None)
        if agent is None:
            return
        self.handlers.tracker_store = agent.tracker_store
        self.handover.attach(agent)
        if self.seen.shared is None:
            self.seen.shared = shared_updates_for(
                agent.tracker_store, agent.lock_store, self.var_dir
            )
        if self.pending is None:
            self.pending = pending_updates_for(agent.lock_store, self.bot_id)
            if self.pending is not None:
                self.pending.keep_alive()

    def _agent(self) -> Any:
        return getattr(getattr(self._app, "ctx", None), "agent", None)

    def _take(self, update: Update, data: Dict[str, Any]) -> bool:
        """Record the update as taken (and, in the cluster, as pending); False when
        it was taken before."""
        if self.pending is None:
            return self.seen.first_time(update.update_id)
        if not self.seen.first_time(update.update_id, shared=False):
            return False
        try:
            return self.pending.take(
                update.update_id, chat_key(update), data, time.time()
            )
        except redis.RedisError as error:
            logger.error(
                "Could not keep a Telegram update as pending (%s); processing it.",
                type(error).__name__,
            )
            self._unkept.add(update.update_id)
            return True

    async def _process(self, update: Update) -> None:
        """Run one update from the queue; in the cluster, only if it is still this
        instance's, after its chat's earlier ones, and marked done afterwards."""
        pending, chat = self.pending, chat_key(update)
        if pending is None or update.update_id in self._unkept:
            self._unkept.discard(update.update_id)
            await self._handle(update)
            return
        if update.update_id in self._started:
            return
        try:
            if not pending.holds(update.update_id, chat):
                return  # done already (run before its turn in the queue came)
            await self._earlier_first(pending, update.update_id, chat)
        except redis.RedisError as error:
            logger.error(
                "Could not read the pending Telegram updates (%s); processing.",
                type(error).__name__,
            )
        self._started.add(update.update_id)
        finished = False
        try:
            await self._handle(update, update.update_id in self._recovered)
            finished = True  # a failed turn too: it is not run again
        finally:
            self._started.discard(update.update_id)
            self._recovered.discard(update.update_id)
        # Cut off (a stop that could not wait): left pending, for another instance.
        if finished:
            try:
                pending.done(update.update_id, chat)
            except redis.RedisError as error:
                logger.error(
                    "Could not mark a Telegram update done (%s).", type(error).__name__
                )

    async def _earlier_first(
        self, pending: PendingUpdates, update_id: int, chat: str
    ) -> None:
        """Run the chat's earlier pending updates first: those of a dead instance
        (taken over) and this instance's own; wait while a live one runs its."""
        deadline = time.monotonic() + ORDER_WAIT_SECONDS
        while True:
            earlier = [p for p in pending.entries(chat) if p.update_id < update_id]
            if any(p.owner != pending.holder for p in earlier):
                self._adopt(pending.claim(chat))  # those of a dead instance
                earlier = [p for p in pending.entries(chat) if p.update_id < update_id]
            for entry in earlier:
                if (
                    entry.owner == pending.holder
                    and entry.update_id not in self._started
                ):
                    await self._process(self._update_of(entry))
            others = [p for p in earlier if p.owner != pending.holder]
            if not others:
                return
            if time.monotonic() > deadline:
                logger.warning(
                    "Telegram update %s ran before earlier ones of its chat that "
                    "another instance still holds.",
                    update_id,
                )
                return
            await asyncio.sleep(ORDER_POLL_SECONDS)

    def _update_of(self, entry: Pending) -> Update:
        return Update.de_json(entry.data, self.application.bot)

    def _adopt(self, taken: List[Pending]) -> None:
        """Queue updates taken over from a dead instance, oldest first."""
        for entry in taken:
            logger.warning(
                "Taking over Telegram update %s from an instance that stopped.",
                entry.update_id,
            )
            self._recovered.add(entry.update_id)
            if not self.queue.closed:
                self.queue.put(self._update_of(entry))

    async def _sweep(self) -> None:
        """Every SWEEP_SECONDS: take over the pending updates of dead instances."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            if self.pending is None or not self._ready:
                continue
            try:
                lapsed = self.pending.lapsed_owners()
                if not lapsed:
                    continue
                for chat in self.pending.chats():
                    self._adopt(self.pending.claim(chat))
                # None of their updates is left, and the dead take no more.
                self.pending.forget_owners(lapsed)
            except redis.RedisError as error:
                logger.error(
                    "Could not look for pending Telegram updates (%s).",
                    type(error).__name__,
                )
            except Exception:
                logger.exception("Looking for pending Telegram updates failed.")

    async def _handle(self, update: Update, recovered: bool = False) -> None:
        token = CURRENT_UPDATE.set(UpdateTurns(update.update_id, recovered))
        try:
            await self.application.process_update(update)
        except Exception:
            # Handlers' errors go to _error; this is PTB's own bookkeeping failing
            # on an odd update.
            logger.exception("Processing a Telegram update failed.")
        finally:
            CURRENT_UPDATE.reset(token)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        # Identified turns (an update taken over) run once: answered_once.
        self.handlers.on_new_message = fair(answered_once(on_new_message, self._agent))
        telegram = Blueprint("telegram_webhook", __name__)

        @telegram.listener("after_server_start")
        async def started(app: Any, _: Any) -> None:
            self._app = app
            self._share_stores(app)
            self._starting = asyncio.create_task(self._start_with_retries())
            if self.pending is not None:
                self._sweeping = asyncio.create_task(self._sweep())
            agent = getattr(app.ctx, "agent", None)
            self.alerts.start(
                self.handlers.tracker_store, getattr(agent, "lock_store", None)
            )

        @telegram.listener("before_server_stop")
        async def stopping(app: Any, _: Any) -> None:
            if self._starting is not None and not self._starting.done():
                self._starting.cancel()
            # New updates get 503 (Telegram sends them again, to another instance
            # or after the restart); those answered 200 are finished first.
            self._ready = False
            if self._sweeping is not None:
                self._sweeping.cancel()
            # Left undone: still pending in the cluster, another instance runs them.
            await self.queue.drain(DRAIN_SECONDS, kept=self.pending is not None)
            await self.alerts.stop()
            await self.stop()

        @telegram.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram.route("/queue", methods=["GET"])
        async def queue(request: Request) -> HTTPResponse:
            """How many updates this instance has taken and not finished."""
            if not self._allowed(request):
                return response.json({"error": "forbidden"}, status=403)
            return response.json(
                {
                    "ready": self._ready,
                    "pending": self.queue.pending,
                    "alert_rounds": self.alerts.rounds,
                }
            )

        @telegram.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self._allowed(request):
                return response.json({"error": "forbidden"}, status=403)
            if not self._ready:
                # Telegram delivers the update again later; nothing is lost.
                return response.json(
                    {"error": "the Telegram channel is starting or stopping"},
                    status=503,
                    headers={"Retry-After": "5"},
                )
            try:
                data = parse_json(request.body, MAX_UPDATE_BYTES)
            except BadRequest as error:
                return response.json({"error": error.reason}, status=error.status)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                return response.json({"error": "not a Telegram update"}, status=400)
            if self.handlers.tracker_store is None:
                self._share_stores(request.app)
            try:
                update = Update.de_json(data, self.application.bot)
            except Exception:  # any field of the wrong type or out of range
                return response.json({"error": "not a Telegram update"}, status=400)
            if not well_formed(update):
                return response.json({"error": "not a Telegram update"}, status=400)
            if self.queue.full:
                return response.json(
                    {"error": "too many updates waiting"},
                    status=503,
                    headers={"Retry-After": "5"},
                )
            if not self._take(update, data):
                # Telegram sent it again (the first delivery's answer came late or
                # was lost): it is processed, or being processed, already.
                return response.json({"status": "ok"})
            self.queue.put(update)
            return response.json({"status": "ok"})

        return telegram
