"""The login offered to an invitee on the registration page, which they may change.

From the invitation's full name, surname.first-name in passport transliteration
(«Петрова Анна Ивановна» → "petrova.anna"); without a usable name, the e-mail's part
before «@» when it is a valid login as it is. A taken login (regardless of case, as
`accounts.find_user_by_login` sees it) gets the first free number: "petrova.anna2".
The offer always keeps `accounts.USERNAME_PATTERN`, shortening the name to fit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_app.accounts import USERNAME_PATTERN
from admin_app.transliteration import transliterate
from models import User

FROM_FULL_NAME = "Предложено по вашему ФИО; можно изменить."
FROM_EMAIL = "Предложено по вашему адресу электронной почты; можно изменить."
LONGEST_LOGIN = 32  # USERNAME_PATTERN's limit
NUMBERS_PER_QUERY = 50
NOT_IN_LOGIN = re.compile(r"[^a-z0-9-]+")
HYPHENS = re.compile(r"-{2,}")
SEPARATORS = "._-"


@dataclass(frozen=True)
class LoginSuggestion:
    username: str
    hint: str  # shown next to the field: where the login came from, and that it may be changed


def suggest_login(session: Session, full_name: str, email: str) -> LoginSuggestion | None:
    """A free login for an invitee with this full name and address; None when neither gives one."""
    base = login_from_full_name(full_name)
    hint = FROM_FULL_NAME
    if not base:
        base, hint = login_from_email(email), FROM_EMAIL
    if not base:
        return None
    return LoginSuggestion(first_free(session, base), hint)


def login_from_full_name(full_name: str) -> str:
    """surname.first-name in Latin letters, lower case («Салтыкова-Щедрина Мария» → "saltykova-shchedrina.mariia");
    empty when the name gives no valid login."""
    words = [latin for latin in map(_latin_word, full_name.split()) if latin][:2]
    surname_and_name = ".".join(words)
    if len(surname_and_name) > LONGEST_LOGIN:  # a long double surname: the surname alone, cut if it must be
        surname_and_name = words[0]
    return _fit(surname_and_name, LONGEST_LOGIN)


def login_from_email(email: str) -> str:
    """The address's part before «@», lower case, when it is a valid login as it is; otherwise empty."""
    local_part = email.rpartition("@")[0]
    return local_part.lower() if USERNAME_PATTERN.fullmatch(local_part) else ""


def first_free(session: Session, base: str) -> str:
    """`base` if no user has it in any case, else `base` with the first free number from 2, within the length."""
    start = 1
    while True:
        candidates = [_numbered(base, number) for number in range(start, start + NUMBERS_PER_QUERY)]
        taken = set(session.scalars(select(func.lower(User.username)).where(func.lower(User.username).in_(candidates))))
        for candidate in candidates:
            if candidate not in taken:
                return candidate
        start += NUMBERS_PER_QUERY


def _numbered(base: str, number: int) -> str:
    if number == 1:
        return base
    suffix = str(number)
    return _fit(base, LONGEST_LOGIN - len(suffix)) + suffix


def _latin_word(word: str) -> str:
    """One word of a name in lower-case Latin letters, digits and inner hyphens; accents and other signs dropped."""
    latin = unicodedata.normalize("NFKD", transliterate(word.lower()))
    latin = NOT_IN_LOGIN.sub("", latin.encode("ascii", "ignore").decode())
    return HYPHENS.sub("-", latin).strip("-")


def _fit(login: str, length: int) -> str:
    """`login` begun with a letter and cut to `length` without a separator at the end; empty when too short."""
    login = login.lstrip("0123456789" + SEPARATORS)[:length].rstrip(SEPARATORS)
    return login if USERNAME_PATTERN.fullmatch(login) else ""
