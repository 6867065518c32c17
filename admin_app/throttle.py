"""Throttling: how many attempts a subject (an account, a client address, a mailbox) gets in a window.

Threat model: someone guesses passwords online, tries invitation keys at random, or
uses the public forms to flood the database and other people's mailboxes. Each
limit below caps what one subject can do in a sliding window:

    failed logins per account            10 in 15 minutes
    failed logins per client address     50 in 15 minutes (one address spraying many accounts)
    unknown or refused registration keys 20 in an hour per client address
    «Забыли пароль?» links per account    3 in an hour (extras dropped silently, admin_app.recovery)
    «Забыли имя пользователя?» letters    3 in an hour per mailbox (likewise)
    public applications per address      10 in an hour

The lock is soft, never permanent: a refused attempt is not counted, so once the
oldest counted hit leaves the window the subject may try again. The price, as with
any per-account lock, is that whoever keeps failing on purpose can keep an account
locked; the lock lasts minutes, and the owner can still reset the password.

The counts live in the database (`throttle_hits`: a key and a time), so every worker
process sees the same counts. Checking and counting are separate steps, so requests
racing each other may overshoot a limit by as many as run at once; that is accepted.
A key holds no secret: a typed login is kept only as an HMAC (a password typed into
the login field by mistake must not be readable in the table), a mailbox as an HMAC
too, and a client address as admin_app.client_address gives it (X-Forwarded-For is
believed only from TRUSTED_PROXIES, so a client cannot choose its own key).

Every step takes `now`, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from admin_app.client_address import client_address
from models import ThrottleHit, utcnow
from settings import Settings

PURGE_EVERY = 100  # every hundredth hit also deletes the hits no window counts any more

T = TypeVar("T")


@dataclass(frozen=True)
class Limit:
    """At most `attempts` hits under one subject within any `window`."""

    name: str
    attempts: int
    window: timedelta

    def key(self, subject: str) -> str:
        return f"{self.name}:{subject}"


LOGIN_PER_ACCOUNT = Limit("login-account", 10, timedelta(minutes=15))
LOGIN_PER_ADDRESS = Limit("login-address", 50, timedelta(minutes=15))
REGISTRATION_KEYS_PER_ADDRESS = Limit("registration-key-address", 20, timedelta(hours=1))
PASSWORD_LINKS_PER_ACCOUNT = Limit("password-link-account", 3, timedelta(hours=1))
USERNAME_LETTERS_PER_MAILBOX = Limit("username-letter-mailbox", 3, timedelta(hours=1))
APPLICATIONS_PER_ADDRESS = Limit("application-address", 10, timedelta(hours=1))
LIMITS = (
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    REGISTRATION_KEYS_PER_ADDRESS,
    PASSWORD_LINKS_PER_ACCOUNT,
    USERNAME_LETTERS_PER_MAILBOX,
    APPLICATIONS_PER_ADDRESS,
)
LONGEST_WINDOW = max(limit.window for limit in LIMITS)

Check = tuple[Limit, str]  # a limit and the subject it counts
Step = Callable[..., T]  # wait_seconds, record_hits or clear_hits


def account_subject(settings: Settings, login: str) -> str:
    """An account as a login names it, whatever the case, whether or not it exists."""
    return _digest(settings, "account", login.lower())


def mailbox_subject(settings: Settings, email: str) -> str:
    return _digest(settings, "mailbox", email.lower())


def address_subject(connection: HTTPConnection, settings: Settings) -> str:
    return client_address(connection, settings.trusted_proxies)


def login_checks(connection: HTTPConnection, settings: Settings, login: str) -> list[Check]:
    """The account first: a successful login clears only that one."""
    account = account_subject(settings, login)
    return [(LOGIN_PER_ACCOUNT, account), (LOGIN_PER_ADDRESS, address_subject(connection, settings))]


def wait_seconds(session: Session, checks: Sequence[Check], *, now: datetime) -> int:
    """0 when every subject may try now; otherwise the seconds until the last of them may."""
    return max((_wait(session, limit, subject, now) for limit, subject in checks), default=0)


def record_hits(session: Session, checks: Sequence[Check], *, now: datetime) -> None:
    hits = [ThrottleHit(key=limit.key(subject), at=now) for limit, subject in checks]
    session.add_all(hits)
    session.flush()
    if any(hit.id % PURGE_EVERY == 0 for hit in hits):
        purge_expired(session, now=now)


def admit(session: Session, checks: Sequence[Check], *, now: datetime) -> bool:
    """Count one more hit if every subject is within its limit; False, counting nothing, if one is not."""
    if wait_seconds(session, checks, now=now):
        return False
    record_hits(session, checks, now=now)
    return True


def clear_hits(session: Session, checks: Sequence[Check], *, now: datetime) -> None:
    """Forget the subjects' hits up to `now`: a successful login forgives the failures before it."""
    keys = [limit.key(subject) for limit, subject in checks]
    session.execute(delete(ThrottleHit).where(ThrottleHit.key.in_(keys), ThrottleHit.at <= now))


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete the hits older than the longest window; returns how many went."""
    return session.execute(delete(ThrottleHit).where(ThrottleHit.at < now - LONGEST_WINDOW)).rowcount


async def throttle_step(session_factory: sessionmaker[Session], step: Step[T], checks: Sequence[Check]) -> T:
    """Run `step` at the current time in a transaction of its own, off the event loop."""
    return await anyio.to_thread.run_sync(_in_transaction, session_factory, step, checks)


def _in_transaction(session_factory: sessionmaker[Session], step: Step[T], checks: Sequence[Check]) -> T:
    with session_factory.begin() as session:
        return step(session, checks, now=utcnow())


def _wait(session: Session, limit: Limit, subject: str, now: datetime) -> int:
    """The subject is over the limit while its `attempts`-th latest hit is inside the window."""
    latest_counted = session.scalar(
        select(ThrottleHit.at)
        .where(ThrottleHit.key == limit.key(subject), ThrottleHit.at > now - limit.window)
        .order_by(ThrottleHit.at.desc())
        .offset(limit.attempts - 1)
        .limit(1)
    )
    if latest_counted is None:
        return 0
    return max(1, math.ceil((latest_counted + limit.window - now).total_seconds()))


def _digest(settings: Settings, kind: str, text: str) -> str:
    secret = hashlib.sha256(f"throttle:{settings.secret_key}".encode()).digest()
    return hmac.new(secret, f"{kind}:{text}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]
