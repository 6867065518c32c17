"""Attestation applications: submission, the status machine, experts and deadlines.

The rules live here and only here; pages call these functions. Every refusal
is an `ApplicationError` with a Russian message. Each status change appends a
row to the application's history (who, when, from, to, comment); history rows
are never changed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from admin_app.accounts import AccountError, has_control_characters, normalize_email
from admin_app.audit import AuditAction, record
from admin_app.auth import CurrentUser
from admin_app.dates import CENTRE_TIMEZONE
from admin_app.mail.letters import expert_assigned_letter
from admin_app.mail.outbox import enqueue
from admin_app.scopes import in_scope
from models import (
    APPLICATION_STATUS_LABELS,
    CATEGORY_LABELS,
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    Category,
    DocumentKind,
    Organization,
    RoleCode,
    User,
    is_row_id,
)
from settings import Settings

S = ApplicationStatus
OPERATOR, MUNICIPAL, SCHOOL, EXPERT = (
    RoleCode.OPERATOR,
    RoleCode.MUNICIPAL_COORDINATOR,
    RoleCode.ORGANIZATION_COORDINATOR,
    RoleCode.EXPERT,
)
COORDINATORS = frozenset({OPERATOR, MUNICIPAL})
ANY_COORDINATOR = frozenset({OPERATOR, MUNICIPAL, SCHOOL})
REVIEWERS = frozenset({OPERATOR, MUNICIPAL, EXPERT})
ENTRY_ROLES = ANY_COORDINATOR  # who enters applications on a teacher's behalf

# from-status → {to-status: roles that may make that step}
TRANSITIONS: dict[ApplicationStatus, dict[ApplicationStatus, frozenset[RoleCode]]] = {
    S.NEW: {S.REGISTERED: COORDINATORS, S.RETURNED: COORDINATORS, S.WITHDRAWN: ANY_COORDINATOR},
    S.RETURNED: {S.NEW: ANY_COORDINATOR, S.WITHDRAWN: ANY_COORDINATOR},
    S.REGISTERED: {S.EXPERTS_ASSIGNED: COORDINATORS, S.RETURNED: COORDINATORS, S.WITHDRAWN: ANY_COORDINATOR},
    S.EXPERTS_ASSIGNED: {S.UNDER_REVIEW: REVIEWERS, S.WITHDRAWN: ANY_COORDINATOR},
    S.UNDER_REVIEW: {S.REVIEW_DONE: REVIEWERS, S.WITHDRAWN: ANY_COORDINATOR},
    S.REVIEW_DONE: {S.GRANTED: frozenset({OPERATOR}), S.REFUSED: frozenset({OPERATOR})},
    S.GRANTED: {S.ARCHIVED: frozenset({OPERATOR})},
    S.REFUSED: {S.ARCHIVED: frozenset({OPERATOR})},
    S.WITHDRAWN: {S.ARCHIVED: frozenset({OPERATOR})},
    S.ARCHIVED: {},
}
NEEDS_COMMENT = frozenset({S.RETURNED, S.REFUSED})
CLOSED = frozenset({S.GRANTED, S.REFUSED, S.ARCHIVED, S.WITHDRAWN})
NEEDS_HIGHEST = frozenset({Category.METHODIST, Category.MENTOR})
DUE_SOON_DAYS = 7
NUMBERING_ATTEMPTS = 5


class ApplicationError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Teacher:
    """What a submission says about the teacher and the category asked for."""

    full_name: str
    email: str
    phone: str
    position: str
    organization_id: int
    requested_category: str
    current_category: str | None = None
    current_category_date: date | None = None


# The longest value of each free-text field of a submission: the length of the column it is stored in.
TEACHER_LIMITS = {
    field: Application.__table__.c[column].type.length
    for field, column in (
        ("full_name", "teacher_full_name"),
        ("email", "teacher_email"),
        ("phone", "teacher_phone"),
        ("position", "position"),
    )
}
BAD_DATE = "Укажите дату в формате ДД.ММ.ГГГГ."
CONTROL_CHARACTERS = "Уберите служебные символы (табуляцию, перевод строки и подобные): поле — одна строка текста."


def parse_date(value: str, field: str) -> date | None:
    """A date as a date input sends it (2021-09-01) or as a person types it (01.09.2021); None when empty."""
    if not value:
        return None
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ApplicationError(BAD_DATE, field)


def teacher_from_form(values: dict[str, str]) -> Teacher:
    """The submission as typed into a form (ours or the public one), checked for length and date format."""
    for field, limit in TEACHER_LIMITS.items():
        if len(values.get(field, "")) > limit:
            raise ApplicationError(f"Не больше {limit} символов.", field)
        if has_control_characters(values.get(field, "")):
            raise ApplicationError(CONTROL_CHARACTERS, field)
    organization = values.get("organization_id", "")
    return Teacher(
        full_name=values.get("full_name", ""),
        email=values.get("email", ""),
        phone=values.get("phone", ""),
        position=values.get("position", ""),
        organization_id=int(organization) if is_row_id(organization) else 0,
        requested_category=values.get("requested_category", ""),
        current_category=values.get("current_category") or None,
        current_category_date=parse_date(values.get("current_category_date", ""), "current_category_date"),
    )


def centre_today(now: datetime) -> date:
    return now.astimezone(CENTRE_TIMEZONE).date()


def submit_application(session: Session, teacher: Teacher, *, actor: CurrentUser | None, now: datetime) -> Application:
    """A new application; `actor` is None for a teacher's own submission on the public page."""
    if actor is not None and actor.role not in ENTRY_ROLES:
        raise ApplicationError("Заявления вносят координаторы по аттестации.")
    organization = session.get(Organization, teacher.organization_id)
    if organization is None or (actor is not None and not in_scope(actor, organization)):
        raise ApplicationError("Выберите образовательную организацию из списка.", "organization_id")
    for field, value, label in (
        ("full_name", teacher.full_name, "ФИО педагога"),
        ("position", teacher.position, "Должность"),
    ):
        if not value.strip():
            raise ApplicationError(f"Заполните поле «{label}».", field)
    try:
        email = normalize_email(teacher.email)
    except AccountError as error:
        raise ApplicationError(str(error), "email") from None
    requested = _category(teacher.requested_category, "requested_category")
    current = _category(teacher.current_category, "current_category") if teacher.current_category else None
    if requested in NEEDS_HIGHEST and current is not Category.HIGHEST:
        raise ApplicationError(
            "На категорию «педагог-методист» или «педагог-наставник» может претендовать только педагог "
            "с высшей квалификационной категорией.",
            "requested_category",
        )
    application = Application(
        teacher_full_name=teacher.full_name.strip(),
        teacher_email=email,
        teacher_phone=teacher.phone.strip(),
        position=teacher.position.strip(),
        organization_id=organization.id,
        municipality_id=organization.municipality_id,
        requested_category=requested,
        current_category=current,
        current_category_date=teacher.current_category_date,
        submitted_at=now,
        status=S.NEW,
        created_by_id=actor.id if actor else None,
    )
    session.add(application)
    _record(session, application, None, S.NEW, actor, "", now)
    return application


def allowed_steps(application: Application, actor: CurrentUser) -> list[ApplicationStatus]:
    """The statuses this user may move the application to now (for the buttons on its page)."""
    steps = TRANSITIONS[ApplicationStatus(application.status)]
    return [to for to, roles in steps.items() if actor.role in roles]


def change_status(
    session: Session,
    application: Application,
    to: ApplicationStatus,
    *,
    actor: CurrentUser,
    comment: str = "",
    settings: Settings,
    now: datetime,
) -> None:
    """Move the application one step, checking who may and what the step needs."""
    if not in_scope(actor, application):
        raise ApplicationError("Заявление не найдено.")
    current = ApplicationStatus(application.status)
    if actor.role not in TRANSITIONS[current].get(to, frozenset()):
        raise ApplicationError(
            f"Нельзя перевести заявление из статуса «{APPLICATION_STATUS_LABELS[current]}» "
            f"в статус «{APPLICATION_STATUS_LABELS[to]}»."
        )
    if to in NEEDS_COMMENT and not comment.strip():
        raise ApplicationError("Укажите причину в комментарии.", "comment")
    if to is S.REGISTERED:
        _require_petition(application)
        _register(session, application, settings, now)
    if to is S.EXPERTS_ASSIGNED and not application.experts:
        raise ApplicationError("Сначала назначьте хотя бы одного специалиста по аттестации.")
    application.status = to
    _record(session, application, current, to, actor, comment.strip(), now)


def _require_petition(application: Application) -> None:
    """«Педагог-методист» and «педагог-наставник» are registered only with a petition (ходатайство) attached."""
    category = Category(application.requested_category)
    if category in NEEDS_HIGHEST and not any(d.kind == DocumentKind.PETITION for d in application.documents):
        raise ApplicationError(
            f"Для категории «{CATEGORY_LABELS[category]}» приложите ходатайство, затем зарегистрируйте заявление."
        )


def _register(session: Session, application: Application, settings: Settings, now: datetime) -> None:
    """A sequential number within the municipality and year, the registration date, the default deadline.

    Two coordinators registering at the same moment may both read the same last number: the unique
    constraint refuses the second, which then takes the next number, within its own savepoint."""
    today = centre_today(now)
    for _ in range(NUMBERING_ATTEMPTS):
        last = session.scalar(
            select(func.max(Application.registration_number)).where(
                Application.municipality_id == application.municipality_id,
                Application.registration_year == today.year,
            )
        )
        try:
            with session.begin_nested():
                application.registration_year = today.year
                application.registration_number = (last or 0) + 1
                session.flush()
            break
        except IntegrityError:
            continue
    else:
        raise ApplicationError("Не удалось присвоить регистрационный номер: повторите регистрацию.")
    application.registered_at = today
    application.deadline = application.deadline or today + timedelta(days=settings.application_deadline_days)


def registration_label(application: Application) -> str:
    if application.registration_number is None:
        return ""
    return f"{application.registration_number}/{application.registration_year}"


def assign_experts(
    session: Session, application: Application, expert_ids: list[int], *, actor: CurrentUser, settings: Settings
) -> None:
    """Active experts of the application's municipality, none from the teacher's own organization.

    Each newly assigned expert gets a letter (through the outbox, in the same transaction)."""
    _require_coordinator(actor, application, "Назначать специалистов по аттестации")
    if not expert_ids:
        raise ApplicationError("Выберите хотя бы одного специалиста по аттестации.", "experts")
    experts = session.scalars(select(User).where(User.id.in_(expert_ids))).all()
    if len(experts) != len(set(expert_ids)):
        raise ApplicationError("Выберите специалистов по аттестации из списка.", "experts")
    for expert in experts:
        if expert.role.code != EXPERT or not expert.is_active or expert.municipality_id != application.municipality_id:
            raise ApplicationError(
                f"{expert.full_name or expert.username} не может быть экспертом по этому заявлению: нужен "
                "действующий специалист по аттестации того же муниципалитета.",
                "experts",
            )
        if expert.organization_id is not None and expert.organization_id == application.organization_id:
            raise ApplicationError(
                f"{expert.full_name or expert.username} работает в той же организации, что и педагог, "
                "и не может проводить его экспертизу.",
                "experts",
            )
    newly_assigned = [expert for expert in experts if expert not in application.experts]
    application.experts = list(experts)
    session.flush()
    names = ", ".join(expert.full_name or expert.username for expert in experts)
    record(session, AuditAction.EXPERTS_ASSIGNED, target=application, details=names, actor=actor)
    for expert in newly_assigned:
        enqueue(
            session,
            idempotency_key=f"expert-assigned:{application.id}:{expert.id}",
            recipient=expert.email,
            letter=expert_assigned_letter(
                centre_name=settings.centre_name,
                teacher=application.teacher_full_name,
                registration=registration_label(application),
                link=f"{settings.base_url}/admin/application/details/{application.id}",
            ),
        )


def set_deadline(application: Application, deadline: date, *, actor: CurrentUser) -> None:
    _require_coordinator(actor, application, "Устанавливать срок проведения аттестации")
    if application.registered_at is None:
        raise ApplicationError("Срок устанавливается после регистрации заявления.", "deadline")
    if deadline < application.registered_at:
        raise ApplicationError("Срок проведения аттестации не может быть раньше даты регистрации.", "deadline")
    application.deadline = deadline
    session = object_session(application)
    assert session is not None, "the application is loaded in the caller's transaction"
    record(session, AuditAction.DEADLINE_SET, target=application, details=f"{deadline:%d.%m.%Y}", actor=actor)


def _require_coordinator(actor: CurrentUser, application: Application, what: str) -> None:
    if not in_scope(actor, application):
        raise ApplicationError("Заявление не найдено.")
    if actor.role not in COORDINATORS:
        raise ApplicationError(f"{what} могут муниципальный координатор и оператор.")
    if ApplicationStatus(application.status) in CLOSED:
        raise ApplicationError("Работа по заявлению завершена: специалистов и срок изменить нельзя.")


OVERDUE, DUE_SOON = "overdue", "due_soon"


def deadline_clause(flag: str, today: date) -> ColumnElement[bool]:
    """The open applications that are OVERDUE or DUE_SOON; `deadline_flag` is the same rule for one application."""
    open_ = Application.status.not_in(list(CLOSED))
    if flag == OVERDUE:
        return and_(open_, Application.deadline < today)
    return and_(open_, Application.deadline >= today, Application.deadline <= today + timedelta(days=DUE_SOON_DAYS))


def deadline_flag(application: Application, today: date) -> str | None:
    """«просрочено», «срок истекает» (within 7 days) or None, for open applications with a deadline."""
    if application.deadline is None or ApplicationStatus(application.status) in CLOSED:
        return None
    if application.deadline < today:
        return "просрочено"
    if application.deadline <= today + timedelta(days=DUE_SOON_DAYS):
        return "срок истекает"
    return None


def _category(value: str | None, field: str) -> Category:
    try:
        return Category(value)
    except ValueError:
        raise ApplicationError("Выберите категорию из списка.", field) from None


def _record(
    session: Session,
    application: Application,
    from_status: ApplicationStatus | None,
    to_status: ApplicationStatus,
    actor: CurrentUser | None,
    comment: str,
    now: datetime,
) -> None:
    session.add(
        ApplicationStatusChange(
            application=application,
            changed_at=now,
            actor_id=actor.id if actor else None,
            from_status=from_status,
            to_status=to_status,
            comment=comment,
        )
    )
    action = AuditAction.APPLICATION_SUBMITTED if from_status is None else AuditAction.APPLICATION_STATUS
    record(session, action, target=application, details=_step_details(from_status, to_status, comment), actor=actor)


def _step_details(from_status: ApplicationStatus | None, to_status: ApplicationStatus, comment: str) -> str:
    """The status a submission starts in, or «from» → «to» for a step; the comment after it."""
    step = f"«{APPLICATION_STATUS_LABELS[to_status]}»"
    if from_status is not None:
        step = f"«{APPLICATION_STATUS_LABELS[from_status]}» → {step}"
    return f"{step}; {comment}" if comment else step
