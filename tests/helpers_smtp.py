"""A real SMTP server for tests: aiosmtpd on a free loopback port, in a thread of its own.

It records every message it accepts, as parsed from the bytes on the wire, and can be told to
answer a recipient with an error code (550, 451, ...) or to be slow, the way a real mail server
sometimes is. It is thread-safe, so several workers may send to it at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.waiting import wait_until

# aiosmtpd logs every SMTP command at INFO; the tests read what arrived instead.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# An answer to RCPT TO or DATA, for example "550 5.1.1 No such user"; None accepts.
Reply = Callable[[str], str | None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Recorder:
    """The aiosmtpd handler: accepts, refuses or delays, and keeps what it accepted."""

    mail_reply: Reply | None = None  # given the sender's address
    rcpt_reply: Reply | None = None
    data_reply: Reply | None = None
    # Seconds to wait before answering the end of DATA. The message is recorded first, as a real
    # server queues it before it replies: a client that dies in this pause has had its message
    # delivered without knowing it, which is exactly the case a duplicate comes from.
    data_delay: float = 0.0
    # Accept the message, then hang up before replying: the sender cannot know it was delivered.
    hang_up_after_data: Callable[[str], bool] | None = None
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self.mail_reply(address) if self.mail_reply else None
        if reply:
            with self._lock:
                self.refused.append((address, reply))
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_reply(address) if self.rcpt_reply else None
        if reply:
            with self._lock:
                self.refused.append((address, reply))
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            reply = self.data_reply(address) if self.data_reply else None
            if reply:
                with self._lock:
                    self.refused.append((address, reply))
                return reply
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.hang_up_after_data and any(self.hang_up_after_data(a) for a in envelope.rcpt_tos):
            server.transport.close()
            return "250 Message accepted for delivery (never heard)"
        if self.data_delay:
            # A sleep that is the scenario: a slow server, answering late on purpose.
            await asyncio.sleep(self.data_delay)
        return "250 Message accepted for delivery"

    # Reading from other threads -------------------------------------------------------------
    def messages(self, to: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if to is None or to in r.envelope_to]

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def message_id_counts(self) -> Counter:
        with self._lock:
            return Counter(r.message_id for r in self.received)

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until at least ``count`` messages arrived (a real clock: the server is real)."""
        return wait_until(lambda: self.count() >= count, timeout=timeout, interval=0.02)


@dataclass
class SMTPServer:
    host: str
    port: int
    recorder: Recorder

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def django_settings(self) -> dict[str, object]:
        """The settings that send Django's mail to this server over plain SMTP."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host, "EMAIL_PORT": self.port, "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False, "EMAIL_HOST_USER": "", "EMAIL_HOST_PASSWORD": "", "EMAIL_TIMEOUT": 10,
        }


@contextmanager
def smtp_server(recorder: Recorder | None = None, port: int | None = None) -> Iterator[SMTPServer]:
    """Run a real SMTP server on 127.0.0.1 (a free port unless given) until the block ends."""
    recorder = recorder or Recorder()
    port = port or free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield SMTPServer(host="127.0.0.1", port=port, recorder=recorder)
    finally:
        controller.stop()
