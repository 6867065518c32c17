"""How a message leaves: over SMTP, or as .eml files for a local run. `compose` is the one place a message is built."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
import anyio.to_thread

from settings import Settings

SMTP_TIMEOUT = 10.0
PERMANENT_CODE = 500


class PermanentMailError(Exception):
    """The server refused the message for good (SMTP 5xx): sending it again will not help."""


class MailTransport(Protocol):
    mail_from: str

    async def send(self, message: EmailMessage) -> None: ...


def compose(
    *, message_id: int, mail_from: str, recipient: str, subject: str, text: str, html: str, date: datetime
) -> EmailMessage:
    """A text/plain + text/html message in UTF-8 whose Message-ID follows from the outbox id."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<outbox-{message_id}@{_domain(mail_from)}>"
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


class SmtpTransport:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        starttls: bool,
        mail_from: str,
        timeout: float = SMTP_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.mail_from = mail_from
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        """Send over one SMTP connection; a 5xx refusal of the recipient or the data is PermanentMailError.

        Anything else (no connection, a timeout, 4xx, a refused login or sender) is left
        to propagate: the sender retries it later.
        """
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            _raise_if_permanent(error.recipients)
            raise
        except aiosmtplib.SMTPDataError as error:
            _raise_if_permanent([error])
            raise


class FileTransport:
    """Writes each message to <directory>/<UTC timestamp>-<outbox id>.eml (temporary file, then rename)."""

    def __init__(self, directory: Path, *, mail_from: str) -> None:
        self.directory = directory
        self.mail_from = mail_from

    async def send(self, message: EmailMessage) -> None:
        await anyio.to_thread.run_sync(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        local_part = str(message["Message-ID"]).strip("<>").partition("@")[0]
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{re.sub(r'[^A-Za-z0-9.-]', '_', local_part)}.eml"
        temporary = self.directory / f".{name}.tmp"
        # 0600: the letter holds a link with a registration key.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(message.as_bytes())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.directory / name)


def transport_for(settings: Settings) -> MailTransport:
    if settings.mail_backend == "file":
        return FileTransport(settings.mail_dir, mail_from=settings.mail_from)
    return SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        mail_from=settings.mail_from,
    )


def _raise_if_permanent(refusals: Sequence[aiosmtplib.SMTPResponseException]) -> None:
    if all(refusal.code >= PERMANENT_CODE for refusal in refusals):
        reply = "; ".join(f"{refusal.code} {refusal.message}" for refusal in refusals)
        raise PermanentMailError(f"Сервер отказал в доставке: {reply}")


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"
