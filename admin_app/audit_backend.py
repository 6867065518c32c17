"""SQLAdmin's own create, edit and delete forms in the audit trail (`Admin(audit_backend=…)`).

SQLAdmin hands over the submitted fields after its commit (related rows as bare ids); the row's values
of those fields are stored as «Метка: значение» with the panel's Russian labels, and no field named like
a secret is (admin_app.redaction).
An edit of a user is «Изменение пользователя»; anything else is «Создание/Изменение/Удаление записи».
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread
from sqladmin.audit import AuditBackend, AuditEntry
from sqladmin.helpers import slugify_class_name
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from admin_app.audit import Actor, AuditAction, record
from admin_app.redaction import scrub_fields
from models import Base, is_row_id

FieldLabels = Callable[[str], Mapping[str, str]]  # a view identity → {field name: Russian label}

ACTIONS = {
    "create": AuditAction.RECORD_CREATED,
    "update": AuditAction.RECORD_CHANGED,
    "delete": AuditAction.RECORD_DELETED,
}
MODELS = {slugify_class_name(mapper.class_.__name__): mapper.class_ for mapper in Base.registry.mappers}


class PanelAuditBackend(AuditBackend):
    def __init__(self, session_factory: sessionmaker[Session], field_labels: FieldLabels) -> None:
        self.session_factory = session_factory
        self.field_labels = field_labels

    async def log(self, entry: AuditEntry, request: Request) -> None:
        actor = getattr(request.state, "user", None)
        await anyio.to_thread.run_sync(self._write, entry, actor)

    def _write(self, entry: AuditEntry, actor: Actor | None) -> None:
        with self.session_factory.begin() as session:
            target = _target(session, entry)
            if target is None:
                details = f"{entry.identity} №{entry.pk}"
            else:
                values = {name: getattr(target, name, value) for name, value in (entry.changes or {}).items()}
                details = scrub_fields(values, self.field_labels(entry.identity))
            record(session, _action(entry), target=target, details=details, actor=actor)


def _action(entry: AuditEntry) -> AuditAction:
    if entry.identity == "user" and entry.action == "update":
        return AuditAction.USER_CHANGED
    return ACTIONS[entry.action]


def _target(session: Session, entry: AuditEntry) -> Any:
    """The row the entry is about, or None when it is gone (deleted) or unknown."""
    model = MODELS.get(entry.identity)
    if model is None or entry.pk is None or not is_row_id(entry.pk):
        return None
    return session.get(model, int(entry.pk))
