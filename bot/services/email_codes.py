"""Confirming the e-mail address a web user leaves for a staff answer.

Anyone can type anyone's address into the web chat, and the answer is sent from
IOM's staff mailbox; so the answer's text goes only to an address whose owner
proved to read it. When a ticket is opened with an address, a short code goes
there (the mail holds the code and the ticket number, nothing the user wrote);
typing it back into the chat, in either language ("123456", "123 456",
"der Code ist 123456"), confirms the address. Limits are in
bot/storage/email_checks.py. The code never reaches Rasa, the conversation or the
logs.
"""

from __future__ import annotations

import asyncio
import re
from typing import Optional

from bot.services.staff_email import send_code_mail
from bot.storage.email_checks import CODE_MINUTES, EmailChecks
from bot.storage.tickets import Ticket
from ofr.messages import message

# Six digits, the halves maybe apart ("123 456", "123-456"), no digit around them.
_CODE = re.compile(r"(?<!\d)(\d{3})[ \-]?(\d{3})(?!\d)")
_WORD = re.compile(r"\w+")
MAX_CODE_MESSAGE = 80  # "my code is 123 456, thanks": a code message is short
MAX_OTHER_WORDS = 6


def code_in(text: str) -> Optional[str]:
    """The code a short message holds, as six digits; None for anything else (a
    phone number, a date, a question with a number in it)."""
    if len(text) > MAX_CODE_MESSAGE:
        return None
    found = _CODE.findall(text)
    if len(found) != 1:
        return None
    rest = _CODE.sub(" ", text)
    if any(ch.isdigit() for ch in rest) or len(_WORD.findall(rest)) > MAX_OTHER_WORDS:
        return None
    return "".join(found[0])


async def ask_to_confirm(
    checks: EmailChecks, ticket: Ticket, address: str, language: str
) -> str:
    """Mail a code to ``address`` for ``ticket``; what to tell the user."""
    if await asyncio.to_thread(
        checks.confirmed_before, ticket.id, ticket.conversation, language, address
    ):
        return message("email_confirmed_already", language)
    code = await asyncio.to_thread(
        checks.start, ticket.id, ticket.conversation, language, address
    )
    if code is None:
        return message("email_code_limit", language)
    subject = message("email_code_subject", language, number=ticket.id)
    text = message(
        "email_code_text", language, number=ticket.id, code=code, minutes=CODE_MINUTES
    )
    if not await asyncio.to_thread(send_code_mail, address, subject, text):
        return message("email_code_failed", language)
    return message("email_code_sent", language, minutes=CODE_MINUTES)


async def confirm(checks: EmailChecks, conversation: str, text: str) -> Optional[str]:
    """The reply to a code typed in ``conversation``; None when the text holds no
    code or no confirmation is open there."""
    code = code_in(text)
    if code is None:
        return None
    result = await asyncio.to_thread(checks.check, conversation, code)
    if result is None:
        return None
    return message(
        f"email_code_{result.outcome}",
        result.language,
        number=result.ticket_id,
        left=result.left,
    )
