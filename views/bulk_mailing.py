"""«Рассылка» → «Пригласить списком»: the bulk invitation pages of MailingView (views/mailing.py).

GET  /admin/mailing/bulk          invite many: a table (CSV, XLSX) or a pasted list of addresses
POST /admin/mailing/bulk          read and check every row: the preview, nothing is sent
POST /admin/mailing/bulk/confirm  send every row (mode=all) or only the ready ones (mode=valid)

The rules are admin_app.bulk_invitations'. The previewed rows reach the confirmation in a
signed field, so any worker can confirm. The confirmation sends all rows in one transaction,
each row in a savepoint: an error half-way sends nothing, and confirming again is safe,
because a row already sent meets the pending-invitation rule and is reported.
"""

from __future__ import annotations

import anyio.to_thread
from sqladmin import BaseView, expose
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

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
from admin_app.invitations import invitable_roles
from admin_app.mail.sender import wake_sender
from models import ROLE_NAMES, utcnow
from settings import Settings
from views.invitee_choices import chosen_id, invitee_choices


class BulkMailing(BaseView):
    """The bulk pages; MailingView inherits them, so they are «Рассылка»'s routes and grants."""

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

    def _read_and_check(
        self, request: Request, content: bytes | None, values: dict[str, str]
    ) -> tuple[list[BulkRow], list[CheckedRow]]:
        state = request.app.state
        choice = Choice(values["role"], chosen_id(values["municipality_id"]), chosen_id(values["organization_id"]))
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
            **await anyio.to_thread.run_sync(invitee_choices, request, user),
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
