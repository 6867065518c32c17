"""The e-mail subsystem against a real SMTP server on loopback: letters, the outbox, retries, workers, the CLI."""

from __future__ import annotations

import email
import email.policy
import hashlib
import html
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from conftest import BASE_URL, env_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from admin_app.db import make_engine, make_session_factory
from admin_app.mail.letters import Letter, invitation_letter, invitation_template_preview
from admin_app.mail.outbox import MAX_ATTEMPTS, SUPERSEDED, enqueue, retry_delay
from admin_app.mail.sender import MailSender, deliver_due
from admin_app.mail.transports import FileTransport, MailTransport, compose, transport_for
from models import DeliveryState, Invitation, OutboxMessage, OutboxStatus, utcnow
from settings import PROJECT_DIR, Settings, load_settings

if TYPE_CHECKING:
    from tests.smtp_server import SmtpServer


MAIL_FROM = "attestation@toipkro.example"
RECIPIENT = "expert@example.com"
LINK = f"{BASE_URL}/Account/RegisterByInvite?k=Zx3_-k9QpL&t=Expert"
SUBJECT = "Приглашаем Вас зарегистрироваться на сайте Центра аттестации педагогических работников ТОИПКРО"
GREETING = (
    "Добрый день. Вас приветствуют специалисты Центра аттестации педагогических работников ТОИПКРО. "
    'Приглашаем Вас зарегистрироваться на сайте Центра в целях активации электронной системы "Аттестация".'
)


class Clock:
    """An injectable `now` that tests move by hand."""

    def __init__(self) -> None:
        self.current = utcnow() + timedelta(seconds=1)  # a moment after whatever the test queues

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def smtp_settings(database_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Settings:
    extra = {"MAIL_BACKEND": "smtp", "SMTP_HOST": smtp_server.host, "SMTP_PORT": str(smtp_server.port)}
    return load_settings(env_for(database_url, tmp_path / "var", MAIL_FROM=MAIL_FROM, **extra))


@pytest.fixture
def transport(smtp_settings: Settings) -> MailTransport:
    return transport_for(smtp_settings)


def letter(link: str = LINK) -> Letter:
    return invitation_letter(centre_name="ТОИПКРО", link=link)


def make_invitation(session_factory: sessionmaker[Session], address: str = RECIPIENT) -> int:
    with session_factory.begin() as session:
        invitation = Invitation(
            key_hash=hashlib.sha256(address.encode()).hexdigest(),
            role_id=4,
            email=address,
            expires_at=utcnow() + timedelta(days=14),
        )
        session.add(invitation)
        session.flush()
        return invitation.id


def queue(
    session_factory: sessionmaker[Session],
    key: str,
    recipient: str = RECIPIENT,
    invitation_id: int | None = None,
) -> int:
    with session_factory.begin() as session:
        return enqueue(
            session, idempotency_key=key, recipient=recipient, letter=letter(), invitation_id=invitation_id
        ).id


def deliver(session_factory: sessionmaker[Session], transport: MailTransport, now: Clock) -> int:
    return anyio.run(partial(deliver_due, session_factory, transport, now=now))


def message_row(session_factory: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with session_factory() as session:
        return session.get_one(OutboxMessage, message_id)


def invitation_row(session_factory: sessionmaker[Session], invitation_id: int) -> Invitation:
    with session_factory() as session:
        return session.get_one(Invitation, invitation_id)


def test_the_invitation_letter_is_the_seed_text_with_the_link() -> None:
    made = letter()

    assert made.subject == SUBJECT
    assert made.text.startswith(GREETING)
    assert f"Для регистрации перейдите по ссылке:\n{LINK}\n" in made.text
    assert "скопируйте её и вставьте в адресную строку браузера" in made.text
    assert "Приглашение персональное" in made.text and "один раз" in made.text
    assert f'<a href="{html.escape(LINK)}">' in made.html
    assert html.unescape(made.html).count(GREETING) == 1


def test_the_preview_is_the_subject_and_the_greeting_without_the_link_part() -> None:
    assert invitation_template_preview(centre_name="ТОИПКРО") == (SUBJECT, GREETING)


def test_the_html_part_escapes_what_it_is_given() -> None:
    made = invitation_letter(centre_name="<img src=x onerror=alert(1)>", link=LINK)

    assert "<img" not in made.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in made.html
    assert "<img src=x onerror=alert(1)>" in made.text


def test_a_queued_letter_arrives_once_and_leaves_no_key_behind(
    session_factory: sessionmaker[Session], transport: MailTransport, smtp_server: SmtpServer, clock: Clock
) -> None:
    invitation_id = make_invitation(session_factory)
    message_id = queue(session_factory, "invitation:1:v1", invitation_id=invitation_id)

    assert deliver(session_factory, transport, clock) == 1
    assert deliver(session_factory, transport, clock) == 0

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["From"] == MAIL_FROM
    assert received["To"] == RECIPIENT
    assert received["Subject"] == SUBJECT
    assert received["Message-ID"] == f"<outbox-{message_id}@toipkro.example>"
    text = received.get_body(("plain",)).get_content()
    assert GREETING in text
    assert LINK in text.splitlines()
    assert f'href="{html.escape(LINK)}"' in received.get_body(("html",)).get_content()

    row = message_row(session_factory, message_id)
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.SENT, 1, clock())
    assert row.body_text is None and row.body_html is None
    invitation = invitation_row(session_factory, invitation_id)
    assert (invitation.delivery_state, invitation.sent_at) == (DeliveryState.SENT, clock())


def test_while_smtp_is_down_nothing_is_lost_and_it_is_sent_once_when_it_returns(
    session_factory: sessionmaker[Session], transport: MailTransport, smtp_server: SmtpServer, clock: Clock
) -> None:
    invitation_id = make_invitation(session_factory)
    message_id = queue(session_factory, "invitation:1:v1", invitation_id=invitation_id)
    smtp_server.stop()

    assert deliver(session_factory, transport, clock) == 0

    row = message_row(session_factory, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert clock() + timedelta(seconds=50) < row.next_attempt_at <= clock() + timedelta(seconds=70)
    assert row.last_error and LINK in (row.body_text or "")
    assert invitation_row(session_factory, invitation_id).delivery_state == DeliveryState.RETRYING

    smtp_server.start()
    clock.advance(timedelta(seconds=30))
    assert deliver(session_factory, transport, clock) == 0
    assert smtp_server.messages == []

    clock.current = row.next_attempt_at
    assert deliver(session_factory, transport, clock) == 1
    clock.advance(timedelta(hours=2))
    assert deliver(session_factory, transport, clock) == 0

    assert len(smtp_server.messages) == 1
    row = message_row(session_factory, message_id)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 2, None)
    assert invitation_row(session_factory, invitation_id).delivery_state == DeliveryState.SENT


def test_after_the_last_attempt_the_message_is_dead_and_the_invitation_failed(
    session_factory: sessionmaker[Session], transport: MailTransport, smtp_server: SmtpServer, clock: Clock
) -> None:
    invitation_id = make_invitation(session_factory)
    message_id = queue(session_factory, "invitation:1:v1", invitation_id=invitation_id)
    smtp_server.stop()

    for _ in range(MAX_ATTEMPTS):
        deliver(session_factory, transport, clock)
        clock.current = max(clock(), message_row(session_factory, message_id).next_attempt_at)

    row = message_row(session_factory, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.DEAD, MAX_ATTEMPTS)
    assert invitation_row(session_factory, invitation_id).delivery_state == DeliveryState.FAILED


def test_retry_delays_double_from_a_minute_to_an_hour_with_a_little_jitter() -> None:
    for attempts, minutes in ((1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (9, 60)):
        delay = retry_delay(attempts)
        assert timedelta(minutes=minutes * 0.9) <= delay <= timedelta(minutes=minutes * 1.1)


def test_a_5xx_refusal_kills_the_message_at_once(
    session_factory: sessionmaker[Session], transport: MailTransport, smtp_server: SmtpServer, clock: Clock
) -> None:
    smtp_server.refuse("nobody@example.com", "550 5.1.1 Нет такого ящика")
    invitation_id = make_invitation(session_factory, "nobody@example.com")
    message_id = queue(session_factory, "invitation:1:v1", "nobody@example.com", invitation_id)

    assert deliver(session_factory, transport, clock) == 0
    clock.advance(timedelta(hours=3))
    assert deliver(session_factory, transport, clock) == 0

    assert smtp_server.messages == []
    row = message_row(session_factory, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.DEAD, 1)
    assert "550" in (row.last_error or "")
    assert invitation_row(session_factory, invitation_id).delivery_state == DeliveryState.FAILED


def test_a_4xx_refusal_is_retried(
    session_factory: sessionmaker[Session], transport: MailTransport, smtp_server: SmtpServer, clock: Clock
) -> None:
    smtp_server.refuse("busy@example.com", "451 4.3.0 Попробуйте позже")
    message_id = queue(session_factory, "reset:1", "busy@example.com")

    assert deliver(session_factory, transport, clock) == 0

    row = message_row(session_factory, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "451" in (row.last_error or "")


def test_enqueue_with_the_same_idempotency_key_makes_one_row(session_factory: sessionmaker[Session]) -> None:
    first = queue(session_factory, "invitation:7:v1")
    with session_factory.begin() as session:
        second = enqueue(session, idempotency_key="invitation:7:v1", recipient=RECIPIENT, letter=letter()).id
        third = enqueue(session, idempotency_key="invitation:7:v1", recipient=RECIPIENT, letter=letter()).id

    assert first == second == third
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_a_new_letter_for_an_invitation_supersedes_the_pending_one(
    session_factory: sessionmaker[Session], transport: MailTransport, smtp_server: SmtpServer, clock: Clock
) -> None:
    invitation_id = make_invitation(session_factory)
    old = queue(session_factory, "invitation:1:v1", invitation_id=invitation_id)
    new = queue(session_factory, "invitation:1:v2", invitation_id=invitation_id)

    assert deliver(session_factory, transport, clock) == 1

    assert [message["Message-ID"] for message in smtp_server.messages] == [f"<outbox-{new}@toipkro.example>"]
    superseded = message_row(session_factory, old)
    assert (superseded.status, superseded.last_error, superseded.body_text) == (OutboxStatus.DEAD, SUPERSEDED, None)
    assert invitation_row(session_factory, invitation_id).delivery_state == DeliveryState.SENT


def test_the_file_transport_writes_a_parseable_eml(tmp_path: Path, clock: Clock) -> None:
    made = letter()
    message = compose(
        message_id=42,
        mail_from=MAIL_FROM,
        recipient=RECIPIENT,
        subject=made.subject,
        text=made.text,
        html=made.html,
        date=clock(),
    )

    anyio.run(FileTransport(tmp_path / "mail", mail_from=MAIL_FROM).send, message)

    [written] = (tmp_path / "mail").iterdir()
    assert written.name.endswith("-outbox-42.eml")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert (parsed["Subject"], parsed["To"], parsed["From"]) == (SUBJECT, RECIPIENT, MAIL_FROM)
    assert LINK in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_two_concurrent_workers_send_each_message_exactly_once(
    settings: Settings,
    session_factory: sessionmaker[Session],
    transport: MailTransport,
    smtp_server: SmtpServer,
    clock: Clock,
) -> None:
    ids = [queue(session_factory, f"bulk:{number}", f"teacher{number}@example.com") for number in range(20)]
    other_engine = make_engine(settings.database_url)
    results: list[int] = []

    async def worker(factory: sessionmaker[Session]) -> None:
        results.append(await deliver_due(factory, transport, now=clock))

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(worker, session_factory)
            group.start_soon(worker, make_session_factory(other_engine))

    try:
        anyio.run(both)
    finally:
        other_engine.dispose()

    assert sum(results) == 20
    received = sorted(message["Message-ID"] for message in smtp_server.messages)
    assert received == sorted(f"<outbox-{message_id}@toipkro.example>" for message_id in ids)
    with session_factory() as session:
        rows = session.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert {tuple(row) for row in rows} == {(OutboxStatus.SENT, 1)}


def test_the_mail_sender_sends_when_woken_and_stops(
    session_factory: sessionmaker[Session], transport: MailTransport, smtp_server: SmtpServer
) -> None:
    queue(session_factory, "first")
    sender = MailSender(session_factory, transport, interval=60)

    async def wait_for_messages(count: int) -> None:
        with anyio.fail_after(10):
            while len(smtp_server.messages) < count:
                await anyio.sleep(0.02)

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(sender.run)
            await wait_for_messages(1)
            await anyio.to_thread.run_sync(queue, session_factory, "second")
            sender.wake()
            await wait_for_messages(2)
            sender.stop()

    anyio.run(scenario)

    assert len(smtp_server.messages) == 2


def test_the_mail_sender_survives_a_failing_pass(
    tmp_path: Path, transport: MailTransport, caplog: pytest.LogCaptureFixture
) -> None:
    # A real database without the schema: every pass fails.
    engine = make_engine(f"sqlite:///{tmp_path / 'no-schema.sqlite3'}")
    sender = MailSender(make_session_factory(engine), transport, interval=0.01)

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(sender.run)
            with anyio.fail_after(10):
                while len(caplog.records) < 2:
                    await anyio.sleep(0.01)
            sender.stop()

    with caplog.at_level(logging.ERROR, logger="admin_app.mail.sender"):
        anyio.run(scenario)
    engine.dispose()

    assert all("Рассылка: сбой при отправке писем" in record.getMessage() for record in caplog.records)


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("SMTP_", "MAIL_"))}
    yield {**inherited, **env_for(database_url, tmp_path / "var", MAIL_BACKEND="file")}


def test_send_mail_once_delivers_to_the_mail_directory(
    session_factory: sessionmaker[Session], operator_env: dict[str, str], tmp_path: Path
) -> None:
    message_id = queue(session_factory, "invitation:1:v1")

    result = subprocess.run(
        [sys.executable, "-m", "admin_app", "send-mail", "--once"],
        cwd=PROJECT_DIR,
        env=operator_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Отправлено писем: 1; в очереди: 0; с ошибкой: 0."
    [written] = (tmp_path / "var" / "mail").glob("*.eml")
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert LINK in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message_row(session_factory, message_id).status == OutboxStatus.SENT


def test_send_mail_once_sends_a_due_reminder_once(
    session_factory: sessionmaker[Session], operator_env: dict[str, str], tmp_path: Path
) -> None:
    invitation_id = make_invitation(session_factory)
    with session_factory.begin() as session:  # the letter went out eleven days ago; two days are left
        invitation = session.get_one(Invitation, invitation_id)
        invitation.sent_at = utcnow() - timedelta(days=11)
        invitation.expires_at = utcnow() + timedelta(days=2)

    first = send_mail_once(operator_env)
    second = send_mail_once(operator_env)

    assert first.splitlines() == [
        "Напоминаний о приглашениях поставлено в очередь: 1.",
        "Отправлено писем: 1; в очереди: 0; с ошибкой: 0.",
    ]
    assert second == "Отправлено писем: 0; в очереди: 0; с ошибкой: 0."
    [written] = (tmp_path / "var" / "mail").glob("*.eml")
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert parsed["Subject"].startswith("Напоминание") and "Ссылка из прежнего письма больше не действует" in text
    key = text.split("RegisterByInvite?k=")[1].split("&")[0]
    assert hashlib.sha256(key.encode()).hexdigest() == invitation_row(session_factory, invitation_id).key_hash


def send_mail_once(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "admin_app", "send-mail", "--once"],
        cwd=PROJECT_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_failing_chore_does_not_keep_the_letters_from_going_out(
    session_factory: sessionmaker[Session],
    transport: MailTransport,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue(session_factory, "first")

    def broken_chore(now: datetime) -> None:
        raise RuntimeError("нет связи")

    sender = MailSender(session_factory, transport, interval=60, chores=[broken_chore])

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(sender.run)
            with anyio.fail_after(10):
                while not smtp_server.messages:
                    await anyio.sleep(0.02)
            sender.stop()

    with caplog.at_level(logging.ERROR, logger="admin_app.mail.sender"):
        anyio.run(scenario)

    assert len(smtp_server.messages) == 1
    assert any("Рассылка: сбой фоновой задачи" in record.getMessage() for record in caplog.records)
