"""Accounts: the rules for logins, e-mail addresses and passwords, and creating a user.

The one place these rules live; the CLI, registration, recovery and «Профиль» call it.
Every problem is an `AccountError` whose message is Russian and names the field.

A password (checklist item 3, after Django's validators): 10 to 128 characters of any kind,
not the login or the e-mail's local part or a close variant of them, not a common password.
"Close" and "common" look at the password as typed, transliterated to Latin letters, and as
its keys read on the other keyboard layout, each with and without leading and trailing digits,
punctuation and spaces: «иванова-2026» is close to `ivanova`, «зфыыцщкв» is "password".
"""

from __future__ import annotations

import re
import string
import unicodedata
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from admin_app.transliteration import latin_spellings
from models import Organization, Role, RoleCode, User

USERNAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9._-]{2,31}", re.ASCII)
USERNAME_RULES = (
    "Имя пользователя: от 3 до 32 символов, латинские буквы, цифры, точка, «_» или «-»; "
    "первый символ — латинская буква."
)
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
PASSWORD_RULES = (
    f"Пароль: от {PASSWORD_MIN_LENGTH} до {PASSWORD_MAX_LENGTH} символов, можно русские буквы, пробелы и любые знаки "
    "(удобна фраза из нескольких слов); не должен содержать имя пользователя, быть похожим на него "
    "или на адрес электронной почты и не должен быть из списка распространённых паролей."
)
PASSWORD_CONTAINS_LOGIN = "Пароль не должен содержать имя пользователя."
PASSWORD_LIKE_LOGIN = "Пароль слишком похож на имя пользователя."
PASSWORD_LIKE_EMAIL = "Пароль слишком похож на адрес электронной почты."
PASSWORD_COMMON = "Этот пароль слишком распространён: его легко подобрать."
PASSWORDS_DIFFER = "Пароль и подтверждение не совпадают."

COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common_passwords.txt"
SIMILARITY_LIMIT = 0.7  # difflib's ratio from which a password is a variant of a word (Django's default)
SHORTEST_WORD = 3  # shorter parts of a login or an address are not compared
WORD_SEPARATORS = re.compile(r"[._+-]+")
PADDING = string.digits + string.punctuation + string.whitespace + "«»„“”–—№"
LATIN_KEYS = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
CYRILLIC_KEYS = "йцукенгшщзхъфывапролджэячсмитьбюё"
TO_LATIN_KEYS = str.maketrans(CYRILLIC_KEYS, LATIN_KEYS)
TO_CYRILLIC_KEYS = str.maketrans(LATIN_KEYS, CYRILLIC_KEYS)


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


def check_password(password: str, username: str, email: str = "") -> str:
    """The password, if it keeps every rule; `email` is the account's address where it is known."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"Пароль слишком короткий: нужно не меньше {PASSWORD_MIN_LENGTH} символов.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"Пароль слишком длинный: допускается до {PASSWORD_MAX_LENGTH} символов.")
    login = username.lower()
    if len(login) >= SHORTEST_WORD and login in password.lower():
        raise AccountError(PASSWORD_CONTAINS_LOGIN)
    cores = _cores(password)
    if _resembles(cores, login):
        raise AccountError(PASSWORD_LIKE_LOGIN)
    if _resembles(cores, email.rpartition("@")[0].lower()):
        raise AccountError(PASSWORD_LIKE_EMAIL)
    if not cores.isdisjoint(common_passwords()):
        raise AccountError(PASSWORD_COMMON)
    return password


def new_password_errors(password: str, confirmation: str, username: str, email: str = "") -> dict[str, str]:
    """What is wrong with a new password and its confirmation, by form field; empty when nothing is."""
    try:
        check_password(password, username, email)
    except AccountError as error:
        return {"password": str(error)}
    return {} if password == confirmation else {"password_confirm": PASSWORDS_DIFFER}


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-case; read once, on first use."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _cores(password: str) -> frozenset[str]:
    """The password as typed, transliterated and on the other layout, each with and without its padding."""
    typed = password.lower()
    spellings = {
        typed,
        *latin_spellings(typed),
        typed.translate(TO_LATIN_KEYS),
        typed.translate(TO_CYRILLIC_KEYS),
    }
    return frozenset(spellings | {spelling.strip(PADDING) for spelling in spellings}) - {""}


def _resembles(cores: frozenset[str], word: str) -> bool:
    """A core contains `word` or its reverse, or is close to it or to a part of it (ivan.petrov: ivan, petrov)."""
    if len(word) < SHORTEST_WORD:
        return False
    if any(word in core or word[::-1] in core for core in cores):
        return True
    parts = {word, *(part for part in WORD_SEPARATORS.split(word) if len(part) >= SHORTEST_WORD)}
    return any(SequenceMatcher(None, core, part).ratio() >= SIMILARITY_LIMIT for core in cores for part in parts)


def has_control_characters(text: str) -> bool:
    """Tabs, line breaks, NUL and the like: never in a one-line field (and PostgreSQL refuses NUL in text)."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def find_user_by_login(session: Session, username: str) -> User | None:
    if has_control_characters(username):
        return None
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
