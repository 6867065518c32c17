"""Delivering the outbox: `deliver_due` makes one pass, `MailSender` repeats it in the background.

Each message is claimed with a lease just before it is sent (`outbox.claim_next`), so
several senders — the workers of `serve`, `send-mail` processes, on one or many
servers — may run side by side without sending a message twice. A letter whose invitation is
no longer live (registered, revoked, expired) is dropped at that moment instead:
its link would be refused. Database work runs in worker threads, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import State

from admin_app.invitations import void_letter_reason
from admin_app.mail import outbox
from admin_app.mail.transports import MailTransport, PermanentMailError, compose
from models import utcnow

DEFAULT_INTERVAL = 5.0

logger = logging.getLogger(__name__)
T = TypeVar("T")

Chore = Callable[[datetime], object]
"""Work `MailSender` does in a worker thread before each pass, given the time (queuing reminders)."""


async def deliver_due(
    session_factory: sessionmaker[Session],
    transport: MailTransport,
    *,
    now: Callable[[], datetime] = utcnow,
) -> int:
    """Try every due pending message once; return how many were sent.

    A failure to connect, a timeout or a 4xx reply schedules a retry; a 5xx refusal
    (PermanentMailError) makes the message dead at once.
    """
    return await _deliver(session_factory, transport, now=now, stopping=lambda: False)


def wake_sender(state: State) -> None:
    """Send new letters now rather than at the next pass, when this process runs a sender
    (`state` is the application's: `serve` runs one, tests and `--no-mail` runs may not)."""
    sender = getattr(state, "mail_sender", None)
    if sender is not None:
        sender.wake()


class MailSender:
    """Runs its chores and `deliver_due` every `interval` seconds, or at once when woken, until stopped."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        transport: MailTransport,
        *,
        interval: float = DEFAULT_INTERVAL,
        chores: Sequence[Chore] = (),
    ) -> None:
        self.session_factory = session_factory
        self.transport = transport
        self.interval = interval
        self.chores = tuple(chores)
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    async def run(self) -> None:
        """Deliver until `stop()`; an error is logged and the next pass comes as usual.

        After `stop()` the letter being sent is finished and no other is claimed.
        """
        self._wakeup = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                self._wakeup.clear()
                await self._do_chores()
                try:
                    await _deliver(
                        self.session_factory,
                        self.transport,
                        now=utcnow,
                        stopping=lambda: self._stopping,
                    )
                except Exception:
                    logger.exception("Рассылка: сбой при отправке писем, следующая попытка через %s с.", self.interval)
                if not self._stopping:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), self.interval)
        finally:
            self._loop = None

    async def _do_chores(self) -> None:
        """Each chore once; a failing one is logged and does not keep the letters from going out."""
        for chore in self.chores:
            try:
                await anyio.to_thread.run_sync(chore, utcnow())
            except Exception:
                logger.exception("Рассылка: сбой фоновой задачи, следующая попытка через %s с.", self.interval)

    def stop(self) -> None:
        """Ask `run()` to return; safe to call from any thread or a signal handler."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        """Make the next pass now rather than after the interval; safe to call from any thread."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)


async def run_until_signalled(sender: MailSender) -> None:
    """Run `sender` in the foreground until SIGINT (Ctrl+C) or SIGTERM."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, sender.stop)
    await sender.run()


async def _deliver(
    session_factory: sessionmaker[Session],
    transport: MailTransport,
    *,
    now: Callable[[], datetime],
    stopping: Callable[[], bool],
) -> int:
    # A tried message is no longer due (sent, dead, or put off by at least ~a minute), so this ends.
    sent = 0
    while not stopping():
        claimed = await _in_transaction(session_factory, partial(_claim_live, now=now()))
        if claimed is None:
            break
        if claimed is not _DROPPED:
            sent += await _send(session_factory, transport, claimed, now)
    return sent


_DROPPED = outbox.ClaimedMessage(
    id=0, recipient="", subject="", body_text="", body_html="", attempts=0, invitation_id=None
)
"""What `_claim_live` returns for a message it dropped: there may be more due after it."""


def _claim_live(session: Session, now: datetime) -> outbox.ClaimedMessage | None:
    """Claim the oldest due message, or drop it when its invitation is no longer live (`_DROPPED`);
    None when nothing is due."""
    message = outbox.claim_next(session, now=now)
    if message is None or message.invitation_id is None:
        return message
    reason = void_letter_reason(session, message.invitation_id, now)
    if reason is None:
        return message
    outbox.drop(session, message, reason=reason)
    logger.info("Письмо №%s для %s: %s", message.id, message.recipient, reason)
    return _DROPPED


async def _send(
    session_factory: sessionmaker[Session],
    transport: MailTransport,
    message: outbox.ClaimedMessage,
    now: Callable[[], datetime],
) -> int:
    """Send one claimed message and record the outcome; 1 when it was sent."""
    try:
        await transport.send(
            compose(
                message_id=message.id,
                mail_from=transport.mail_from,
                recipient=message.recipient,
                subject=message.subject,
                text=message.body_text,
                html=message.body_html,
                date=now(),
            )
        )
    except PermanentMailError as error:
        await _in_transaction(session_factory, partial(outbox.mark_dead, message=message, error=str(error)))
        logger.error("Письмо №%s для %s не доставлено: %s", message.id, message.recipient, error)
        return 0
    except Exception as error:
        reason = f"{type(error).__name__}: {error}".removesuffix(": ")
        retrying = await _in_transaction(
            session_factory, partial(outbox.schedule_retry, message=message, error=reason, now=now())
        )
        attempt = message.attempts + 1
        if retrying:
            logger.warning(
                "Письмо №%s для %s не отправлено (попытка %s), повторим позже: %s",
                message.id,
                message.recipient,
                attempt,
                reason,
            )
        else:
            logger.error(
                "Письмо №%s для %s не отправлено за %s попыток, отправка прекращена: %s",
                message.id,
                message.recipient,
                attempt,
                reason,
            )
        return 0
    await _in_transaction(session_factory, partial(outbox.mark_sent, message=message, now=now()))
    logger.info("Письмо №%s отправлено: %s", message.id, message.recipient)
    return 1


async def _in_transaction(session_factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """Run `work` in a transaction of its own, in a worker thread."""

    def run() -> T:
        with session_factory.begin() as session:
            return work(session)

    return await anyio.to_thread.run_sync(run)
