"""«Журнал действий»: /admin/audit-event/… — the audit trail (admin_app.audit), read-only, for operators.

Only operators hold a grant for it (admin_app.permissions: every other role gets 403). The list is
newest first; it filters by action and by period and searches the login of whoever acted, what they
acted on and the address. Nothing here can be created, changed or deleted.

GET /admin/audit-event/list               the list
GET /admin/audit-event/details/{pk}       one event
GET /admin/audit-event/export/csv         the events as CSV for Excel (newest first)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select
from starlette.requests import Request
from starlette.responses import Response

from admin_app.audit import ACTION_LABELS, TARGET_TYPE_LABELS, AuditAction
from admin_app.dates import format_datetime
from models import AuditEvent, utcnow
from views.base import PanelView
from views.csv_export import csv_response
from views.filters import ChoiceFilter

PERIODS = {"day": ("за сутки", 1), "week": ("за 7 дней", 7), "month": ("за 30 дней", 30)}


def _action(event: AuditEvent, _attr: Any = None) -> str:
    return ACTION_LABELS.get(event.action, event.action)


def _actor(event: AuditEvent, _attr: Any = None) -> str:
    return event.actor_name or "—"


def _target(event: AuditEvent, _attr: Any = None) -> str:
    kind = TARGET_TYPE_LABELS.get(event.target_type, event.target_type)
    return f"{kind} {event.target_label}".strip() or "—"


def _by_action(query: Select, value: str) -> Select:
    return query.where(AuditEvent.action == value)


def _by_period(query: Select, value: str) -> Select:
    return query.where(AuditEvent.at >= utcnow() - timedelta(days=PERIODS[value][1]))


EXPORT_COLUMNS = (
    ("Время", lambda e: format_datetime(e.at)),
    ("Кто", _actor),
    ("Действие", _action),
    ("Что", _target),
    ("Адрес", lambda e: e.address),
    ("Подробности", lambda e: e.details),
)


class AuditEventAdmin(PanelView, model=AuditEvent):
    name = "Событие журнала"
    name_plural = "Журнал действий"
    icon = "fa-solid fa-clipboard-list"
    can_create = False
    can_edit = False
    can_delete = False
    can_export = True
    export_types = ["csv"]
    column_list = [
        AuditEvent.at,
        AuditEvent.actor_name,
        AuditEvent.action,
        AuditEvent.target_label,
        AuditEvent.address,
        AuditEvent.details,
    ]
    column_details_list = [*column_list, AuditEvent.target_id]
    column_labels = {
        AuditEvent.at: "Время",
        AuditEvent.actor_name: "Кто",
        AuditEvent.action: "Действие",
        AuditEvent.target_label: "Что",
        AuditEvent.address: "Адрес",
        AuditEvent.details: "Подробности",
        AuditEvent.target_id: "Номер объекта",
    }
    column_formatters = {AuditEvent.actor_name: _actor, AuditEvent.action: _action, AuditEvent.target_label: _target}
    column_formatters_detail = column_formatters
    column_searchable_list = [AuditEvent.actor_name, AuditEvent.target_label, AuditEvent.address]
    column_sortable_list = [AuditEvent.at, AuditEvent.actor_name, AuditEvent.action]
    column_default_sort = [(AuditEvent.at, True), (AuditEvent.id, True)]
    column_filters = [
        ChoiceFilter("Действие", "action", [(action.value, action.label) for action in AuditAction], _by_action),
        ChoiceFilter("Период", "period", [(key, label) for key, (label, _) in PERIODS.items()], _by_period),
    ]

    async def export_data(self, data: list[Any], export_type: str = "csv", request: Request | None = None) -> Response:
        newest_first = sorted(data, key=lambda event: (event.at, event.id), reverse=True)
        return csv_response(newest_first, EXPORT_COLUMNS, "Журнал действий")
