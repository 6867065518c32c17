"""«Запомнить меня»: a token that opens a new session after the browser was closed — the rules.

Threat model: the token outlives any session (up to REMEMBER_DAYS, at most 14), so it is what a
thief wants. The cookie holds `selector:validator`; the database keeps the selector and only the
validator's SHA-256 (`remember_tokens`), so a leaked table opens nothing, and the validator is
compared in constant time. Every use rotates the validator (the same selector, a new secret, the
same expiry: the token never lives longer than REMEMBER_DAYS after the login that made it), so a
copied cookie works at most once. When the copy and the original are both used, the second one
presents a validator that no longer matches its selector: that is the theft signal, and every
session and token of the user ends (admin_app.sessions.end_all). An inactive user's token opens
nothing. Two requests racing with the same cookie rotate it once; the loser is simply refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from admin_app.sessions import end_all
from admin_app.tokens import token_hash
from models import RememberToken, User
from settings import Settings

SELECTOR_BYTES = 12  # 16 characters, within remember_tokens.selector
VALIDATOR_BYTES = 32


@dataclass(frozen=True)
class RememberCookie:
    """What the browser is to keep: `value` for `max_age` seconds; an empty value with 0 deletes the cookie."""

    value: str
    max_age: int


FORGET = RememberCookie("", 0)


def issue_token(session: Session, user_id: int, *, settings: Settings, now: datetime) -> RememberCookie:
    """A new token for `user_id` (a login with «Запомнить меня» ticked)."""
    selector = secrets.token_urlsafe(SELECTOR_BYTES)
    validator = secrets.token_urlsafe(VALIDATOR_BYTES)
    expires_at = now + timedelta(days=settings.remember_days)
    session.add(
        RememberToken(
            selector=selector,
            validator_hash=token_hash(validator),
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return _cookie(selector, validator, expires_at, now)


def redeem_token(session: Session, value: str, *, now: datetime) -> tuple[User, RememberCookie] | None:
    """The user the cookie `value` stands for and the rotated cookie; None when it opens nothing."""
    selector, _, validator = value.partition(":")
    token = session.scalar(select(RememberToken).where(RememberToken.selector == selector)) if validator else None
    if token is None:
        return None
    if not hmac.compare_digest(token.validator_hash, token_hash(validator)):
        end_all(session, token.user_id, now=now)
        return None
    user = session.get_one(User, token.user_id, options=[joinedload(User.role)])
    if now >= token.expires_at or not user.is_active:
        session.delete(token)
        return None
    fresh = secrets.token_urlsafe(VALIDATOR_BYTES)
    rotated = session.execute(
        update(RememberToken)
        .where(RememberToken.id == token.id, RememberToken.validator_hash == token.validator_hash)
        .values(validator_hash=token_hash(fresh))
        .execution_options(synchronize_session=False)
    )
    if rotated.rowcount != 1:
        return None
    return user, _cookie(selector, fresh, token.expires_at, now)


def forget_token(session: Session, value: str) -> None:
    """Delete the token the cookie `value` holds (logout), if the cookie is its current one."""
    selector, _, validator = value.partition(":")
    session.execute(
        delete(RememberToken).where(
            RememberToken.selector == selector, RememberToken.validator_hash == token_hash(validator)
        )
    )


def _cookie(selector: str, validator: str, expires_at: datetime, now: datetime) -> RememberCookie:
    return RememberCookie(f"{selector}:{validator}", int((expires_at - now).total_seconds()))
