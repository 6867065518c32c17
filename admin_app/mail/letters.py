"""Letters rendered from the templates in templates/mail/ (operators edit those files to change a letter).

The subject and the plain text are not escaped; the HTML part is (autoescape on
for *.html). Edits to the templates take effect without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from settings import PROJECT_DIR

MAIL_TEMPLATES_DIR = PROJECT_DIR / "templates" / "mail"

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(MAIL_TEMPLATES_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str


def invitation_letter(*, centre_name: str, link: str) -> Letter:
    """The invitation to register, with its personal single-use `link`."""
    if not link:
        raise ValueError("an invitation letter needs a link")
    return _letter("invitation", centre_name=centre_name, link=link)


def expert_assigned_letter(*, centre_name: str, teacher: str, registration: str, link: str) -> Letter:
    """To a specialist just assigned to an application: whose, and where to open it."""
    return _letter("expert_assigned", centre_name=centre_name, teacher=teacher, registration=registration, link=link)


def password_changed_letter(*, centre_name: str, username: str, when: str, login_link: str) -> Letter:
    """To the owner of an account whose password was just changed, by recovery or in «Профиль»."""
    return _letter("password_changed", centre_name=centre_name, username=username, when=when, login_link=login_link)


def password_reset_letter(*, centre_name: str, username: str, link: str, valid_for: str) -> Letter:
    """«Забыли пароль?»: the single-use `link` that sets a new password for `username`, working `valid_for`."""
    if not link:
        raise ValueError("a password reset letter needs a link")
    return _letter("password_reset", centre_name=centre_name, username=username, link=link, valid_for=valid_for)


def usernames_letter(*, centre_name: str, usernames: list[str], login_link: str, forgot_password_link: str) -> Letter:
    """«Забыли имя пользователя?»: the logins of the active accounts registered to the recipient's address."""
    return _letter(
        "usernames",
        centre_name=centre_name,
        usernames=usernames,
        login_link=login_link,
        forgot_password_link=forgot_password_link,
    )


def invitation_template_preview(*, centre_name: str) -> tuple[str, str]:
    """The subject and the text without the link part, as the invitation form shows them («Не изменять!»)."""
    return _render_invitation(centre_name, None)


def _render_invitation(centre_name: str, link: str | None) -> tuple[str, str]:
    subject = " ".join(_render("invitation_subject.txt", centre_name=centre_name).split())
    return subject, _render("invitation.txt", centre_name=centre_name, link=link)


def _letter(name: str, **context: object) -> Letter:
    """templates/mail/<name>_subject.txt, <name>.txt and <name>.html rendered with `context`."""
    subject = " ".join(_render(f"{name}_subject.txt", **context).split())
    return Letter(subject=subject, text=_render(f"{name}.txt", **context), html=_render(f"{name}.html", **context))


def _render(name: str, **context: object) -> str:
    return _ENVIRONMENT.get_template(name).render(**context).strip()


def application_received_letter(
    *, centre_name: str, teacher: str, category: str, organization: str, link: str
) -> Letter:
    """To a teacher who applied on the public page: the application is received; `link` follows its status."""
    if not link:
        raise ValueError("an application received letter needs a link")
    return _letter(
        "application_received",
        centre_name=centre_name,
        teacher=teacher,
        category=category,
        organization=organization,
        link=link,
    )


def email_changed_letter(*, centre_name: str, username: str, new_email: str, when: str) -> Letter:
    """To the old address of an account whose e-mail was just changed in «Профиль»."""
    return _letter("email_changed", centre_name=centre_name, username=username, new_email=new_email, when=when)


def invitation_reminder_letter(*, centre_name: str, link: str, expires: str) -> Letter:
    """The one reminder before an invitation expires (`expires`), with a new `link`: the old one no longer works."""
    if not link:
        raise ValueError("an invitation reminder needs a link")
    return _letter("invitation_reminder", centre_name=centre_name, link=link, expires=expires)
