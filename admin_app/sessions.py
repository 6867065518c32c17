"""Logins recorded on the server: opening, resolving and ending sessions — the one place these rules live.

Threat model: the session cookie is signed but readable, and a copy of it (a shared computer,
a proxy log, malware, a stolen backup of a browser profile) must stop working the moment the
session ends. So the cookie carries only a random session id (256 bits from `secrets`) and the
database keeps only its SHA-256 (`user_sessions.sid_hash`): a leaked table opens nothing. A
session lets its user in only while it is not revoked, before its absolute limit (SESSION_HOURS
after it was opened), not idle longer than SESSION_IDLE_MINUTES, and while its user is active.
A login always opens a new session, so an id planted before the login is worth nothing.

Logout revokes its own session; a password change or reset, deactivation, or a change of role or
scope ends every session and «Запомнить меня» token of the user (`end_all`), in the transaction
that makes the change. This makes a digest of the password hash in the cookie (Django's session
auth hash) redundant: there is no path that changes a password without set_password, and the
cookie stays a bare id.

Every function takes `now`, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from admin_app.tokens import token_hash
from models import RememberToken, User, UserSession
from settings import Settings

SID_BYTES = 32
TOUCH_INTERVAL = timedelta(minutes=1)  # last_seen_at is written at most this often, to spare writes
USER_AGENT_LENGTH = 300


def open_session(
    session: Session,
    user_id: int,
    *,
    address: str,
    user_agent: str,
    remembered: bool,
    settings: Settings,
    now: datetime,
) -> str:
    """Record a new session of `user_id` and return its id, the value for the cookie (shown nowhere else)."""
    sid = secrets.token_urlsafe(SID_BYTES)
    session.add(
        UserSession(
            sid_hash=token_hash(sid),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
            remembered=remembered,
            address=address,
            user_agent=user_agent[:USER_AGENT_LENGTH],
        )
    )
    return sid


def resolve_session(session: Session, sid: str, *, settings: Settings, now: datetime) -> User | None:
    """The user of the live session `sid` (its role loaded), marking it seen; None when it lets nobody in."""
    record = session.scalar(
        select(UserSession)
        .where(UserSession.sid_hash == token_hash(sid))
        .options(joinedload(UserSession.user).joinedload(User.role))
    )
    if record is None or not _live(record, settings, now) or not record.user.is_active:
        return None
    if now - record.last_seen_at >= TOUCH_INTERVAL:
        record.last_seen_at = now
    return record.user


def revoke_session(session: Session, sid: str, *, now: datetime) -> None:
    """End the session `sid` (logout, or a new login in the same browser)."""
    session.execute(
        update(UserSession)
        .where(UserSession.sid_hash == token_hash(sid), UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_all(session: Session, user_id: int, *, now: datetime) -> None:
    """End every session and every «Запомнить меня» token of `user_id`, in the caller's transaction."""
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(RememberToken).where(RememberToken.user_id == user_id).execution_options(synchronize_session=False)
    )


def _live(record: UserSession, settings: Settings, now: datetime) -> bool:
    idle_limit = timedelta(minutes=settings.session_idle_minutes)
    return record.revoked_at is None and now < record.expires_at and now - record.last_seen_at <= idle_limit
