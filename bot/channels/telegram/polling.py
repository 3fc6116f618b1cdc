"""Polling mode for development: fetch updates from Telegram, post them to the webhook.

    make telegram-polling      (needs `make run` running with TELEGRAM_TOKEN set)

python-telegram-bot's long polling receives the updates; each is posted unchanged to
the Rasa server's ``/webhooks/telegram/webhook`` with the secret header, so polling and
webhook mode share the same handling code in ``bot/channels/telegram/input.py`` and
``handlers.py``: an update fetched twice (say, after this forwarder was restarted
before Telegram heard that it had the update) is dropped there by its ``update_id``.
A 503 (the channel is starting or stopping, or too many updates wait) is tried again
after the pause the server asks for, so the update is not lost; the next ones wait.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import httpx
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels.telegram.input import SECRET_HEADER, UPDATE_TYPES
from ofr import settings

logger = logging.getLogger("telegram-polling")

# Longest pause between two tries of an update the server answered 503.
MAX_RETRY_SECONDS = 30.0


def retry_pause(reply: httpx.Response, tries: int) -> float:
    """The server's Retry-After, else a pause that doubles with each try."""
    try:
        asked = float(reply.headers.get("Retry-After", ""))
    except ValueError:
        asked = 2.0 ** min(tries, 5)
    return max(0.1, min(asked, MAX_RETRY_SECONDS))


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    configured = settings.current()
    token, secret = configured.telegram_token, configured.telegram_webhook_secret
    if not token or not secret:
        print(
            "Set TELEGRAM_TOKEN and TELEGRAM_WEBHOOK_SECRET (the same values `make run` "
            "uses), then run make telegram-polling again.",
            file=sys.stderr,
        )
        return 1
    rasa_url = os.environ.get("RASA_URL") or configured.rasa_urls[0]
    webhook = f"{rasa_url.rstrip('/')}/webhooks/telegram/webhook"
    builder = Application.builder().token(token)
    base_url = configured.telegram_api_base_url
    if base_url:
        builder = builder.base_url(base_url)
    application = builder.build()
    client = httpx.AsyncClient(timeout=90)

    async def forward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        tries = 0
        while True:
            try:
                reply = await client.post(
                    webhook, json=update.to_dict(), headers={SECRET_HEADER: secret}
                )
            except httpx.HTTPError as error:
                logger.error(
                    "Cannot reach the Rasa server at %s (%s): is `make run` running?",
                    webhook,
                    type(error).__name__,
                )
                return
            if reply.status_code != 503:
                break
            tries += 1
            pause = retry_pause(reply, tries)
            logger.info("The Rasa server is busy; trying again in %.0f s.", pause)
            await asyncio.sleep(pause)
        if reply.status_code != 200:
            logger.error("The Rasa server answered %s to an update.", reply.status_code)

    application.add_handler(TypeHandler(Update, forward))
    logger.info("Polling Telegram and forwarding updates to %s. Ctrl-C stops.", webhook)
    application.run_polling(allowed_updates=UPDATE_TYPES, drop_pending_updates=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
