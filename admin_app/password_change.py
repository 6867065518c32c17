"""Setting a user's password: the one place a password changes after registration.

Recovery (admin_app.recovery) and «Профиль» (views/profile.py) call `set_password`.
It stores the new hash, ends every session and «Запомнить меня» token of the user
(admin_app.sessions.end_all; «Профиль» then opens a new session for the browser
that made the change), makes every unused recovery link of the user useless, and
tells the owner by e-mail, so that a change they did not make does not go unnoticed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from admin_app.audit import AuditAction, record
from admin_app.dates import format_datetime
from admin_app.mail.letters import password_changed_letter
from admin_app.mail.outbox import enqueue
from admin_app.sessions import end_all
from admin_app.tokens import token_hash
from models import PasswordReset, User
from settings import Settings


def set_password(
    session: Session,
    user: User,
    password_hash: str,
    *,
    settings: Settings,
    now: datetime,
    action: AuditAction = AuditAction.PASSWORD_CHANGED,
) -> None:
    """Store `password_hash` (already bcrypt'ed) for `user`, in the caller's transaction; `action` is how
    the audit trail names it (recovery by a link: AuditAction.PASSWORD_RESET)."""
    user.password_hash = password_hash
    record(session, action, target=user)
    end_all(session, user.id, now=now)
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    enqueue(
        session,
        idempotency_key=f"password-changed:{user.id}:{token_hash(password_hash)[:32]}",
        recipient=user.email,
        letter=password_changed_letter(
            centre_name=settings.centre_name,
            username=user.username,
            when=format_datetime(now),
            login_link=f"{settings.base_url}/admin/login",
        ),
    )
