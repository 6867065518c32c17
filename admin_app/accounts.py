"""Accounts: the rules for logins, e-mail addresses and passwords, and creating a user.

The one place these rules live; the CLI, and later the registration page, call it.
Every problem is an `AccountError` whose message is Russian and names the field.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Organization, Role, RoleCode, User

USERNAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9._-]{2,31}", re.ASCII)
USERNAME_RULES = (
    "Имя пользователя: от 3 до 32 символов, латинские буквы, цифры, точка, «_» или «-»; "
    "первый символ — латинская буква."
)
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
PASSWORD_RULES = (
    f"Пароль: от {PASSWORD_MIN_LENGTH} до {PASSWORD_MAX_LENGTH} символов, "
    "не совпадает с именем пользователя; можно использовать русские буквы."
)

PASSWORDS_DIFFER = "Пароль и подтверждение не совпадают."


class AccountError(ValueError):
    """A rule is broken; the message is shown to the user as is."""


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise AccountError(f"Недопустимое имя пользователя «{username}». {USERNAME_RULES}")
    return username


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise AccountError(f"Неверный адрес электронной почты «{email}».") from None


def check_password(password: str, username: str) -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"Пароль слишком короткий: нужно не меньше {PASSWORD_MIN_LENGTH} символов.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"Пароль слишком длинный: допускается до {PASSWORD_MAX_LENGTH} символов.")
    if username.lower() in password.lower():
        raise AccountError("Пароль не должен содержать имя пользователя.")
    return password


def new_password_errors(password: str, confirmation: str, username: str) -> dict[str, str]:
    """What is wrong with a new password and its confirmation, by form field; empty when nothing is."""
    try:
        check_password(password, username)
    except AccountError as error:
        return {"password": str(error)}
    return {} if password == confirmation else {"password_confirm": PASSWORDS_DIFFER}


def find_user_by_login(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def find_role(session: Session, code: str) -> Role:
    role = session.scalar(select(Role).where(Role.code == code))
    if role is None:
        known = ", ".join(session.scalars(select(Role.code).order_by(Role.id)))
        raise AccountError(f"Неизвестная роль «{code}». Допустимые роли: {known}.")
    return role


def check_scope(
    session: Session,
    role_code: str,
    municipality_id: int | None,
    organization_id: int | None,
) -> tuple[int | None, int | None]:
    """The (municipality, organization) a user of this role must have; an organization fixes its municipality.

    An expert may name the organization they work in (so that they never review its teachers)."""
    role = RoleCode(role_code)
    if role is RoleCode.OPERATOR:
        return None, None
    if role is RoleCode.ORGANIZATION_COORDINATOR:
        organization = session.get(Organization, organization_id) if organization_id else None
        if organization is None:
            raise AccountError("Для координатора в образовательной организации нужно указать организацию.")
        return organization.municipality_id, organization.id
    if municipality_id is None:
        raise AccountError("Для этой роли нужно указать муниципалитет.")
    if role is RoleCode.EXPERT and organization_id is not None:
        organization = session.get(Organization, organization_id)
        if organization is None or organization.municipality_id != municipality_id:
            raise AccountError("Организация эксперта должна относиться к его муниципалитету.")
        return municipality_id, organization.id
    return municipality_id, None


def create_user(
    session: Session,
    *,
    role_code: str,
    username: str,
    email: str,
    password_hash: str,
    full_name: str = "",
    municipality_id: int | None = None,
    organization_id: int | None = None,
) -> User:
    """Add a user after checking every rule; flushes so a taken login fails here."""
    role = find_role(session, role_code)
    municipality_id, organization_id = check_scope(session, role.code, municipality_id, organization_id)
    check_username(username)
    if find_user_by_login(session, username) is not None:
        raise AccountError(f"Имя пользователя «{username}» уже занято.")
    user = User(
        username=username,
        email=normalize_email(email),
        full_name=full_name,
        password_hash=password_hash,
        role=role,
        municipality_id=municipality_id,
        organization_id=organization_id,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise AccountError(f"Имя пользователя «{username}» уже занято.") from None
    return user
