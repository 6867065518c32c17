"""The transactional outbox: every state change of an OutboxMessage, and of its invitation's delivery state.

A request only adds a row (`enqueue`) in its own transaction and never talks to
SMTP. The sender takes the oldest due row with a lease (`claim_next`: a conditional
UPDATE, on PostgreSQL of a row picked with FOR UPDATE SKIP LOCKED, so of several
senders exactly one gets each row and none waits for another), sends it, then records the outcome:
`mark_sent`, `schedule_retry` (exponential backoff) or `mark_dead`. Delivery is
at least once: a process killed mid-send leaves a lease that expires, and the
letter is sent again.

`claim_next` and the outcome functions each begin with a write, so that when run as
a transaction of its own the write lock is taken first and SQLite's busy timeout
applies. The outcome of an invitation's letter first locks the invitation's row,
as resending, revoking and reminding do: on PostgreSQL they all take their locks
in one order (the invitation, then its letters) and wait for each other instead
of deadlocking. SQLite ignores FOR UPDATE, and its driver begins the transaction
only at the first write, so there this is a plain read before it.

A letter tied to an invitation is only worth sending while its link works:
`drop_pending` gives up an invitation's pending letters (superseded by a new key,
or the invitation revoked) and `drop` a claimed one whose invitation is no longer
live; neither counts as a delivery attempt nor changes the delivery state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from admin_app.mail.letters import Letter
from models import DeliveryState, Invitation, OutboxMessage, OutboxStatus

LEASE = timedelta(minutes=5)
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 10
JITTER = 0.1
MAX_ERROR_LENGTH = 1000
SUPERSEDED = "Заменено новым письмом по тому же приглашению."

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclass(frozen=True)
class ClaimedMessage:
    """A message this process holds the lease on: what is needed to send it and record the outcome."""

    id: int
    recipient: str
    subject: str
    body_text: str
    body_html: str
    attempts: int
    invitation_id: int | None

    @classmethod
    def of(cls, row: Any) -> ClaimedMessage:
        """From an outbox row (or a result row with its columns); a blanked body reads as empty."""
        return cls(
            id=row.id,
            recipient=row.recipient,
            subject=row.subject,
            body_text=row.body_text or "",
            body_html=row.body_html or "",
            attempts=row.attempts,
            invitation_id=row.invitation_id,
        )


def enqueue(
    session: Session, *, idempotency_key: str, recipient: str, letter: Letter, invitation_id: int | None = None
) -> OutboxMessage:
    """Add a pending message, or return the one already added under `idempotency_key`.

    A new letter for an invitation supersedes its older pending ones: their link is dead.
    """
    insert = _INSERTS[session.get_bind().dialect.name]
    inserted = session.execute(
        insert(OutboxMessage)
        .values(
            idempotency_key=idempotency_key,
            recipient=recipient,
            subject=letter.subject,
            body_text=letter.text,
            body_html=letter.html,
            invitation_id=invitation_id,
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
    ).rowcount
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)).one()
    if inserted and invitation_id is not None:
        drop_pending(session, invitation_id, reason=SUPERSEDED, keep=message.id)
        _set_delivery_state(session, invitation_id, DeliveryState.QUEUED)
    return message


def drop_pending(session: Session, invitation_id: int, *, reason: str, keep: int | None = None) -> None:
    """Give up the invitation's pending letters (all but `keep`) unsent: their link no longer works.

    A letter being sent right now is given up too; its outcome is then not recorded (`_finish`).
    """
    if keep is not None:
        _give_up(session, OutboxMessage.invitation_id == invitation_id, OutboxMessage.id != keep, reason=reason)
    elif _give_up(session, OutboxMessage.invitation_id == invitation_id, reason=reason):
        _set_delivery_state(session, invitation_id, DeliveryState.CANCELLED)


def drop(session: Session, message: ClaimedMessage, *, reason: str) -> None:
    """Give up a claimed message unsent (its invitation is no longer live)."""
    if _give_up(session, OutboxMessage.id == message.id, reason=reason):
        _set_delivery_state(session, message.invitation_id, DeliveryState.CANCELLED)


def claim_next(session: Session, *, now: datetime, lease: timedelta = LEASE) -> ClaimedMessage | None:
    """Take the lease on the oldest due message; None when nothing is due that another sender does not hold.

    One conditional UPDATE of the row its subquery picks. On PostgreSQL the subquery is
    `SELECT … FOR UPDATE SKIP LOCKED`: a row another sender is claiming right now is passed over,
    so senders side by side each take a different message instead of queueing for one. SQLite
    has one writer at a time and no FOR UPDATE (SQLAlchemy leaves it out): the UPDATE itself takes
    the write lock, and its conditions decide.
    """
    oldest_due = (
        select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == oldest_due, _due(now))
        .values(next_attempt_at=now + lease)
        .returning(
            OutboxMessage.id,
            OutboxMessage.recipient,
            OutboxMessage.subject,
            OutboxMessage.body_text,
            OutboxMessage.body_html,
            OutboxMessage.attempts,
            OutboxMessage.invitation_id,
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        return None
    return ClaimedMessage.of(row)


def mark_sent(session: Session, message: ClaimedMessage, *, now: datetime) -> None:
    """Record a delivery and blank the body: it holds a link with a key."""
    if _finish(
        session,
        message,
        status=OutboxStatus.SENT,
        sent_at=now,
        last_error=None,
        body_text=None,
        body_html=None,
    ):
        _set_delivery_state(session, message.invitation_id, DeliveryState.SENT, sent_at=now)


def schedule_retry(session: Session, message: ClaimedMessage, *, error: str, now: datetime) -> bool:
    """Record a transient failure: try again after a backoff, or give up after MAX_ATTEMPTS.

    Returns True when another attempt is scheduled, False when the message is now dead.
    """
    attempts = message.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        mark_dead(session, message, error=error)
        return False
    if _finish(
        session,
        message,
        status=OutboxStatus.PENDING,
        next_attempt_at=now + retry_delay(attempts),
        last_error=error[:MAX_ERROR_LENGTH],
    ):
        _set_delivery_state(session, message.invitation_id, DeliveryState.RETRYING)
    return True


def mark_dead(session: Session, message: ClaimedMessage, *, error: str) -> None:
    """Give up on a message (a permanent refusal, or too many attempts)."""
    if _finish(session, message, status=OutboxStatus.DEAD, last_error=error[:MAX_ERROR_LENGTH]):
        _set_delivery_state(session, message.invitation_id, DeliveryState.FAILED)


def retry_delay(attempts: int) -> timedelta:
    """1 minute after the first failure, doubling up to 1 hour, each within ±10% jitter."""
    base = min(FIRST_RETRY_DELAY * 2 ** (attempts - 1), MAX_RETRY_DELAY)
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def count_by_status(session: Session) -> dict[OutboxStatus, int]:
    counts = dict.fromkeys(OutboxStatus, 0)
    for status, count in session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)):
        counts[OutboxStatus(status)] = count
    return counts


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending, and its time has come (and its lease, if any, has run out)."""
    return and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)


def _give_up(session: Session, *where: ColumnElement[bool], reason: str) -> int:
    """Pending messages matching `where` become dead with `reason`; the body goes: it holds a link with a key.
    Returns how many there were."""
    return session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, *where)
        .values(status=OutboxStatus.DEAD, last_error=reason, body_text=None, body_html=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def _finish(session: Session, message: ClaimedMessage, **values: object) -> bool:
    """Write the outcome of one attempt; False when the message stopped being pending meanwhile (dropped)."""
    if message.invitation_id is not None:
        session.get(Invitation, message.invitation_id, with_for_update=True)
    return (
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.PENDING)
            .values(attempts=message.attempts + 1, **values)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _set_delivery_state(
    session: Session, invitation_id: int | None, state: DeliveryState, *, sent_at: datetime | None = None
) -> None:
    if invitation_id is None:
        return
    invitation = session.get_one(Invitation, invitation_id)
    invitation.delivery_state = state
    if sent_at is not None:
        invitation.sent_at = sent_at
