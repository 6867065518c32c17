"""The pages of «Забыли пароль?» and «Забыли имя пользователя?»; the rules are admin_app.recovery's.

URL map:
    GET  /Account/ForgotPassword   the form: «Имя пользователя или адрес электронной почты» (`login`)
    POST /Account/ForgotPassword   the same answer for any login; the links are queued after it is sent
    GET  /Account/ForgotUsername   the form: «Адрес электронной почты» (`email`)
    POST /Account/ForgotUsername   the same answer for any address; the letter is queued after it is sent
    GET  /Account/ResetPassword?k=…  «Новый пароль» and «Подтверждение пароля» (a GET never consumes the key)
    POST /Account/ResetPassword?k=…  checks the password, then consumes the key and sets it

An answer must not tell whether an account exists, by its text or by its time: it is
rendered before anything is looked up, from nothing but the settings, and the lookup
and the letters run as a BackgroundTask (in a worker thread) once it is sent.

CSRF: the two «Забыли…» forms carry the double-submit pair of admin_app.public_form_tokens
(a signed short-lived cookie for the page's path and a hidden `csrf_token` bound to it); the
form of a link carries an HMAC of its key, as registration does. The app-wide CrossSiteGuard
refuses cross-site POSTs besides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from admin_app.accounts import PASSWORD_RULES, AccountError, new_password_errors, normalize_email
from admin_app.csrf import STALE_FORM, same_token
from admin_app.mail.sender import wake_sender
from admin_app.passwords import hash_password_async
from admin_app.public_form_tokens import new_form_token, set_form_cookie, submitted_form_valid
from admin_app.public_templates import templates
from admin_app.recovery import (
    RESET_PROBLEM_MESSAGES,
    ResetProblem,
    ResetRefused,
    find_reset,
    minutes_text,
    request_password_reset,
    reset_password,
    reset_problem,
    send_usernames,
)
from admin_app.registration import NO_REFERRER, form_token
from admin_app.registration import STALE_FORM as STALE_KEY_FORM
from models import utcnow
from settings import Settings

FORM_COOKIE = "recovery_form"
MAX_TYPED = 254  # the longest address; a login is shorter
NO_LOGIN = "Введите имя пользователя или адрес электронной почты."
NO_EMAIL = "Введите адрес электронной почты."

Work = Callable[..., object]  # called as work(session, now=…) in a transaction of its own


@dataclass(frozen=True)
class ResetPage:
    """What the page of a link shows, read in a worker thread."""

    problem: ResetProblem | None
    username: str = ""
    email: str = ""


async def forgot_password_page(request: Request) -> Response:
    """GET: the form. POST: «если такая учётная запись есть…», then the links to whatever accounts `login` names."""
    if request.method == "GET":
        return _forgot_form(request, "public/forgot_password.html", {}, {})
    form = await request.form()
    login = _typed(form, "login")
    errors = _stale_form(request, form) | ({} if login else {"login": NO_LOGIN})
    if errors:
        return _forgot_form(request, "public/forgot_password.html", {"login": login}, errors, 400)
    settings: Settings = request.app.state.settings
    work = partial(request_password_reset, login=login, settings=settings)
    return _answer(request, "public/forgot_password_sent.html", work)


async def forgot_username_page(request: Request) -> Response:
    """GET: the form. POST: «если с этим адресом есть учётные записи…», then the letter with their logins."""
    if request.method == "GET":
        return _forgot_form(request, "public/forgot_username.html", {}, {})
    form = await request.form()
    email = _typed(form, "email")
    errors = _stale_form(request, form) | _email_errors(email)
    if errors:
        return _forgot_form(request, "public/forgot_username.html", {"email": email}, errors, 400)
    settings: Settings = request.app.state.settings
    work = partial(send_usernames, email=normalize_email(email), settings=settings)
    return _answer(request, "public/forgot_username_sent.html", work)


async def reset_password_page(request: Request) -> Response:
    """GET: the new password form, or why the link does not work. POST: the password is set, or the form again."""
    settings: Settings = request.app.state.settings
    key = request.query_params.get("k", "")
    page = await anyio.to_thread.run_sync(_load_reset, request, key)
    if page.problem is not None:
        return _problem(request, page.problem)
    context = {"username": page.username, "token": form_token(settings, key), "errors": {}}
    if request.method == "GET":
        return _render(request, "public/reset_password.html", context)
    form = await request.form()
    errors = _password_errors(form, settings, key, page.username, page.email)
    if errors:
        return _render(request, "public/reset_password.html", {**context, "errors": errors}, 400)
    password_hash = await hash_password_async(str(form.get("password", "")), settings.bcrypt_rounds)
    try:
        await anyio.to_thread.run_sync(_reset, request, key, password_hash)
    except ResetRefused as refused:
        return _problem(request, refused.problem)
    wake_sender(request.app.state)
    return _render(request, "public/reset_password_done.html", {"username": page.username})


def _typed(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()[:MAX_TYPED]


def _email_errors(email: str) -> dict[str, str]:
    if not email:
        return {"email": NO_EMAIL}
    try:
        normalize_email(email)
    except AccountError as error:
        return {"email": str(error)}
    return {}


def _stale_form(request: Request, form: FormData) -> dict[str, str]:
    return {} if submitted_form_valid(request, form, FORM_COOKIE) else {"form": STALE_FORM}


def _forgot_form(
    request: Request, name: str, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    settings: Settings = request.app.state.settings
    cookie, token = new_form_token(settings, time.time())
    response = _render(request, name, {"values": values, "errors": errors, "token": token}, status_code)
    set_form_cookie(response, settings, name=FORM_COOKIE, value=cookie, path=request.url.path)
    return response


def _answer(request: Request, name: str, work: Work) -> Response:
    """The page every POST gets, whoever it names; `work` runs after it is sent."""
    response = _render(request, name, {})
    response.background = BackgroundTask(_queue_letters, request, work)
    return response


async def _queue_letters(request: Request, work: Work) -> None:
    if await anyio.to_thread.run_sync(_in_transaction, request, work):
        wake_sender(request.app.state)


def _in_transaction(request: Request, work: Work) -> object:
    with request.app.state.session_factory.begin() as session:
        return work(session, now=utcnow())


def _password_errors(form: FormData, settings: Settings, key: str, username: str, email: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not same_token(form.get("csrf_token"), form_token(settings, key)):
        errors["form"] = STALE_KEY_FORM
    password, confirmation = str(form.get("password", "")), str(form.get("password_confirm", ""))
    return errors | new_password_errors(password, confirmation, username, email)


def _load_reset(request: Request, key: str) -> ResetPage:
    with request.app.state.session_factory() as session:
        reset = find_reset(session, key)
        problem = reset_problem(reset, utcnow())
        if reset is None or problem is not None:
            return ResetPage(problem or ResetProblem.UNKNOWN)
        return ResetPage(None, reset.user.username, reset.user.email)


def _reset(request: Request, key: str, password_hash: str) -> None:
    with request.app.state.session_factory.begin() as session:
        reset_password(session, key, password_hash, settings=request.app.state.settings, now=utcnow())


def _problem(request: Request, problem: ResetProblem) -> Response:
    status = 404 if problem is ResetProblem.UNKNOWN else 410
    return _render(request, "public/reset_password_problem.html", {"message": RESET_PROBLEM_MESSAGES[problem]}, status)


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    settings: Settings = request.app.state.settings
    full_context = {
        "centre_name": settings.centre_name,
        "valid_for": minutes_text(settings.password_reset_minutes),
        "password_rules": PASSWORD_RULES,
        **context,
    }
    return templates.TemplateResponse(request, name, full_context, status_code=status_code, headers=NO_REFERRER)
