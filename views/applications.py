"""«Заявления на аттестацию»: /admin/application/… — the applications in the viewer's scope.

GET  /admin/application/list                the list (filters: status, category, deadline)
GET  /admin/application/details/{pk}        one application, its history and the steps the viewer may take
GET  /admin/application/new                 the entry form (coordinators)
POST /admin/application/new
POST /admin/application/{pk}/status         one step of the status machine
POST /admin/application/{pk}/experts        assign experts
POST /admin/application/{pk}/deadline       set the attestation deadline
GET  /admin/application/register.xlsx?first=…&last=…  the register for a period (coordinators)
GET  /admin/application/{pk}/notice.docx     the notification of the attestation dates (coordinators)
POST /admin/application/{pk}/documents      attach a document (admin_app.documents)
GET  /admin/application/{pk}/documents/{id} download it, within the scope only

SQLAdmin's own create and edit forms are off: every change goes through admin_app.applications,
where the rules live.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from sqladmin import expose
from sqladmin.flash import Flash
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from admin_app.applications import (
    CLOSED,
    COORDINATORS,
    DUE_SOON,
    ENTRY_ROLES,
    OVERDUE,
    ApplicationError,
    allowed_steps,
    assign_experts,
    centre_today,
    change_status,
    deadline_clause,
    deadline_flag,
    parse_date,
    registration_label,
    set_deadline,
    submit_application,
    teacher_from_form,
)
from admin_app.audit import AuditAction, record
from admin_app.csrf import STALE_FORM, csrf_token_valid
from admin_app.dates import format_datetime
from admin_app.documents import (
    DOCX,
    XLSX,
    DocumentError,
    document_label,
    document_path,
    store_document,
    uploadable_kinds,
)
from admin_app.generated_documents import notice_docx, register_xlsx
from admin_app.scopes import in_scope, scope_clause
from models import (
    APPLICATION_STATUS_LABELS,
    CATEGORY_LABELS,
    DOCUMENT_KIND_LABELS,
    RECOMMENDATION_LABELS,
    Application,
    ApplicationStatus,
    Category,
    Document,
    DocumentKind,
    Municipality,
    Organization,
    Recommendation,
    Role,
    RoleCode,
    User,
    is_row_id,
    utcnow,
)
from views.csv_export import csv_response
from views.filters import ChoiceFilter, RowChoiceFilter
from views.scoped import ScopedView

TEACHER_FIELDS = ("full_name", "email", "phone", "position", "organization_id", "requested_category")
OPTIONAL_FIELDS = ("current_category", "current_category_date")


def _status(application: Application, _attr: Any = None) -> str:
    return APPLICATION_STATUS_LABELS[ApplicationStatus(application.status)]


def _category(application: Application, _attr: Any = None) -> str:
    return CATEGORY_LABELS[Category(application.requested_category)]


def _flag(application: Application, _attr: Any = None) -> str:
    return deadline_flag(application, centre_today(utcnow())) or ""


def _registration(application: Application, _attr: Any = None) -> str:
    return registration_label(application)


def _by_status(query: Select, value: str) -> Select:
    return query.where(Application.status == value)


def _by_category(query: Select, value: str) -> Select:
    return query.where(Application.requested_category == value)


def _by_deadline(query: Select, value: str) -> Select:
    return query.where(deadline_clause(value, centre_today(utcnow())))


EXPORT_COLUMNS = (
    ("Рег. номер", _registration),
    ("ФИО педагога", lambda a: a.teacher_full_name),
    ("Электронная почта", lambda a: a.teacher_email),
    ("Телефон", lambda a: a.teacher_phone),
    ("Должность", lambda a: a.position),
    ("Образовательная организация", lambda a: a.organization.name),
    ("Муниципалитет", lambda a: a.municipality.name),
    ("Категория", _category),
    ("Статус", _status),
    ("Подано", lambda a: format_datetime(a.submitted_at)),
    ("Срок аттестации", lambda a: a.deadline.strftime("%d.%m.%Y") if a.deadline else ""),
)


class ApplicationAdmin(ScopedView, model=Application):
    name = "Заявление"
    name_plural = "Заявления на аттестацию"
    icon = "fa-solid fa-file-signature"
    can_create = False
    can_edit = False
    can_delete = False
    can_export = True
    export_types = ["csv"]
    details_template = "applications/details.html"
    list_template = "applications/list.html"
    # Status and deadline first: they are what a coordinator scans the list for.
    column_list = [
        "registration",
        Application.teacher_full_name,
        Application.status,
        Application.deadline,
        "flag",
        Application.requested_category,
        Application.organization,
    ]
    column_details_list = [
        "registration",
        Application.teacher_full_name,
        Application.teacher_email,
        Application.teacher_phone,
        Application.position,
        Application.organization,
        Application.municipality,
        Application.requested_category,
        Application.current_category,
        Application.current_category_date,
        Application.submitted_at,
        Application.registered_at,
        Application.deadline,
        Application.status,
    ]
    column_labels = {
        "registration": "Рег. номер",
        "flag": "Срок",
        Application.teacher_full_name: "ФИО педагога",
        Application.teacher_email: "Электронная почта",
        Application.teacher_phone: "Телефон",
        Application.position: "Должность",
        Application.organization: "Образовательная организация",
        Application.municipality: "Муниципалитет",
        Application.requested_category: "Категория",
        Application.current_category: "Имеющаяся категория",
        Application.current_category_date: "Дата присвоения",
        Application.submitted_at: "Подано",
        Application.registered_at: "Зарегистрировано",
        Application.deadline: "Срок аттестации",
        Application.status: "Статус",
    }
    column_formatters = {
        "registration": _registration,
        "flag": _flag,
        Application.status: _status,
        Application.requested_category: _category,
        Application.current_category: lambda a, _: (
            CATEGORY_LABELS[Category(a.current_category)] if a.current_category else ""
        ),
    }
    column_formatters_detail = column_formatters
    column_searchable_list = [Application.teacher_full_name, Application.teacher_email]
    column_sortable_list = [Application.teacher_full_name, Application.deadline, Application.submitted_at]
    column_default_sort = [(Application.submitted_at, True)]
    column_filters = [
        ChoiceFilter(
            "Статус", "status", [(s.value, label) for s, label in APPLICATION_STATUS_LABELS.items()], _by_status
        ),
        ChoiceFilter("Категория", "category", [(c.value, label) for c, label in CATEGORY_LABELS.items()], _by_category),
        ChoiceFilter(
            "Срок аттестации", "deadline", [(OVERDUE, "просрочено"), (DUE_SOON, "истекает в 7 дней")], _by_deadline
        ),
        RowChoiceFilter("Муниципалитет", "municipality", Municipality, Application.municipality_id),
        RowChoiceFilter(
            "Образовательная организация",
            "organization",
            Organization,
            Application.organization_id,
            within=("municipality", Organization.municipality_id),
        ),
    ]

    async def export_data(self, data: list[Any], export_type: str = "csv", request: Request | None = None) -> Response:
        return csv_response(data, EXPORT_COLUMNS, "Заявления")

    def list_query(self, request: Request) -> Select:
        """The scope check of each row reads its experts; the export reads the municipality."""
        related = (selectinload(Application.experts), joinedload(Application.municipality))
        return super().list_query(request).options(*related)

    def details_query(self, request: Request) -> Select:
        """The scope check of an expert reads the application's experts."""
        return super().details_query(request).options(selectinload(Application.experts))

    async def list_context(self, request: Request) -> dict[str, Any]:
        role = request.state.user.role
        return {"can_enter": role in ENTRY_ROLES, "can_form_register": role in COORDINATORS}

    async def details_context(self, request: Request) -> dict[str, Any]:
        pk = request.path_params["pk"]
        return await anyio.to_thread.run_sync(_details_context, request, int(pk))

    @expose("/new", methods=["GET", "POST"])
    async def new(self, request: Request) -> Response:
        if request.state.user.role not in ENTRY_ROLES:
            raise HTTPException(status_code=403)
        if request.method == "GET":
            return await self._new_form(request, {"requested_category": Category.FIRST.value}, {})
        form = await request.form()
        values = {name: str(form.get(name, "")).strip()[:254] for name in (*TEACHER_FIELDS, *OPTIONAL_FIELDS)}
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._new_form(request, values, {"form": STALE_FORM}, status_code=400)
        try:
            application_id = await anyio.to_thread.run_sync(_submit, request, values)
        except ApplicationError as error:
            return await self._new_form(request, values, {error.field or "form": str(error)}, status_code=400)
        Flash.success(request, "Заявление сохранено.")
        return RedirectResponse(request.url_for("admin:details", identity="application", pk=application_id), 302)

    @expose("/{pk}/status", methods=["POST"])
    async def status(self, request: Request) -> Response:
        return await self._change(request, _change_status)

    @expose("/{pk}/experts", methods=["POST"])
    async def experts(self, request: Request) -> Response:
        return await self._change(request, _assign_experts)

    @expose("/{pk}/deadline", methods=["POST"])
    async def deadline(self, request: Request) -> Response:
        return await self._change(request, _set_deadline)

    @expose("/register.xlsx", methods=["GET"])
    async def register(self, request: Request) -> Response:
        if request.state.user.role not in COORDINATORS:
            raise HTTPException(status_code=403)
        try:
            first, last = _period(request.query_params.get("first", ""), request.query_params.get("last", ""))
        except ApplicationError as error:
            Flash.error(request, str(error))
            return RedirectResponse(request.url_for("admin:list", identity="application"), 302)
        stmt = self.list_query(request).where(Application.registered_at.between(first, last))
        content = await anyio.to_thread.run_sync(_register_workbook, request, stmt, first, last)
        return _download(content, f"Реестр заявлений {first:%d.%m.%Y}–{last:%d.%m.%Y}.xlsx", XLSX.content_type)

    @expose("/{pk}/notice.docx", methods=["GET"])
    async def notice(self, request: Request) -> Response:
        pk = request.path_params["pk"]
        if not is_row_id(pk):
            raise HTTPException(status_code=404)
        try:
            content = await anyio.to_thread.run_sync(_notice, request, int(pk))
        except ApplicationError as error:
            Flash.error(request, str(error))
            return RedirectResponse(request.url_for("admin:details", identity="application", pk=pk), 302)
        return _download(content, f"Уведомление {pk}.docx", DOCX.content_type)

    @expose("/{pk}/documents", methods=["POST"])
    async def documents(self, request: Request) -> Response:
        return await self._change(request, _attach_document)

    @expose("/{pk}/documents/{document_id}", methods=["GET"])
    async def document(self, request: Request) -> Response:
        pk, document_id = request.path_params["pk"], request.path_params["document_id"]
        if not (is_row_id(pk) and is_row_id(document_id)):
            raise HTTPException(status_code=404)
        document, path = await anyio.to_thread.run_sync(_find_document, request, int(pk), int(document_id))
        return FileResponse(
            path,
            media_type=document.content_type,
            filename=document.filename,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
        )

    async def _change(self, request: Request, change: Callable[[Session, Request, Application, Any], str]) -> Response:
        pk = request.path_params["pk"]
        if not is_row_id(pk):
            raise HTTPException(status_code=404)
        form = await request.form()
        if not csrf_token_valid(request, form.get("csrf_token")):
            Flash.error(request, STALE_FORM)
        else:
            upload = form.get("file")
            if isinstance(upload, UploadFile):
                max_bytes = request.app.state.settings.document_max_mb * 1024 * 1024
                form = {**form, "content": await upload.read(max_bytes + 1), "filename": upload.filename or ""}
            try:
                Flash.success(request, await anyio.to_thread.run_sync(_apply, request, int(pk), change, form))
            except (ApplicationError, DocumentError) as error:
                Flash.error(request, str(error))
        return RedirectResponse(request.url_for("admin:details", identity="application", pk=pk), 302)

    async def _new_form(
        self, request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200
    ) -> Response:
        organizations = await anyio.to_thread.run_sync(_organizations, request)
        context = {
            "title": "Новое заявление на аттестацию",
            "values": values,
            "errors": errors,
            "organizations": organizations,
            "categories": [(c.value, label) for c, label in CATEGORY_LABELS.items()],
        }
        return await self.templates.TemplateResponse(request, "applications/new.html", context, status_code=status_code)


def _submit(request: Request, values: dict[str, str]) -> int:
    teacher = teacher_from_form(values)
    with request.app.state.session_factory.begin() as session:
        application = submit_application(session, teacher, actor=request.state.user, now=utcnow())
        session.flush()
        return application.id


def _apply(request: Request, pk: int, change: Callable[[Session, Request, Application, Any], str], form: Any) -> str:
    with request.app.state.session_factory.begin() as session:
        application = session.get(Application, pk, options=[selectinload(Application.experts)])
        if application is None or not in_scope(request.state.user, application):
            raise HTTPException(status_code=404)
        return change(session, request, application, form)


def _change_status(session: Session, request: Request, application: Application, form: Any) -> str:
    try:
        to = ApplicationStatus(str(form.get("to", "")))
    except ValueError:
        raise ApplicationError("Выберите действие из предложенных.") from None
    change_status(
        session,
        application,
        to,
        actor=request.state.user,
        comment=str(form.get("comment", ""))[:2000],
        settings=request.app.state.settings,
        now=utcnow(),
    )
    return f"Статус заявления: «{APPLICATION_STATUS_LABELS[to]}»."


def _assign_experts(session: Session, request: Request, application: Application, form: Any) -> str:
    ids = [int(value) for value in form.getlist("experts") if is_row_id(str(value))]
    assign_experts(session, application, ids, actor=request.state.user, settings=request.app.state.settings)
    return "Специалисты по аттестации назначены."


def _attach_document(session: Session, request: Request, application: Application, form: Any) -> str:
    settings = request.app.state.settings
    if "content" not in form:
        raise DocumentError("Выберите файл с документом.")
    document = store_document(
        session,
        application,
        kind=str(form.get("kind", "")),
        filename=form["filename"],
        content=form["content"],
        recommendation=str(form.get("recommendation", "")),
        actor=request.state.user,
        storage_dir=settings.documents_dir,
        max_bytes=settings.document_max_mb * 1024 * 1024,
        now=utcnow(),
    )
    return f"Документ «{document.filename}» прикреплён."


MAX_REGISTER_DAYS = 366


def _period(first: str, last: str) -> tuple[date, date]:
    start, end = parse_date(first, "first"), parse_date(last, "last")
    if start is None or end is None:
        raise ApplicationError("Укажите начало и конец периода.")
    if start > end:
        raise ApplicationError("Начало периода позже его конца.")
    if (end - start).days > MAX_REGISTER_DAYS:
        raise ApplicationError("Реестр формируется не больше чем за год.")
    return start, end


def _register_workbook(request: Request, stmt: Select, first: date, last: date) -> bytes:
    """The register of `stmt`, the list's query: it comes with each application's organization joined."""
    stmt = stmt.order_by(Application.registered_at, Application.registration_number)
    with request.app.state.session_factory() as session:
        applications = session.scalars(stmt).unique().all()
        return register_xlsx(applications, centre_name=request.app.state.settings.centre_name, first=first, last=last)


def _notice(request: Request, pk: int) -> bytes:
    if request.state.user.role not in COORDINATORS:
        raise HTTPException(status_code=403)
    with request.app.state.session_factory() as session:
        application = session.get(Application, pk, options=[selectinload(Application.experts)])
        if application is None or not in_scope(request.state.user, application):
            raise HTTPException(status_code=404)
        if application.registered_at is None:
            raise ApplicationError("Уведомление формируется после регистрации заявления.")
        return notice_docx(application, centre_name=request.app.state.settings.centre_name)


def _download(content: bytes, filename: str, content_type: str) -> Response:
    disposition = f"attachment; filename=\"document.{filename.rsplit('.', 1)[1]}\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        content, media_type=content_type, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )


def _find_document(request: Request, pk: int, document_id: int) -> tuple[Document, Path]:
    """The document and its file, if the user sees its application; the download goes into the audit trail."""
    user = request.state.user
    with request.app.state.session_factory.begin() as session:
        application = session.get(Application, pk, options=[selectinload(Application.experts)])
        document = session.get(Document, document_id)
        if application is None or document is None or document.application_id != pk:
            raise HTTPException(status_code=404)
        if not in_scope(user, application):
            raise HTTPException(status_code=404)
        path = document_path(request.app.state.settings.documents_dir, document)
        if not path.is_file():
            raise HTTPException(status_code=404)
        record(
            session, AuditAction.DOCUMENT_DOWNLOADED, target=application, details=document_label(document), actor=user
        )
        return document, path


def _set_deadline(session: Session, request: Request, application: Application, form: Any) -> str:
    deadline = parse_date(str(form.get("deadline", "")), "deadline")
    if deadline is None:
        raise ApplicationError("Укажите дату.", "deadline")
    set_deadline(application, deadline, actor=request.state.user)
    return f"Срок проведения аттестации: {deadline:%d.%m.%Y}."


def _organizations(request: Request) -> list[tuple[int, str]]:
    """The organizations this user may enter applications for."""
    with request.app.state.session_factory() as session:
        query = select(Organization.id, Organization.name).order_by(Organization.name)
        clause = scope_clause(request.state.user, Organization)
        return [tuple(row) for row in session.execute(query if clause is None else query.where(clause))]


def _who(user: User | None) -> str:
    if user is None:
        return "педагог"
    return f"{user.full_name} ({user.username})" if user.full_name else user.username


def _details_context(request: Request, pk: int) -> dict[str, Any]:
    user = request.state.user
    with request.app.state.session_factory() as session:
        application = session.get(
            Application,
            pk,
            options=[
                selectinload(Application.history),
                selectinload(Application.experts),
                selectinload(Application.documents),
            ],
        )
        if application is None:
            return {}
        candidates = session.execute(
            select(User.id, User.full_name, User.username)
            .join(Role)
            .where(
                Role.code == RoleCode.EXPERT,
                User.is_active,
                User.municipality_id == application.municipality_id,
                or_(User.organization_id.is_(None), and_(User.organization_id != application.organization_id)),
            )
            .order_by(User.full_name, User.username)
        ).all()
        return {
            "history": [
                (
                    format_datetime(change.changed_at),
                    _who(change.actor),
                    APPLICATION_STATUS_LABELS[ApplicationStatus(change.from_status)] if change.from_status else "—",
                    APPLICATION_STATUS_LABELS[ApplicationStatus(change.to_status)],
                    change.comment,
                )
                for change in application.history
            ],
            "steps": [(step.value, APPLICATION_STATUS_LABELS[step]) for step in allowed_steps(application, user)],
            "can_manage": user.role in COORDINATORS and ApplicationStatus(application.status) not in CLOSED,
            "can_form_notice": user.role in COORDINATORS and application.registered_at is not None,
            "expert_choices": [(row.id, row.full_name or row.username) for row in candidates],
            "assigned": {expert.id for expert in application.experts},
            "assigned_names": [expert.full_name or expert.username for expert in application.experts],
            "deadline": application.deadline.isoformat() if application.deadline else "",
            "documents": [
                (
                    document.id,
                    document.filename,
                    DOCUMENT_KIND_LABELS[DocumentKind(document.kind)],
                    f"{max(1, document.size // 1024)} КБ",
                    RECOMMENDATION_LABELS[Recommendation(document.recommendation)] if document.recommendation else "",
                    format_datetime(document.uploaded_at),
                )
                for document in application.documents
            ],
            "document_kinds": [(kind.value, DOCUMENT_KIND_LABELS[kind]) for kind in uploadable_kinds(user)],
            "recommendations": list(RECOMMENDATION_LABELS.items())
            if DocumentKind.CONCLUSION in uploadable_kinds(user)
            else [],
            "document_max_mb": request.app.state.settings.document_max_mb,
        }
