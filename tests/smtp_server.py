"""A real SMTP server on loopback for tests (aiosmtpd), which can go down and come back on the same port.

    from tests.smtp_server import smtp_server  # the fixture

`smtp_server.messages` holds what arrived, parsed; `refuse(address, reply)` makes
the server answer RCPT for that address with `reply` (e.g. a 550).
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
ACCEPTED = "250 OK"


class SmtpServer:
    """Collects every message it accepts; `stop()` and `start()` simulate an outage."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = _free_port()
        self.messages: list[EmailMessage] = []
        self.refusals: dict[str, str] = {}
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, address: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        self.refusals[address.lower()] = reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.refusals.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return ACCEPTED

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return ACCEPTED


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
