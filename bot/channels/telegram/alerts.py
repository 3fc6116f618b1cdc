"""Event alerts on Telegram: /subscribe, /subscriptions, /unsubscribe, and the sender.

A subscription is a filter (all events, a Land, a city, online or on site, a
topic) kept in bot/storage/event_alerts.py. Every ``OFR_ALERT_POLL_SECONDS`` the
service compares the events file with the recorded versions (new, changed,
cancelled: ofr/events/changes.py), which queues one alert per subscriber and change,
then sends what is queued: one message with the event's details and the link to its
calendar file, in the subscriber's language (one message per chat and alert keeps
within Telegram's limit of about one message a second per chat). python-telegram-bot's rate limiter keeps the sends within
Telegram's limits; a chat that blocked the bot (403) is unsubscribed.

"Remind me" under an upcoming event's details keeps a reminder that the same loop
sends the day before (ofr/events/reminders.py), or a notice if the event was
cancelled meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Coroutine, Dict, List, Optional, Tuple

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, ContextTypes

from bot.channels.telegram.chats import CHANNEL_NAME, user_language
from bot.channels.telegram.format import escape, split_message
from bot.storage.conversation_ids import conversation_id
from bot.storage.conversation_updates import update_conversation
from bot.storage.event_alerts import (
    Alert,
    AlertStore,
    Reminder,
    Subscription,
    alert_store_for,
)
from ofr import settings
from ofr.dialogue.state import SHOWN_SLOT, shown_to_slot
from ofr.events.event_filter import EventFilter, filter_key
from ofr.events.formatting import describe, details, format_moment, when
from ofr.events.model import Event
from ofr.events.query import find_format, find_place, find_topic
from ofr.events.reminders import can_remind, reminder_time
from ofr.events.search import upcoming
from ofr.events.store import default_store
from ofr.messages import message

logger = logging.getLogger(__name__)

SUBSCRIBE_PREFIX = "sub:"
REMOVE_PREFIX = "unsub:"
# Also written by actions/event_actions.py, which must not import this module.
REMIND_PREFIX = "remind:"
BUTTON_PREFIXES = (SUBSCRIBE_PREFIX, REMOVE_PREFIX, REMIND_PREFIX)
# In the conversation an alert stands where an event's details would: the answer
# of this action, with the event shown (follow-ups read it, ofr/dialogue).
ALERT_ACTION = "action_event_details"
ALERT_KEY = "ofr_alert"  # the bot message's metadata: which event it alerted to
# What sending to a chat came to.
SENT, GONE, RETRY = "sent", "gone", "retry"
_ALL_WORDS = {"all", "alle", "alles", "everything", "jede", "*"}


def wanted_from_key(key: str) -> Dict[str, str]:
    """filter_key's inverse: "all" → {}, "city=Hamburg" → {"city": "Hamburg"}."""
    if key == "all":
        return {}
    wanted = dict(part.split("=", 1) for part in key.split("&") if "=" in part)
    return {
        k: v for k, v in wanted.items() if k in ("city", "state", "format", "topic")
    }


def wanted_from_text(text: str) -> Optional[Dict[str, str]]:
    """What "/subscribe <text>" asks for; None when it names nothing known."""
    words = text.strip()
    if not words or words.lower() in _ALL_WORDS:
        return {}
    wanted: Dict[str, str] = {}
    place = find_place(words)
    if place is not None:
        wanted["state" if place.is_state else "city"] = place.name
    fmt = find_format(words)
    if fmt:
        wanted["format"] = fmt
    topic = find_topic(words)
    if topic:
        wanted["topic"] = topic
    return wanted or None


def label(wanted: Dict[str, str], language: str) -> str:
    """ " in Bayern (online)", or "" for all events."""
    return describe(EventFilter(**wanted), language)  # type: ignore[arg-type]


def _event_message(event: Event, heading: str, footer: str, language: str) -> str:
    """An alert or a reminder: a heading, the event's details, why it came."""
    calendar_url = (
        None if event.cancelled else settings.current().calendar_url(event.id)
    )
    return "\n\n".join(
        (
            message(heading, language),
            details(event, language, calendar_url, registration=not event.cancelled),
            message(footer, language),
        )
    )


def is_alert_button(payload: str) -> bool:
    """A button this module answers (subscribe, stop, remind me), not a question."""
    return payload.startswith(BUTTON_PREFIXES)


def _short(key: str) -> str:
    """A filter key in callback_data's 64 bytes."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _chat_command(
    command: Callable[[AlertService, Message, str, str, AlertStore], Awaitable[None]],
) -> Callable[
    [AlertService, Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]
]:
    """A command handler run only when it can be answered (a message in a chat, and
    the alert store ready), with the message, the chat id, the language and the store."""

    @functools.wraps(command)
    async def handler(
        service: AlertService, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        msg, chat = update.effective_message, update.effective_chat
        if msg is None or chat is None or service.store is None:
            return
        await command(service, msg, str(chat.id), user_language(update), service.store)

    return handler


class AlertService:
    """Subscriptions of one Telegram channel and the loop that sends alerts."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self.store: Optional[AlertStore] = None
        self.tracker_store: Any = None
        self.lock_store: Any = None
        self._task: Optional[asyncio.Task] = None
        self._sender_lock: Any = None
        # Set by stop(): the loop ends after the alert it is sending (one that
        # Telegram took is marked sent first, so a restart sends it not again).
        self._stopping = False
        self._sending = False
        # Rounds of the alert loop finished since start: the queue status shows it,
        # so a check can wait for two more rounds instead of a fixed time.
        self.rounds = 0
        # Until the channel reached the Bot API, alerts wait in the outbox.
        self.can_send: Callable[[], bool] = lambda: True

    # ---------------------------------------------------------------- start, stop

    def start(self, tracker_store: Any, lock_store: Any = None) -> None:
        configured = settings.current()
        self.tracker_store, self.lock_store = tracker_store, lock_store
        self.store = alert_store_for(tracker_store, configured.var_dir)
        self._sender_lock = self.store.sender_lock()
        self._task = asyncio.create_task(self._run(configured.alert_poll_seconds))

    async def stop(self, wait_seconds: float = 10.0) -> None:
        self._stopping = True
        deadline = time.monotonic() + wait_seconds
        while self._sending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._sender_lock is not None:
            await asyncio.to_thread(self._sender_lock.release)

    async def _run(self, every: float) -> None:
        while True:
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database or the Bot API is away: next round
                logger.exception("Event alerts: this round failed; trying again.")
            self.rounds += 1
            await asyncio.sleep(every)

    async def check_once(self) -> int:
        """Record changes of the events file, then send what is queued; how many sent."""
        store = self.store
        if store is None:
            return 0
        events = default_store().events()
        await asyncio.to_thread(store.record_changes, events, time.time())
        if not self.can_send():
            return 0
        if not await asyncio.to_thread(self._sender_lock.acquire):
            return 0  # another instance sends
        sent = 0
        while batch := await asyncio.to_thread(store.unsent):  # 100 at a time
            for alert in batch:
                if self._stopping:
                    return sent
                self._sending = True
                try:
                    if not await self._send(alert):
                        return sent  # the Bot API is unreachable: wait a round
                    await asyncio.to_thread(store.mark_sent, alert.key, time.time())
                finally:
                    self._sending = False
                sent += 1
        return sent + await self._send_due_reminders(store)

    async def _send(self, alert: Alert) -> bool:
        """Send one alert; False when it should be tried again later."""
        event = default_store().get(alert.event_id)
        if event is None:
            return True  # gone from the file: nothing to tell
        text = _event_message(
            event, f"alert_{alert.kind}", "alert_footer", alert.language
        )
        delivered = await self._deliver(alert.chat_id, text)
        if delivered is SENT:
            await self._remember_shown(alert.chat_id, event, text, alert.language)
        return delivered is not RETRY

    async def _send_due_reminders(self, store: AlertStore) -> int:
        """Send the reminders whose time has come; drop those of past or vanished
        events. Each is marked right after Telegram took it, like an alert."""
        sent = 0
        moment = datetime.now(timezone.utc)
        for reminder in await asyncio.to_thread(store.waiting_reminders):
            event = default_store().get(reminder.event_id)
            if event is None or event.starts_at <= moment:
                await asyncio.to_thread(store.mark_reminded, reminder, time.time())
                continue
            due = reminder_time(event)
            if due is None or moment < due:
                continue
            # A cancelled event's notice comes when the reminder would have: the
            # person who asked hears of it, however they follow the events.
            if self._stopping:
                return sent
            heading = "alert_cancelled" if event.cancelled else "reminder_heading"
            text = _event_message(event, heading, "reminder_footer", reminder.language)
            self._sending = True
            try:
                delivered = await self._deliver(reminder.chat_id, text)
                if delivered is RETRY:
                    return sent
                await asyncio.to_thread(store.mark_reminded, reminder, time.time())
                if delivered is SENT:
                    await self._remember_shown(
                        reminder.chat_id, event, text, reminder.language
                    )
            finally:
                self._sending = False
            sent += 1
        return sent

    async def _remember_shown(
        self, chat_id: str, event: Event, text: str, language: str
    ) -> None:
        """The alert or reminder becomes part of the chat's conversation, as if the
        bot had answered with the event's details: "what time?", "wo ist das?" or
        "is it online?" then ask about that event (ofr/dialogue), and staff see the
        alert when they review the conversation. Under the conversation's lock; a
        subscriber who only ever sent /subscribe gets a conversation started in the
        alert's language."""

        def shown(tracker: Any) -> bool:
            tracker.update(ActionExecuted(ALERT_ACTION))
            tracker.update(BotUttered(text, metadata={ALERT_KEY: event.id}))
            tracker.update(SlotSet(SHOWN_SLOT, shown_to_slot([event.id], "details")))
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            return True

        try:
            await update_conversation(
                self.tracker_store,
                self.lock_store,
                conversation_id(CHANNEL_NAME, chat_id),
                shown,
                start_in=language,
            )
        except Exception:  # the alert went out; only the follow-up context is lost
            logger.exception("Event alerts: could not note an alert in its chat.")

    async def _deliver(self, chat_id: str, text: str) -> str:
        """Send a text in parts Telegram takes: SENT, GONE (the chat blocked the
        bot and was unsubscribed) or RETRY (try again later)."""
        bot = self.application.bot
        try:
            for chunk in split_message(text):
                await bot.send_message(
                    chat_id=chat_id,
                    text=escape(chunk),
                    parse_mode=ParseMode.HTML,
                    disable_web_page_preview=True,
                )
        except Forbidden:
            # The user blocked the bot or left: stop writing to them.
            logger.info("Event alerts: a chat blocked the bot; unsubscribed it.")
            assert self.store is not None
            await asyncio.to_thread(self.store.forget_chat, chat_id)
            return GONE
        except TelegramError as error:
            logger.error("Event alerts: sending failed (%s).", type(error).__name__)
            return RETRY
        return SENT

    # ---------------------------------------------------------------- commands

    @_chat_command
    async def subscribe_command(
        self, msg: Message, chat_id: str, language: str, store: AlertStore
    ) -> None:
        """/subscribe: buttons to choose; /subscribe <Land, city, all>: at once."""
        argument = " ".join((msg.text or "").split()[1:])
        if not argument:
            await msg.reply_text(
                message("subscribe_choose", language),
                reply_markup=self._choices(language),
            )
            return
        wanted = wanted_from_text(argument)
        if wanted is None:
            await msg.reply_text(message("subscribe_unknown", language, text=argument))
            return
        await msg.reply_text(self._subscribe(chat_id, wanted, language))

    @_chat_command
    async def subscriptions_command(
        self, msg: Message, chat_id: str, language: str, store: AlertStore
    ) -> None:
        """/subscriptions: the chat's alerts, each with a button that stops it."""
        found = await asyncio.to_thread(store.subscriptions_of, chat_id)
        if not found:
            await msg.reply_text(message("subscriptions_none", language))
            return
        lines, buttons = [message("subscriptions_list", language)], []
        for subscription in found:
            text = label(subscription.wanted, language).strip() or message(
                "subscriptions_all_events", language
            )
            lines.append(f"• {text}")
            buttons.append(
                [
                    InlineKeyboardButton(
                        message("subscription_remove", language, label=text)[:64],
                        callback_data=REMOVE_PREFIX + _short(subscription.key),
                    )
                ]
            )
        await msg.reply_text(
            "\n".join(lines), reply_markup=InlineKeyboardMarkup(buttons)
        )

    @_chat_command
    async def unsubscribe_command(
        self, msg: Message, chat_id: str, language: str, store: AlertStore
    ) -> None:
        """/unsubscribe: stop every alert of the chat."""
        await asyncio.to_thread(store.forget_chat, chat_id)
        await msg.reply_text(message("unsubscribed_all", language))

    async def button(self, update: Update, data: str) -> None:
        """A subscribe choice, a "Stop: ..." or a "Remind me" button was pressed
        (``data``: its payload, read back from the callback data)."""
        chat = update.effective_chat
        if chat is None or self.store is None:
            return
        language = user_language(update)
        if data.startswith(SUBSCRIBE_PREFIX):
            wanted = wanted_from_key(data[len(SUBSCRIBE_PREFIX) :])
            text = await asyncio.to_thread(
                self._subscribe, str(chat.id), wanted, language
            )
        elif data.startswith(REMIND_PREFIX):
            event_id = data[len(REMIND_PREFIX) :]
            text = await asyncio.to_thread(
                self._remind, str(chat.id), event_id, language
            )
        else:
            short = data[len(REMOVE_PREFIX) :]
            found = await asyncio.to_thread(self.store.subscriptions_of, str(chat.id))
            match = next((s for s in found if _short(s.key) == short), None)
            if match is None:
                text = message("telegram_button_expired", language)
            else:
                await asyncio.to_thread(self.store.unsubscribe, str(chat.id), match.key)
                text = message(
                    "unsubscribed", language, filter=label(match.wanted, language)
                )
        await self.application.bot.send_message(chat_id=chat.id, text=text)

    def _remind(self, chat_id: str, event_id: str, language: str) -> str:
        """Keep a reminder for an upcoming event; say when it will come."""
        assert self.store is not None
        event = default_store().get(event_id)
        if event is None:
            return message("telegram_button_expired", language)
        title = event.title.get(language)
        moment = reminder_time(event)
        if moment is None or not can_remind(event, datetime.now(timezone.utc)):
            return message(
                "reminder_too_late", language, title=title, when=when(event, language)
            )
        added = self.store.remind(Reminder(chat_id, event.id, language), time.time())
        return message(
            "reminder_set" if added else "reminder_already",
            language,
            title=title,
            moment=format_moment(moment, language),
        )

    async def subscribe_from_link(self, update: Update, key: str) -> None:
        """A deep link ``s-...`` (a flyer's QR code) subscribes at once."""
        chat = update.effective_chat
        if chat is None or self.store is None:
            return
        language = user_language(update)
        text = await asyncio.to_thread(
            self._subscribe, str(chat.id), wanted_from_key(key), language
        )
        await self.application.bot.send_message(chat_id=chat.id, text=text)

    def _subscribe(self, chat_id: str, wanted: Dict[str, str], language: str) -> str:
        assert self.store is not None
        added = self.store.subscribe(
            Subscription(chat_id, wanted, language), time.time()
        )
        name = "subscribed" if added else "subscribed_already"
        return message(name, language, filter=label(wanted, language))

    def _choices(self, language: str) -> InlineKeyboardMarkup:
        """All, online, on site, then the Länder and topics of upcoming events."""
        options: List[Tuple[str, Dict[str, str]]] = [
            (message("subscribe_button_all", language), {}),
            (message("subscribe_button_online", language), {"format": "online"}),
            (message("subscribe_button_in_person", language), {"format": "in_person"}),
        ]
        coming = upcoming(default_store().index(), datetime.now(timezone.utc))
        for state in sorted({e.state for e in coming if e.state})[:6]:
            options.append((state, {"state": state}))
        for topic in sorted({t for e in coming for t in e.topics})[:4]:
            options.append(
                (label({"topic": topic}, language).strip(), {"topic": topic})
            )
        rows = []
        for title, wanted in options:
            data = SUBSCRIBE_PREFIX + filter_key(wanted)
            if len(data.encode("utf-8")) <= 64:
                rows.append([InlineKeyboardButton(title[:64], callback_data=data)])
        return InlineKeyboardMarkup(rows)
