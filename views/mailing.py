"""«Рассылка»: /admin/mailing — invitations by e-mail, as in the old system.

GET  /admin/mailing               the two sections: «Отправить приглашение», «Список пользователей…»
GET  /admin/mailing/invite        the invitation form
POST /admin/mailing/invite        send it (rules: admin_app.invitations)
POST /admin/mailing/resend/{id}   a new key for a pending invitation (404 outside the scope)
GET  /admin/mailing/bulk          invite many: a table (CSV, XLSX) or a pasted list of addresses
POST /admin/mailing/bulk          read and check every row: the preview, nothing is sent
POST /admin/mailing/bulk/confirm  send every row (mode=all) or only the ready ones (mode=valid)

Bulk invitations (rules: admin_app.bulk_invitations) carry the previewed rows to the
confirmation in a signed field, so any worker can confirm. The confirmation sends all rows in
one transaction, each row in a savepoint: an error half-way sends nothing, and confirming
again is safe, because a row already sent meets the pending-invitation rule and is reported.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from sqladmin import BaseView, expose
from sqladmin.flash import Flash
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_app.auth import CurrentUser
from admin_app.bulk_files import BulkInputError
from admin_app.bulk_invitations import (
    ROLE_SHORT_NAMES,
    BulkRow,
    CheckedRow,
    Choice,
    NotAllReady,
    check_rows,
    read_rows,
    send_rows,
    sign_rows,
    size_limit_message,
    unsign_rows,
)
from admin_app.csrf import STALE_FORM, csrf_token_valid
from admin_app.invitations import (
    InvitationError,
    InvitationNotFound,
    PendingInvitationExists,
    create_invitation,
    invitable_roles,
    resend_invitation,
)
from admin_app.mail.letters import invitation_template_preview
from admin_app.mail.sender import wake_sender
from models import ROLE_NAMES, Municipality, Organization, RoleCode, is_row_id, utcnow
from settings import Settings


class MailingView(BaseView):
    name = "Рассылка"
    identity = "mailing"
    icon = "fa-solid fa-paper-plane"

    @expose("/mailing", methods=["GET"])
    async def mailing(self, request: Request) -> Response:
        return await self.templates.TemplateResponse(request, "mailing/index.html", {"title": "Рассылка"})

    @expose("/mailing/invite", methods=["GET", "POST"])
    async def mailing_invite(self, request: Request) -> Response:
        user: CurrentUser = request.state.user
        values: dict[str, str] = {"role": invitable_roles(user)[0].value if invitable_roles(user) else ""}
        if request.method == "GET":
            return await self._form(request, values, {})
        form = await request.form()
        values = {name: str(form.get(name, "")).strip()[:254] for name in FIELDS}
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._form(request, values, {"form": STALE_FORM}, status_code=400)
        try:
            email = await anyio.to_thread.run_sync(self._create, request, values)
        except PendingInvitationExists as error:
            return await self._form(
                request, values, {"email": str(error)}, status_code=409, pending_id=error.invitation_id
            )
        except InvitationError as error:
            return await self._form(request, values, {error.field or "form": str(error)}, status_code=400)
        wake_sender(request.app.state)
        Flash.success(request, f"Приглашение для {email} поставлено в очередь на отправку.")
        return RedirectResponse(request.url_for("admin:view-mailing"), status_code=302)

    @expose("/mailing/resend/{invitation_id}", methods=["POST"])
    async def mailing_resend(self, request: Request) -> Response:
        if not is_row_id(request.path_params["invitation_id"]):
            raise HTTPException(status_code=404)
        form = await request.form()
        if not csrf_token_valid(request, form.get("csrf_token")):
            Flash.error(request, STALE_FORM)
        else:
            try:
                invitation_id = int(request.path_params["invitation_id"])
                email = await anyio.to_thread.run_sync(self._resend, request, invitation_id)
                wake_sender(request.app.state)
                Flash.success(request, f"Приглашение для {email} отправлено повторно с новой ссылкой.")
            except InvitationNotFound:
                raise HTTPException(status_code=404) from None
            except InvitationError as error:
                Flash.error(request, str(error))
        return RedirectResponse(request.url_for("admin:view-mailing"), status_code=302)

    @expose("/mailing/bulk", methods=["GET", "POST"])
    async def mailing_bulk(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._bulk_form(request, {})
        settings = request.app.state.settings
        max_bytes = settings.bulk_max_kb * 1024
        if _declared_length(request) > max_bytes + FORM_OVERHEAD:
            return await self._bulk_form(request, {}, size_limit_message(settings.bulk_max_kb), status_code=413)
        form = await request.form(max_part_size=max_bytes + FORM_OVERHEAD)
        values = {name: str(form.get(name, "")).strip()[:254] for name in BULK_CHOICE_FIELDS}
        values["addresses"] = str(form.get("addresses", ""))
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._bulk_form(request, values, STALE_FORM, status_code=400)
        upload = form.get("file")
        content = await upload.read(max_bytes + 1) if isinstance(upload, UploadFile) and upload.filename else None
        try:
            rows, checked = await anyio.to_thread.run_sync(self._read_and_check, request, content, values)
        except BulkInputError as error:
            return await self._bulk_form(request, values, str(error), status_code=400)
        return await self._bulk_preview(request, rows, checked)

    @expose("/mailing/bulk/confirm", methods=["POST"])
    async def mailing_bulk_confirm(self, request: Request) -> Response:
        settings = request.app.state.settings
        form = await request.form(max_part_size=_signed_rows_limit(settings))
        try:
            rows = unsign_rows(form.get("rows"), user_id=request.state.user.id, secret_key=settings.secret_key)
        except BulkInputError as error:
            return await self._bulk_form(request, {}, str(error), status_code=400)
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._bulk_preview_again(request, rows, STALE_FORM)
        mode = form.get("mode")
        if mode not in BULK_MODES:
            return await self._bulk_preview_again(request, rows, "Выберите, какие строки отправить.")
        try:
            checked = await anyio.to_thread.run_sync(self._send, request, rows, mode == "all")
        except NotAllReady as not_all:
            error = "Не все строки готовы к отправке, поэтому ничего не отправлено. Отправьте только готовые строки."
            return await self._bulk_preview(request, rows, not_all.checked, error=error, status_code=409)
        wake_sender(request.app.state)
        context = {"title": "Приглашения списком: результат", "rows": checked, "sent": _ready(checked)}
        return await self.templates.TemplateResponse(request, "mailing/bulk_result.html", context)

    def _create(self, request: Request, values: dict[str, str]) -> str:
        state = request.app.state
        with state.session_factory.begin() as session:
            invitation = create_invitation(
                session,
                request.state.user,
                role=values["role"],
                email=values["email"],
                municipality_id=_int_or_none(values["municipality_id"]),
                organization_id=_int_or_none(values["organization_id"]),
                settings=state.settings,
                now=utcnow(),
            )
            return invitation.email

    def _resend(self, request: Request, invitation_id: int) -> str:
        state = request.app.state
        with state.session_factory.begin() as session:
            invitation = resend_invitation(
                session, request.state.user, invitation_id, settings=state.settings, now=utcnow()
            )
            return invitation.email

    def _read_and_check(
        self, request: Request, content: bytes | None, values: dict[str, str]
    ) -> tuple[list[BulkRow], list[CheckedRow]]:
        state = request.app.state
        choice = Choice(
            values["role"], _int_or_none(values["municipality_id"]), _int_or_none(values["organization_id"])
        )
        with state.session_factory() as session:
            rows = read_rows(
                session,
                request.state.user,
                content=content,
                text=values["addresses"],
                choice=choice,
                settings=state.settings,
            )
        return rows, self._check(request, rows)

    def _check(self, request: Request, rows: list[BulkRow]) -> list[CheckedRow]:
        """The preview: every row checked, nothing kept."""
        state = request.app.state
        with state.session_factory() as session:
            checked = check_rows(session, request.state.user, rows, settings=state.settings, now=utcnow())
            session.rollback()
        return checked

    def _send(self, request: Request, rows: list[BulkRow], everything: bool) -> list[CheckedRow]:
        state = request.app.state
        with state.session_factory.begin() as session:
            return send_rows(
                session, request.state.user, rows, everything=everything, settings=state.settings, now=utcnow()
            )

    async def _bulk_form(
        self, request: Request, values: dict[str, str], error: str = "", *, status_code: int = 200
    ) -> Response:
        user: CurrentUser = request.state.user
        settings = request.app.state.settings
        roles = invitable_roles(user)
        context = {
            "title": "Пригласить списком",
            "roles": [(role.value, ROLE_NAMES[role]) for role in roles],
            "role_examples": [ROLE_SHORT_NAMES[role][0] for role in roles],
            "values": values or {"role": roles[0].value if roles else ""},
            "errors": {},
            "error": error,
            "max_rows": settings.bulk_max_rows,
            "max_kb": settings.bulk_max_kb,
            **await anyio.to_thread.run_sync(_choices, request, user),
        }
        return await self.templates.TemplateResponse(request, "mailing/bulk.html", context, status_code=status_code)

    async def _bulk_preview_again(self, request: Request, rows: list[BulkRow], error: str) -> Response:
        checked = await anyio.to_thread.run_sync(self._check, request, rows)
        return await self._bulk_preview(request, rows, checked, error=error, status_code=400)

    async def _bulk_preview(
        self,
        request: Request,
        rows: list[BulkRow],
        checked: list[CheckedRow],
        *,
        error: str = "",
        status_code: int = 200,
    ) -> Response:
        settings = request.app.state.settings
        context = {
            "title": "Пригласить списком: проверка",
            "rows": checked,
            "ready": _ready(checked),
            "signed": sign_rows(rows, user_id=request.state.user.id, secret_key=settings.secret_key),
            "error": error,
        }
        return await self.templates.TemplateResponse(
            request, "mailing/bulk_preview.html", context, status_code=status_code
        )

    async def _form(
        self,
        request: Request,
        values: dict[str, str],
        errors: dict[str, str],
        *,
        status_code: int = 200,
        pending_id: int | None = None,
    ) -> Response:
        user: CurrentUser = request.state.user
        subject, text = invitation_template_preview(centre_name=request.app.state.settings.centre_name)
        context = {
            "title": "Приглашение в систему специалиста по аттестации",
            "roles": [(role.value, ROLE_NAMES[role]) for role in invitable_roles(user)],
            "values": values,
            "errors": errors,
            "pending_id": pending_id,
            "subject": subject,
            "text": text,
            **await anyio.to_thread.run_sync(_choices, request, user),
        }
        return await self.templates.TemplateResponse(request, "mailing/invite.html", context, status_code=status_code)


FIELDS = ("role", "email", "municipality_id", "organization_id")
BULK_CHOICE_FIELDS = ("role", "municipality_id", "organization_id")
BULK_MODES = ("all", "valid")
FORM_OVERHEAD = 64 * 1024  # bytes of the bulk form besides its file or list


def _declared_length(request: Request) -> int:
    length = request.headers.get("content-length", "")
    return int(length) if length.isdigit() else 0


def _ready(checked: list[CheckedRow]) -> int:
    return sum(row.ready for row in checked)


def _signed_rows_limit(settings: Settings) -> int:
    """Bytes the confirmation's signed rows may take: what was read, with room for each row's message."""
    return settings.bulk_max_kb * 1024 * 4 + settings.bulk_max_rows * 1024


def _int_or_none(value: str) -> int | None:
    """A submitted id; anything that cannot be a row's id counts as not chosen."""
    return int(value) if is_row_id(value) else None


def _choices(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Municipalities an operator may pick, or the coordinator's own; organizations grouped by municipality."""
    with request.app.state.session_factory() as session:
        municipalities = select(Municipality.id, Municipality.name).order_by(Municipality.name)
        organizations = select(Organization.id, Organization.name, Organization.municipality_id).order_by(
            Organization.name
        )
        if user.role is not RoleCode.OPERATOR:
            municipalities = municipalities.where(Municipality.id == user.municipality_id)
            organizations = organizations.where(Organization.municipality_id == user.municipality_id)
        municipality_rows = session.execute(municipalities).all()
        names = dict(municipality_rows)
        grouped: dict[str, list[tuple[int, str]]] = {}
        for row in session.execute(organizations):
            grouped.setdefault(names.get(row.municipality_id, ""), []).append((row.id, row.name))
    return {
        "municipalities": municipality_rows,
        "organizations": sorted(grouped.items()),
        "fixed_municipality": None if user.role is RoleCode.OPERATOR else names.get(user.municipality_id, ""),
    }
