"""Outgoing mail over SMTP, with the standard library.

Only the worker sends: a request writes an outbox row in its transaction, so a mail
leaves only for committed work and a slow or unreachable mail server never holds up a
request. Plain SMTP to `settings.smtp_host:smtp_port` (a local relay); STARTTLS and
SMTP login are not supported yet.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from app.settings import Settings

SMTP_TIMEOUT_SECONDS = 20
# What a caller retries: the server refused, dropped or never answered.
DELIVERY_ERRORS = (smtplib.SMTPException, OSError)


def compose(settings: Settings, *, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text UTF-8 message from `settings.mail_from`."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    sender_domain = Address(addr_spec=parseaddr(settings.mail_from)[1]).domain
    message["Message-ID"] = make_msgid(domain=sender_domain or None)
    message.set_content(body, charset="utf-8")
    return message


def _deliver(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message)


async def send(settings: Settings, message: EmailMessage) -> None:
    """Deliver `message`; raises one of DELIVERY_ERRORS if the server did not take it.
    smtplib blocks, so it runs in a thread."""
    await asyncio.to_thread(_deliver, settings, message)
