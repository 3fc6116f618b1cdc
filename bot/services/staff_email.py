"""E-mail, when ``OFR_SMTP_URL`` and ``OFR_STAFF_EMAIL`` are set: tickets to staff,
codes that confirm a web user's address, and staff answers to confirmed addresses.

A ticket has the same text as in the staff group; staff answer in the group
(docs/channels.md, "Handover to IOM staff").

``smtps://`` and STARTTLS (``?starttls=1``) verify the server's certificate and host
name against the system's CA store. The password is sent only over TLS, or to a mail
server on this machine.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Optional
from urllib.parse import unquote, urlsplit

from ofr import settings
from ofr.settings import is_loopback, smtp_uses_tls

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20


def send_ticket_mail(number: int, text: str) -> Optional[bool]:
    """Send the ticket; None when e-mail is not set up, else whether it went out."""
    configured = settings.current()
    if not configured.staff_email:
        return None
    return _send(configured.staff_email, f"OFR assistant: ticket #{number}", text)


def send_answer_mail(address: str, subject: str, text: str) -> Optional[bool]:
    """A staff answer to the address a web user left and confirmed; from the staff
    mailbox, so a reply reaches staff."""
    return _send(address, subject, text)


def send_code_mail(address: str, subject: str, text: str) -> Optional[bool]:
    """The code that confirms an address a web user left (bot/services/email_codes.py):
    the only mail an address nobody confirmed gets."""
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
    starttls = smtp_uses_tls(configured.smtp_url) and not secure
    host = url.hostname or ""
    if url.username and not (secure or starttls) and not is_loopback(host):
        # settings.read() refuses such a URL at start; never send the password anyway.
        logger.error(
            "Not sending an e-mail: the mail password would go unencrypted to %s; "
            "use smtps:// or ?starttls=1 in OFR_SMTP_URL.",
            host,
        )
        return False
    port = url.port or (465 if secure else 587 if starttls else 25)
    # The system's CA store and the host name: a server in the middle without the
    # mail server's certificate gets neither the mail nor the password.
    context = ssl.create_default_context()
    try:
        if secure:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=TIMEOUT_SECONDS, context=context
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        with smtp:
            if starttls:
                smtp.starttls(context=context)
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as error:
        # The ticket is in the database and the staff group: log, do not fail.
        logger.error("Sending an e-mail failed: %s", type(error).__name__)
        return False
    return True
