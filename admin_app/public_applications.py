"""A teacher's own application, without an account: submit it, then follow its status by the link in the letter.

URL map:
    GET  /Application/Submit        the form «Заявление на аттестацию»
    POST /Application/Submit        in one transaction: the application (admin_app.applications.submit_application
                                    with no actor), the hash of a new status key, the letter with the status link
    GET  /Application/Status?k=…    the application's status and history (dates and statuses only); 404 if unknown

The status key comes from admin_app.tokens: it is shown once, in the letter (which the outbox blanks once sent),
and the database keeps only its SHA-256 (`applications.status_key_hash`).

Consent: the form is refused, as typed, unless the consent to the processing of personal data is ticked
(admin_app.personal_data); its time is stored as `applications.personal_data_consent_at`.

CSRF without a session: the double-submit pair of admin_app.public_form_tokens, its cookie limited to
/Application/Submit and deleted after a successful submission.

Flooding: the applications submitted from one client address are limited (admin_app.throttle); over the
limit the form comes back, as typed, with 429 and when to try again.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from itertools import groupby
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from admin_app.applications import (
    ApplicationError,
    Teacher,
    centre_today,
    parse_date,
    registration_label,
    submit_application,
    teacher_from_form,
)
from admin_app.csrf import STALE_FORM
from admin_app.dates import format_date, format_datetime
from admin_app.mail.letters import application_received_letter
from admin_app.mail.outbox import enqueue
from admin_app.mail.sender import wake_sender
from admin_app.personal_data import CONSENT_FIELD, POLICY_PATH, consent_errors
from admin_app.public_form_tokens import new_form_token, set_form_cookie, submitted_form_valid
from admin_app.public_templates import templates
from admin_app.throttle import (
    APPLICATIONS_PER_ADDRESS,
    Check,
    address_subject,
    record_hits,
    throttle_step,
    wait_seconds,
)
from admin_app.throttled import TOO_MANY_REQUESTS, retry_after, try_again
from admin_app.tokens import make_token, token_hash
from models import (
    APPLICATION_STATUS_LABELS,
    CATEGORY_LABELS,
    Application,
    ApplicationStatus,
    Category,
    Municipality,
    Organization,
    utcnow,
)
from settings import Settings

SUBMIT_PATH = "/Application/Submit"
STATUS_PATH = "/Application/Status"
FORM_COOKIE = "application_form"
MAX_KEY_LENGTH = 100  # keys from make_token are 32 characters
MAX_TYPED = 300  # what is kept of a typed value: more than any column holds, so a too long value is reported
PUBLIC_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
TOO_MANY_APPLICATIONS = "С вашего адреса отправлено слишком много заявлений."

FIELDS = (
    "full_name",
    "email",
    "phone",
    "position",
    "organization_id",
    "requested_category",
    "current_category",
    "current_category_date",
    CONSENT_FIELD,
)


async def submit_page(request: Request) -> Response:
    """GET: the empty form. POST: the application and its letter, or the form again with the errors."""
    settings: Settings = request.app.state.settings
    if request.method == "GET":
        return await _form(request, {"requested_category": Category.FIRST.value}, {})
    form = await request.form()
    values = _typed_values(form)
    submissions = [(APPLICATIONS_PER_ADDRESS, address_subject(request, settings))]
    wait = await throttle_step(request.app.state.session_factory, wait_seconds, submissions)
    if wait:
        return await _throttled_form(request, values, wait)
    errors = consent_errors(form)
    if not submitted_form_valid(request, form, FORM_COOKIE):
        errors["form"] = STALE_FORM
    if not errors:
        try:
            email = await anyio.to_thread.run_sync(_submit, request, values, submissions)
        except ApplicationError as error:
            errors[error.field or "form"] = str(error)
        else:
            wake_sender(request.app.state)
            response = _render(request, "public/application_submitted.html", {"email": email})
            response.delete_cookie(FORM_COOKIE, path=SUBMIT_PATH, secure=settings.is_https, samesite="strict")
            return response
    return await _form(request, values, errors, 400)


async def status_page(request: Request) -> Response:
    """The status of the application whose key is `k`; an unknown key gets a 404 page that says what to do."""
    context = await anyio.to_thread.run_sync(_status_context, request, request.query_params.get("k", ""))
    if context is None:
        return _render(request, "public/application_unknown.html", {}, 404)
    return _render(request, "public/application_status.html", context)


def submit_with_status_link(session: Session, teacher: Teacher, *, settings: Settings, now: datetime) -> Application:
    """The teacher's own application with a new status key; the letter with the key's link is queued in `session`."""
    application = submit_application(session, teacher, actor=None, now=now)
    key, application.status_key_hash = make_token()
    session.flush()
    enqueue(
        session,
        idempotency_key=f"application-received:{application.id}",
        recipient=application.teacher_email,
        letter=application_received_letter(
            centre_name=settings.centre_name,
            teacher=application.teacher_full_name,
            category=CATEGORY_LABELS[Category(application.requested_category)],
            organization=application.organization.name,
            link=f"{settings.base_url}{STATUS_PATH}?k={key}",
        ),
    )
    return application


def find_by_status_key(session: Session, key: str) -> Application | None:
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return session.scalar(select(Application).where(Application.status_key_hash == token_hash(key)))


def _typed_values(form: Any) -> dict[str, str]:
    """The form's fields as typed; a readable date is kept as a date input shows it (2021-09-01)."""
    values = {name: str(form.get(name, "")).strip()[:MAX_TYPED] for name in FIELDS}
    with contextlib.suppress(ApplicationError):
        typed_date = parse_date(values["current_category_date"], "current_category_date")
        if typed_date is not None:
            values["current_category_date"] = typed_date.isoformat()
    return values


def _submit(request: Request, values: dict[str, str], submissions: list[Check]) -> str:
    """The application, with the teacher's consent to the processing of personal data given now, and its letter,
    counted against the client's address in the same transaction."""
    teacher, now = teacher_from_form(values), utcnow()
    with request.app.state.session_factory.begin() as session:
        application = submit_with_status_link(session, teacher, settings=request.app.state.settings, now=now)
        application.personal_data_consent_at = now
        record_hits(session, submissions, now=now)
        return application.teacher_email


def _organizations(request: Request) -> list[tuple[str, list[tuple[int, str]]]]:
    """Every organization, grouped by municipality (for the optgroups of one select)."""
    with request.app.state.session_factory() as session:
        rows = session.execute(
            select(Municipality.name, Organization.id, Organization.name)
            .join(Organization.municipality)
            .order_by(Municipality.name, Organization.name)
        ).all()
    grouped = groupby(rows, key=lambda row: row[0])
    return [(municipality, [(row[1], row[2]) for row in group]) for municipality, group in grouped]


async def _form(request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200) -> Response:
    settings: Settings = request.app.state.settings
    cookie, token = new_form_token(settings, time.time())
    context = {
        "values": values,
        "errors": errors,
        "token": token,
        "organizations": await anyio.to_thread.run_sync(_organizations, request),
        "categories": [(category.value, label) for category, label in CATEGORY_LABELS.items()],
    }
    response = _render(request, "public/application_form.html", context, status_code)
    set_form_cookie(response, settings, name=FORM_COOKIE, value=cookie, path=SUBMIT_PATH)
    return response


async def _throttled_form(request: Request, values: dict[str, str], wait: int) -> Response:
    """The form as typed, with when to try again."""
    response = await _form(request, values, {"form": f"{TOO_MANY_APPLICATIONS} {try_again(wait)}"}, TOO_MANY_REQUESTS)
    response.headers.update(retry_after(wait))
    return response


def _status_context(request: Request, key: str) -> dict[str, Any] | None:
    with request.app.state.session_factory() as session:
        application = find_by_status_key(session, key)
        if application is None:
            return None
        history = application.history
        return {
            "teacher": application.teacher_full_name,
            "category": CATEGORY_LABELS[Category(application.requested_category)],
            "status": APPLICATION_STATUS_LABELS[ApplicationStatus(application.status)],
            "status_date": format_date(centre_today(history[-1].changed_at)) if history else "",
            "registration": registration_label(application),
            "deadline": format_date(application.deadline) if application.deadline else "",
            "history": [
                (format_datetime(change.changed_at), APPLICATION_STATUS_LABELS[ApplicationStatus(change.to_status)])
                for change in history
            ],
        }


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    settings: Settings = request.app.state.settings
    full_context = {"centre_name": settings.centre_name, "policy_path": POLICY_PATH, **context}
    return templates.TemplateResponse(request, name, full_context, status_code=status_code, headers=PUBLIC_HEADERS)
