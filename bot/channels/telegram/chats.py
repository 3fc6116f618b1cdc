"""Telegram chats and the assistant's conversations: ids, languages, checks.

A Telegram conversation's id is ``telegram:<chat id>`` (bot/storage/conversation_ids.py);
the output refuses any other conversation, so a REST request cannot reach a chat.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from telegram import Update

from bot.storage.conversation_ids import conversation_id, external_id
from ofr.language import language_code

logger = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"


def well_formed(update: Update) -> bool:
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


def user_language(update: Update) -> str:
    user = update.effective_user
    return language_code(user.language_code if user else None) or "de"


def chat_id_of(recipient_id: str) -> Optional[str]:
    """The chat of a Telegram conversation; None (logged) for any other one."""
    try:
        return external_id(CHANNEL_NAME, recipient_id)
    except ValueError:
        logger.error(
            "Refused to send a Telegram message to a non-Telegram conversation."
        )
        return None


def conversation_of(chat: Any) -> str:
    return conversation_id(CHANNEL_NAME, str(chat.id))
