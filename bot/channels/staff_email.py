"""E-mail, when ``OFR_SMTP_URL`` and ``OFR_STAFF_EMAIL`` are set: tickets to staff,
and staff answers to web users who left an address.

A ticket has the same text as in the staff group; staff answer in the group
(README "Handover").
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

from ofr import settings

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20


def send_ticket_mail(number: int, text: str) -> Optional[bool]:
    """Send the ticket; None when e-mail is not set up, else whether it went out."""
    configured = settings.current()
    if not configured.staff_email:
        return None
    return _send(configured.staff_email, f"OFR assistant: ticket #{number}", text)


def send_answer_mail(address: str, subject: str, text: str) -> Optional[bool]:
    """A staff answer to the address a web user left; from the staff mailbox, so a
    reply reaches staff."""
    return _send(address, subject, text)


def _send(to: str, subject: str, text: str) -> Optional[bool]:
    configured = settings.current()
    if not configured.smtp_url or not configured.staff_email:
        return None
    url = urlsplit(configured.smtp_url)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = configured.staff_email
    mail["To"] = to
    mail.set_content(text)
    secure = url.scheme == "smtps"
    starttls = parse_qs(url.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
    port = url.port or (465 if secure else 587 if starttls else 25)
    try:
        smtp_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
        with smtp_class(url.hostname or "", port, timeout=TIMEOUT_SECONDS) as smtp:
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as error:
        # The ticket is in the database and the staff group: log, do not fail.
        logger.error("Sending an e-mail failed: %s", type(error).__name__)
        return False
    return True
