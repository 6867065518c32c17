"""Recovering access by e-mail: a single-use link to set a new password, and a letter with one's logins.

The rules live here; admin_app.recovery_pages only shows them. A link's key comes
from admin_app.tokens: the letter carries it, the database keeps only its SHA-256
(`password_resets.key_hash`). A link works for PASSWORD_RESET_MINUTES, once, and
only for an active account; a GET never consumes it. `reset_password` consumes it
with a conditional UPDATE, so of two simultaneous submissions exactly one wins,
and sets the password through admin_app.password_change (which ends the owner's
sessions, kills their other links and sends «Ваш пароль изменён»).

Nobody learns from these functions whether an account exists: the pages answer
the same in every case and call `request_password_reset` and `send_usernames`
after the answer is sent. An inactive account gets nothing. Letters of each kind
are limited per account (or address) by admin_app.throttle; more requests are
dropped silently, so the forms cannot flood a mailbox.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from admin_app.accounts import AccountError, find_user_by_login, normalize_email
from admin_app.audit import AuditAction
from admin_app.mail.letters import password_reset_letter, usernames_letter
from admin_app.mail.outbox import enqueue
from admin_app.password_change import set_password
from admin_app.throttle import (
    PASSWORD_LINKS_PER_ACCOUNT,
    USERNAME_LETTERS_PER_MAILBOX,
    account_subject,
    admit,
    mailbox_subject,
)
from admin_app.tokens import make_token, token_hash
from models import PasswordReset, User
from settings import Settings

FORGOT_PASSWORD_PATH = "/Account/ForgotPassword"
FORGOT_USERNAME_PATH = "/Account/ForgotUsername"
RESET_PASSWORD_PATH = "/Account/ResetPassword"
LOGIN_PATH = "/admin/login"


class ResetProblem(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


RESET_PROBLEM_MESSAGES = {
    ResetProblem.UNKNOWN: "Ссылка для смены пароля неверна. Проверьте, что она скопирована из письма целиком, "
    "или запросите новую ссылку.",
    ResetProblem.USED: "Ссылка больше не действует: пароль уже изменён (по этой или по другой ссылке). "
    "Войдите с новым паролем или, если вы его не знаете, запросите новую ссылку.",
    ResetProblem.EXPIRED: "Срок действия ссылки истёк. Запросите новую ссылку: письмо придёт через минуту-другую.",
}


class ResetRefused(Exception):
    def __init__(self, problem: ResetProblem) -> None:
        super().__init__(RESET_PROBLEM_MESSAGES[problem])
        self.problem = problem


def minutes_text(count: int) -> str:
    """«1 минуту», «3 минуты», «60 минут»: how long a link works, as a sentence says it."""
    if count % 10 == 1 and count % 100 != 11:
        return f"{count} минуту"
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return f"{count} минуты"
    return f"{count} минут"


def request_password_reset(session: Session, login: str, *, settings: Settings, now: datetime) -> int:
    """A new link to every active account `login` names (a login, or an address); returns how many were queued."""
    queued = 0
    for user in _active_accounts(session, login):
        if not admit(session, [(PASSWORD_LINKS_PER_ACCOUNT, account_subject(settings, user.username))], now=now):
            continue
        key, key_hash = make_token()
        reset = PasswordReset(
            user_id=user.id,
            key_hash=key_hash,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.password_reset_minutes),
        )
        session.add(reset)
        session.flush()
        enqueue(
            session,
            idempotency_key=f"password-reset:{reset.id}",
            recipient=user.email,
            letter=password_reset_letter(
                centre_name=settings.centre_name,
                username=user.username,
                link=f"{settings.base_url}{RESET_PASSWORD_PATH}?k={key}",
                valid_for=minutes_text(settings.password_reset_minutes),
            ),
        )
        queued += 1
    return queued


def send_usernames(session: Session, email: str, *, settings: Settings, now: datetime) -> bool:
    """One letter to `email` with the logins of its active accounts; False when there are none (or too many letters)."""
    users = _active_accounts_of_address(session, email)
    if not users:
        return False
    if not admit(session, [(USERNAME_LETTERS_PER_MAILBOX, mailbox_subject(settings, email))], now=now):
        return False
    enqueue(
        session,
        idempotency_key=f"usernames:{token_hash(email.lower())[:32]}:{now:%Y%m%dT%H%M%S%f}",
        recipient=users[0].email,
        letter=usernames_letter(
            centre_name=settings.centre_name,
            usernames=[user.username for user in users],
            login_link=f"{settings.base_url}{LOGIN_PATH}",
            forgot_password_link=f"{settings.base_url}{FORGOT_PASSWORD_PATH}",
        ),
    )
    return True


def find_reset(session: Session, key: str) -> PasswordReset | None:
    return session.scalar(select(PasswordReset).where(PasswordReset.key_hash == token_hash(key))) if key else None


def reset_problem(reset: PasswordReset | None, now: datetime) -> ResetProblem | None:
    """Why the link cannot set a password, or None when it can."""
    if reset is None or not reset.user.is_active:
        return ResetProblem.UNKNOWN
    if reset.used_at is not None:
        return ResetProblem.USED
    if reset.expires_at <= now:
        return ResetProblem.EXPIRED
    return None


def reset_password(session: Session, key: str, password_hash: str, *, settings: Settings, now: datetime) -> User:
    """Consume the key and set the password (already bcrypt'ed) in the caller's transaction; ResetRefused if it cannot.

    The conditional UPDATE comes first: of two simultaneous submissions only one finds the key unused.
    """
    consumed = session.execute(
        update(PasswordReset)
        .where(PasswordReset.key_hash == token_hash(key), _usable(now))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    reset = find_reset(session, key)
    if consumed != 1 or reset is None:
        raise ResetRefused(reset_problem(reset, now) or ResetProblem.USED)
    set_password(session, reset.user, password_hash, settings=settings, now=now, action=AuditAction.PASSWORD_RESET)
    return reset.user


def _usable(now: datetime) -> ColumnElement[bool]:
    """`reset_problem` is None: the same rule in SQL."""
    active = PasswordReset.user_id.in_(select(User.id).where(User.is_active))
    return and_(PasswordReset.used_at.is_(None), PasswordReset.expires_at > now, active)


def _active_accounts(session: Session, login: str) -> list[User]:
    """The active account with this login, or the active accounts of this address (logins never contain «@»)."""
    if "@" in login:
        try:
            return _active_accounts_of_address(session, normalize_email(login))
        except AccountError:
            return []
    user = find_user_by_login(session, login)
    return [user] if user is not None and user.is_active else []


def _active_accounts_of_address(session: Session, email: str) -> list[User]:
    return list(
        session.scalars(
            select(User).where(func.lower(User.email) == email.lower(), User.is_active).order_by(User.username)
        )
    )
