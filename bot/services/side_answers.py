"""Buttons that the channel answers itself, without Rasa: 👍 / 👎 (and "ask in
other words") and "Yes, pass it on" to IOM staff.

Telegram has its own callback handlers for them; the web chat and REST send them as
a message's text and come here.
"""

from __future__ import annotations

from typing import Any, Dict

from bot.services import feedback
from bot.services.feedback import Reply
from bot.services.handover_desk import desk, is_handover
from ofr.feedback import is_feedback
from ofr.language import DEFAULT_LANGUAGE, language_code


def is_side_question(text: str) -> bool:
    return is_feedback(text) or is_handover(text)


async def side_answer(
    text: str, conversation: str, channel: str, metadata: Dict[str, Any]
) -> Reply:
    """The reply to a pressed feedback or handover button; ``metadata`` may hold
    the page's language and, for a handover, the e-mail address the user left."""
    language = language_code(metadata.get("language")) or DEFAULT_LANGUAGE
    handover = desk()
    if is_handover(text):
        email = metadata.get("email")
        reply = await handover.open_ticket(
            conversation,
            channel,
            language,
            email=email if isinstance(email, str) else None,
        )
        return Reply(reply)
    return await feedback.handle(
        text,
        conversation,
        channel,
        language,
        handover.tracker_store,
        handover.lock_store,
    )
