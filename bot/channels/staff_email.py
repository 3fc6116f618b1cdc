"""Tickets for IOM staff by e-mail, when ``OFR_SMTP_URL`` and ``OFR_STAFF_EMAIL`` are set.

The same text as in the staff group, so a mailbox can be the whole workflow for a
team without Telegram; staff answer in the group (README "Handover").
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
    if not configured.smtp_url or not configured.staff_email:
        return None
    url = urlsplit(configured.smtp_url)
    mail = EmailMessage()
    mail["Subject"] = f"OFR assistant: ticket #{number}"
    mail["From"] = configured.staff_email
    mail["To"] = configured.staff_email
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
        logger.error("E-mailing ticket %s failed: %s", number, type(error).__name__)
        return False
    return True
