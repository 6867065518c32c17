"""GET/POST /Account/RegisterByInvite?k=<key>&t=<RoleType>: registration by invitation.

A GET only looks at the key (mail scanners open links; nothing is consumed).
A POST checks the form, then consumes the key and creates the user in one
transaction (`invitations.accept_invitation`), only with the consent to the processing of personal
data ticked (admin_app.personal_data); its time is stored with the user. `t` is informational only.
The form's CSRF token is an HMAC of the key, so the page needs no cookie.
A key that cannot register anyone (unknown, used, expired, revoked) counts against the
client's address; over the limit (admin_app.throttle) every key, even a valid one, gets
429 until the wait is over, so keys cannot be guessed by trying.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from admin_app.accounts import PASSWORD_RULES, USERNAME_RULES, AccountError, check_username, new_password_errors
from admin_app.csrf import same_token
from admin_app.invitations import (
    KEY_PROBLEM_MESSAGES,
    InvitationError,
    KeyProblem,
    accept_invitation,
    find_invitation,
    key_problem,
    needs_municipality_choice,
)
from admin_app.login_suggestion import LoginSuggestion, suggest_login
from admin_app.passwords import hash_password_async
from admin_app.personal_data import CONSENT_FIELD, POLICY_PATH, consent_errors
from admin_app.public_templates import templates
from admin_app.throttle import (
    REGISTRATION_KEYS_PER_ADDRESS,
    Check,
    address_subject,
    record_hits,
    throttle_step,
    wait_seconds,
)
from admin_app.throttled import TOO_MANY_REQUESTS, retry_after, try_again
from models import ROLE_NAMES, Municipality, MunicipalityKind, RoleCode, utcnow
from settings import Settings

NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
STALE_FORM = "Форма устарела: обновите страницу и отправьте её ещё раз."
TOO_MANY_KEYS = "Слишком много попыток регистрации по неверным ссылкам."


def form_token(settings: Settings, key: str) -> str:
    secret = hashlib.sha256(f"registration-form:{settings.secret_key}".encode()).digest()
    return hmac.new(secret, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class InvitationPage:
    """What the page shows of an invitation, read in a worker thread."""

    problem: KeyProblem | None
    role: RoleCode | None = None
    email: str = ""
    municipalities: tuple[tuple[int, str], ...] = ()
    suggestion: LoginSuggestion | None = None  # offered on a GET only: a returned form keeps what was typed


async def register_by_invite(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    key = request.query_params.get("k", "")
    tries = [(REGISTRATION_KEYS_PER_ADDRESS, address_subject(request, settings))]
    wait = await throttle_step(request.app.state.session_factory, wait_seconds, tries)
    if wait:
        return _throttled(request, wait)
    page = await anyio.to_thread.run_sync(_load_invitation, request, key, request.method == "GET")
    if page.problem is not None:
        status = 404 if page.problem is KeyProblem.UNKNOWN else 410
        return await _key_refused(request, tries, KEY_PROBLEM_MESSAGES[page.problem], status)
    context = {
        "role_name": ROLE_NAMES[page.role],
        "email": page.email,
        "municipalities": page.municipalities,
        "token": form_token(settings, key),
        "values": {},
        "errors": {},
        "username_hint": "",
    }
    if request.method == "GET":
        if page.suggestion is not None:
            context |= {"values": {"username": page.suggestion.username}, "username_hint": page.suggestion.hint}
        return _render(request, "public/register.html", context)
    form = await request.form()
    values = {name: str(form.get(name, "")).strip()[:200] for name in ("username", "municipality_id", CONSENT_FIELD)}
    errors = _form_errors(form, values, settings, key, needs_municipality=bool(page.municipalities), email=page.email)
    if not errors:
        password_hash = await hash_password_async(str(form.get("password", "")), settings.bcrypt_rounds)
        try:
            await anyio.to_thread.run_sync(_accept, request, key, values, password_hash)
        except InvitationError as error:
            if error.field is None:
                return await _key_refused(request, tries, str(error), 410)
            errors[error.field] = str(error)
        else:
            return _render(request, "public/register_done.html", {"username": values["username"]})
    return _render(request, "public/register.html", {**context, "values": values, "errors": errors}, 400)


def _form_errors(
    form: Any, values: dict[str, str], settings: Settings, key: str, *, needs_municipality: bool, email: str
) -> dict:
    errors: dict[str, str] = {}
    if not same_token(form.get("csrf_token"), form_token(settings, key)):
        errors["form"] = STALE_FORM
    try:
        check_username(values["username"])
    except AccountError as error:
        errors["username"] = str(error)
    password, confirmation = str(form.get("password", "")), str(form.get("password_confirm", ""))
    errors |= new_password_errors(password, confirmation, values["username"], email)
    if needs_municipality and not values["municipality_id"].isdigit():
        errors["municipality_id"] = "Выберите муниципалитет из списка."
    return errors | consent_errors(form)


def _load_invitation(request: Request, key: str, with_suggestion: bool) -> InvitationPage:
    with request.app.state.session_factory() as session:
        invitation = find_invitation(session, key)
        problem = key_problem(invitation, utcnow())
        if invitation is None or problem is not None:
            return InvitationPage(problem or KeyProblem.UNKNOWN)
        municipalities: tuple[tuple[int, str], ...] = ()
        if needs_municipality_choice(invitation):
            departmental_first = (Municipality.kind != MunicipalityKind.DEPARTMENTAL, Municipality.name)
            rows = session.execute(select(Municipality.id, Municipality.name).order_by(*departmental_first))
            municipalities = tuple((row.id, row.name) for row in rows)
        suggestion = suggest_login(session, invitation.full_name, invitation.email) if with_suggestion else None
        return InvitationPage(None, RoleCode(invitation.role.code), invitation.email, municipalities, suggestion)


def _accept(request: Request, key: str, values: dict[str, str], password_hash: str) -> None:
    """Consume the key and create the user, who consented to the processing of personal data just now."""
    municipality, now = values["municipality_id"], utcnow()
    with request.app.state.session_factory.begin() as session:
        user = accept_invitation(
            session,
            key,
            username=values["username"],
            password_hash=password_hash,
            municipality_id=int(municipality) if municipality.isdigit() else None,
            now=now,
        )
        user.personal_data_consent_at = now


async def _key_refused(request: Request, tries: list[Check], message: str, status_code: int) -> Response:
    await throttle_step(request.app.state.session_factory, record_hits, tries)
    return _render(request, "public/register_problem.html", {"message": message}, status_code)


def _throttled(request: Request, wait: int) -> Response:
    response = _render(
        request, "public/throttled.html", {"message": f"{TOO_MANY_KEYS} {try_again(wait)}"}, TOO_MANY_REQUESTS
    )
    response.headers.update(retry_after(wait))
    return response


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    settings: Settings = request.app.state.settings
    full_context = {
        "centre_name": settings.centre_name,
        "username_rules": USERNAME_RULES,
        "password_rules": PASSWORD_RULES,
        "policy_path": POLICY_PATH,
        **context,
    }
    return templates.TemplateResponse(request, name, full_context, status_code=status_code, headers=NO_REFERRER)
