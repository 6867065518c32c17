"""Senders side by side: three of them, each with its own engine, empty one queue of 1,000 letters
into the real SMTP server on loopback, and every letter arrives exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from conftest import POSTGRES_URL, env_for
from sqlalchemy import Engine, insert, select, text

from admin_app.db import make_engine, make_session_factory
from admin_app.mail.letters import invitation_letter
from admin_app.mail.outbox import claim_next
from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import transport_for
from models import OutboxMessage, OutboxStatus, utcnow
from settings import load_settings

if TYPE_CHECKING:
    from tests.smtp_server import SmtpServer

LETTERS = 1000
SENDERS = 3
MAIL_FROM = "attestation@toipkro.example"


def queue_letters(engine: Engine, count: int, queued_at: datetime) -> None:
    """`count` pending letters in one bulk insert (enqueue() one by one would take most of the test)."""
    letter = invitation_letter(centre_name="ТОИПКРО", link="https://attestation.example.ru/Account/RegisterByInvite")
    with make_session_factory(engine).begin() as session:
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "idempotency_key": f"side-by-side:{number}",
                    "recipient": f"teacher{number}@example.com",
                    "subject": letter.subject,
                    "body_text": letter.text,
                    "body_html": letter.html,
                    "next_attempt_at": queued_at,
                }
                for number in range(count)
            ],
        )


def test_three_senders_deliver_1000_letters_each_exactly_once(
    database_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    settings = load_settings(
        env_for(
            database_url,
            tmp_path / "var",
            MAIL_BACKEND="smtp",
            SMTP_HOST=smtp_server.host,
            SMTP_PORT=str(smtp_server.port),
            MAIL_FROM=MAIL_FROM,
        )
    )
    queued_at = utcnow()
    engine = make_engine(settings.database_url)
    queue_letters(engine, LETTERS, queued_at)
    sent_by: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(SENDERS)

    def sender() -> None:
        own_engine = make_engine(settings.database_url)
        try:
            start.wait()
            deliver = partial(deliver_due, make_session_factory(own_engine), transport_for(settings))
            sent_by.append(anyio.run(partial(deliver, now=lambda: queued_at + timedelta(seconds=1))))
        except BaseException as error:  # reported below, with the thread's own traceback
            errors.append(error)
            raise
        finally:
            own_engine.dispose()

    threads = [threading.Thread(target=sender, name=f"sender-{number}") for number in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    assert sum(sent_by) == LETTERS
    assert len(sent_by) == SENDERS and all(sent_by), f"each sender should have taken a share: {sent_by}"
    message_ids = Counter(str(message["Message-ID"]) for message in smtp_server.messages)
    recipients = Counter(str(message["To"]) for message in smtp_server.messages)
    assert len(smtp_server.messages) == LETTERS
    assert len(message_ids) == LETTERS and max(message_ids.values()) == 1
    assert recipients == Counter(f"teacher{number}@example.com" for number in range(LETTERS))
    with make_session_factory(engine)() as session:
        rows = Counter(tuple(row) for row in session.execute(select(OutboxMessage.status, OutboxMessage.attempts)))
    engine.dispose()
    assert rows == {(OutboxStatus.SENT, 1): LETTERS}


@pytest.mark.skipif(not POSTGRES_URL, reason="SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
def test_on_postgresql_a_sender_passes_over_the_letter_another_is_claiming(database_url: str) -> None:
    queued_at = utcnow()
    first_engine, second_engine = make_engine(database_url), make_engine(database_url)
    queue_letters(first_engine, 2, queued_at)
    now = queued_at + timedelta(seconds=1)
    try:
        with make_session_factory(first_engine).begin() as first:
            held = claim_next(first, now=now)  # its transaction, and the row's lock, stay open meanwhile
            with make_session_factory(second_engine).begin() as second:
                second.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting for the lock would fail, not hang
                other = claim_next(second, now=now)
                assert claim_next(second, now=now) is None
        assert held is not None and other is not None
        assert {held.recipient, other.recipient} == {"teacher0@example.com", "teacher1@example.com"}
    finally:
        first_engine.dispose()
        second_engine.dispose()
