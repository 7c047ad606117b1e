"""A real SMTP server for tests: aiosmtpd on a free port of 127.0.0.1, keeping every
message it accepts in memory.

    with SmtpServer() as smtp:
        settings = dataclasses.replace(settings, smtp_host=smtp.host, smtp_port=smtp.port)
        ...  # something sends mail
        [mail] = smtp.messages_to("ada@example.com")
        mail.text  # the plain-text body

aiosmtpd runs its own event loop in a thread, so the test's loop can send to it (or
be blocked in smtplib) without either waiting on the other.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (aiosmtpd's controller needs a real port
    number: it connects to it to tell that the server is up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None, "the message has no text/plain part"
        return body.get_content()


class _Collector:
    """aiosmtpd's handler: every accepted message, in order of arrival."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), message)  # type: ignore[arg-type]
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self.port = free_port(host)
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname=host, port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def received(self) -> list[Received]:
        with self._collector.lock:
            return list(self._collector.received)

    def messages_to(self, address: str) -> list[Received]:
        """What was delivered to `address` (compared case-insensitively), oldest first."""
        wanted = address.casefold()
        return [m for m in self.received if wanted in (r.casefold() for r in m.recipients)]
