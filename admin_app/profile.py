"""«Профиль»: what users may change about their own account, and the checks — the one place these rules live.

Login, role and place are shown only (an operator or a coordinator changes them). Anyone may change
their full name. The e-mail address receives password recovery links, so changing it needs the
current password; the new address must be valid (admin_app.accounts) and not that of another active
account (admin_app.user_activity), and the old address is told of the change. A new password follows
the account rules, needs the current one, and is stored by admin_app.password_change.set_password.

bcrypt runs outside any database transaction; the transaction then checks that the hash the typed
password was verified against is still the stored one. A refused form changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from sqlalchemy.orm import Session, joinedload, sessionmaker

from admin_app.accounts import AccountError, new_password_errors, normalize_email
from admin_app.dates import format_datetime
from admin_app.mail.letters import email_changed_letter
from admin_app.mail.outbox import enqueue
from admin_app.password_change import set_password
from admin_app.passwords import hash_password_async, verify_password_async
from admin_app.user_activity import address_refusal
from models import RoleCode, User
from settings import Settings

FULL_NAME_MAX_LENGTH = 200
FULL_NAME_TOO_LONG = f"ФИО: не длиннее {FULL_NAME_MAX_LENGTH} символов."
CURRENT_PASSWORD_MISSING = "Введите текущий пароль."
CURRENT_PASSWORD_WRONG = "Текущий пароль введён неверно."
OPERATOR_PLACE = "все муниципалитеты"


class ProfileError(ValueError):
    """The form is refused and nothing changed; `errors` maps a field name to its Russian message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Profile:
    user_id: int
    username: str
    role_name: str
    place: str
    full_name: str
    email: str
    password_hash: str


@dataclass(frozen=True)
class ContactsForm:
    full_name: str
    email: str
    current_password: str


@dataclass(frozen=True)
class PasswordForm:
    current_password: str
    password: str
    password_confirm: str


async def load_profile(factory: sessionmaker[Session], user_id: int) -> Profile:
    return await anyio.to_thread.run_sync(_read, factory, user_id)


async def change_contacts(
    factory: sessionmaker[Session], user_id: int, form: ContactsForm, *, settings: Settings, now: datetime
) -> bool:
    """Save the full name and the address; True when the address changed (and the old one was told)."""
    profile = await load_profile(factory, user_id)
    errors: dict[str, str] = {}
    full_name = " ".join(form.full_name.split())
    if len(full_name) > FULL_NAME_MAX_LENGTH:
        errors["full_name"] = FULL_NAME_TOO_LONG
    try:
        email = normalize_email(form.email)
    except AccountError as error:
        errors["email"] = str(error)
        email = profile.email  # a refused address needs no password
    email_changed = email != profile.email
    if email_changed and (problem := await _current_password_problem(profile, form.current_password)):
        errors["current_password"] = problem
    if errors:
        raise ProfileError(errors)
    await anyio.to_thread.run_sync(_save_contacts, factory, profile, full_name, email, settings, now)
    return email_changed


async def change_password(
    factory: sessionmaker[Session], user_id: int, form: PasswordForm, *, settings: Settings, now: datetime
) -> str:
    """Store a new password and return its hash (the caller keeps its own session signed in with it)."""
    profile = await load_profile(factory, user_id)
    errors = new_password_errors(form.password, form.password_confirm, profile.username, profile.email)
    if problem := await _current_password_problem(profile, form.current_password):
        errors["current_password"] = problem
    if errors:
        raise ProfileError(errors)
    password_hash = await hash_password_async(form.password, settings.bcrypt_rounds)
    await anyio.to_thread.run_sync(_save_password, factory, profile, password_hash, settings, now)
    return password_hash


def _read(factory: sessionmaker[Session], user_id: int) -> Profile:
    places = (joinedload(User.role), joinedload(User.municipality), joinedload(User.organization))
    with factory() as session:
        user = session.get_one(User, user_id, options=places)
        return Profile(
            user_id=user.id,
            username=user.username,
            role_name=user.role.name,
            place=_place(user),
            full_name=user.full_name,
            email=user.email,
            password_hash=user.password_hash,
        )


async def _current_password_problem(profile: Profile, typed: str) -> str | None:
    if not typed:
        return CURRENT_PASSWORD_MISSING
    if not await verify_password_async(typed, profile.password_hash):
        return CURRENT_PASSWORD_WRONG
    return None


def _save_contacts(
    factory: sessionmaker[Session], profile: Profile, full_name: str, email: str, settings: Settings, now: datetime
) -> None:
    with factory.begin() as session:
        user = session.get_one(User, profile.user_id)
        if email != profile.email:
            _require_verified_hash(user, profile)
            refusal = address_refusal(session, email, user_id=user.id)
            if refusal is not None:
                raise ProfileError({"email": refusal})
            enqueue(
                session,
                idempotency_key=f"email-changed:{user.id}:{now.isoformat()}",
                recipient=user.email,
                letter=email_changed_letter(
                    centre_name=settings.centre_name, username=user.username, new_email=email, when=format_datetime(now)
                ),
            )
            user.email = email
        user.full_name = full_name


def _save_password(
    factory: sessionmaker[Session], profile: Profile, password_hash: str, settings: Settings, now: datetime
) -> None:
    with factory.begin() as session:
        user = session.get_one(User, profile.user_id)
        _require_verified_hash(user, profile)
        set_password(session, user, password_hash, settings=settings, now=now)


def _require_verified_hash(user: User, profile: Profile) -> None:
    """The password was verified against `profile`'s hash; if it changed since, the typed one is no longer current."""
    if user.password_hash != profile.password_hash:
        raise ProfileError({"current_password": CURRENT_PASSWORD_WRONG})


def _place(user: User) -> str:
    if user.role.code == RoleCode.OPERATOR:
        return OPERATOR_PLACE
    return ", ".join(str(place) for place in (user.organization, user.municipality) if place is not None)
