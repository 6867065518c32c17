"""The audit trail: who did what, to what, when and from which address — never a password, a key or a link with a key.

The rule modules call `record` where a change happens, in the caller's transaction, so the event
and the change commit (or roll back) together. Who: the `actor` given, else the user the panel
authenticated for this request (admin_app.request_context); the public pages (registration,
password recovery, a teacher's application) have nobody. From where: admin_app.audit_context.
Details pass through admin_app.redaction. Events are not logged: one that is rolled back with its
change (a previewed bulk invitation) never happened.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from sqladmin.helpers import slugify_class_name
from sqlalchemy.orm import Session

from admin_app.audit_context import current_address
from admin_app.redaction import redact
from admin_app.request_context import current_request
from models import AuditEvent, User

MAX_DETAILS = 2000
MAX_LABEL = 300


class AuditAction(enum.StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    INVITATION_SENT = "invitation_sent"
    INVITATION_RESENT = "invitation_resent"
    INVITATION_REVOKED = "invitation_revoked"
    REGISTERED = "registered"
    USER_CHANGED = "user_changed"
    USER_DEACTIVATED = "user_deactivated"
    USER_ACTIVATED = "user_activated"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    APPLICATION_SUBMITTED = "application_submitted"
    APPLICATION_STATUS = "application_status"
    EXPERTS_ASSIGNED = "experts_assigned"
    DEADLINE_SET = "deadline_set"
    DOCUMENT_UPLOADED = "document_uploaded"
    DOCUMENT_DOWNLOADED = "document_downloaded"
    RECORD_CREATED = "record_created"
    RECORD_CHANGED = "record_changed"
    RECORD_DELETED = "record_deleted"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    AuditAction.LOGIN: "Вход",
    AuditAction.LOGIN_FAILED: "Неудачный вход",
    AuditAction.INVITATION_SENT: "Приглашение отправлено",
    AuditAction.INVITATION_RESENT: "Приглашение отправлено повторно",
    AuditAction.INVITATION_REVOKED: "Приглашение отозвано",
    AuditAction.REGISTERED: "Регистрация",
    AuditAction.USER_CHANGED: "Изменение пользователя",
    AuditAction.USER_DEACTIVATED: "Пользователь отключён",
    AuditAction.USER_ACTIVATED: "Пользователь включён",
    AuditAction.PASSWORD_CHANGED: "Смена пароля",
    AuditAction.PASSWORD_RESET: "Восстановление пароля",
    AuditAction.APPLICATION_SUBMITTED: "Заявление подано",
    AuditAction.APPLICATION_STATUS: "Статус заявления",
    AuditAction.EXPERTS_ASSIGNED: "Назначение экспертов",
    AuditAction.DEADLINE_SET: "Срок аттестации",
    AuditAction.DOCUMENT_UPLOADED: "Документ загружен",
    AuditAction.DOCUMENT_DOWNLOADED: "Документ скачан",
    AuditAction.RECORD_CREATED: "Создание записи",
    AuditAction.RECORD_CHANGED: "Изменение записи",
    AuditAction.RECORD_DELETED: "Удаление записи",
}

# What a target is, by its target_type (the model's name as SQLAdmin's identities spell it).
TARGET_TYPE_LABELS = {
    "user": "Пользователь",
    "invitation": "Приглашение",
    "application": "Заявление",
    "municipality": "Муниципалитет",
    "organization": "Образовательная организация",
    "role": "Роль",
}


class Actor(Protocol):
    """Whoever acts: a CurrentUser of the panel or a User row."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


def record(
    session: Session,
    action: AuditAction,
    *,
    target: Any = None,
    details: str = "",
    actor: Actor | None = None,
) -> AuditEvent:
    """Add the event to the session (the caller commits it); `target` is a model row, flushed if it has no id yet."""
    who = actor if actor is not None else _request_user()
    if target is not None and target.id is None:
        session.flush()
    event = AuditEvent(
        actor_id=who.id if who is not None else None,
        actor_name=who.username if who is not None else "",
        action=action.value,
        target_type=slugify_class_name(type(target).__name__) if target is not None else "",
        target_id=target.id if target is not None else None,
        target_label=redact(str(target))[:MAX_LABEL] if target is not None else "",
        address=current_address(),
        details=redact(details)[:MAX_DETAILS],
    )
    session.add(event)
    return event


def record_login(session: Session, account: User | None, *, succeeded: bool) -> AuditEvent:
    """A login, or a failed one: `account` is the user the typed login names, None when it names nobody.

    A login that names nobody is not stored as typed: people type their password into the wrong field.
    """
    if succeeded and account is not None:
        return record(session, AuditAction.LOGIN, target=account, actor=account)
    if account is None:
        reason = "неизвестное имя пользователя"
    elif not account.is_active:
        reason = "учётная запись отключена"
    else:
        reason = "неверный пароль"
    return record(session, AuditAction.LOGIN_FAILED, target=account, details=reason)


def _request_user() -> Actor | None:
    request = current_request.get(None)
    return getattr(request.state, "user", None) if request is not None else None
