"""«Приглашения и регистрации»: /admin/invitation/list — the seed's «Список пользователей,
зарегистрированных по приглашению»: every invitation in the viewer's scope and what became of it.
Read-only; invitations are sent from «Рассылка» (views/mailing.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import selectinload
from starlette.requests import Request
from starlette.responses import Response

from admin_app.dates import format_datetime
from admin_app.invitations import STATUS_LABELS, InvitationStatus, status_clause, status_of
from models import DELIVERY_STATE_LABELS, ROLE_NAMES, DeliveryState, Invitation, Role, RoleCode, utcnow
from views.csv_export import csv_response
from views.filters import ChoiceFilter
from views.scoped import ScopedView

LABELS = {
    Invitation.email: "Почта получателя",
    Invitation.role: "Роль",
    Invitation.municipality: "Муниципалитет",
    Invitation.organization: "Образовательная организация",
    Invitation.inviter: "Пригласил",
    Invitation.created_at: "Создано",
    Invitation.expires_at: "Действует до",
    Invitation.sent_at: "Отправлено",
    Invitation.delivery_state: "Доставка",
    "status": "Статус",
    "place": "Муниципалитет / организация",
    Invitation.accepted_user: "Имя пользователя",
    Invitation.accepted_at: "Дата регистрации",
    Invitation.revoked_at: "Отозвано",
}


def _status_label(invitation: Invitation, _attr: Any = None) -> str:
    return STATUS_LABELS[status_of(invitation, utcnow())]


def _place(invitation: Invitation, _attr: Any = None) -> str:
    return _text(invitation.organization or invitation.municipality)


def _delivery_label(invitation: Invitation, _attr: Any = None) -> str:
    return DELIVERY_STATE_LABELS[DeliveryState(invitation.delivery_state)]


def _by_role(query: Select, code: str) -> Select:
    return query.join(Invitation.role).where(Role.code == code)


def _by_status(query: Select, status: str) -> Select:
    return query.where(status_clause(InvitationStatus(status), utcnow()))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _time(value: Any) -> str:
    return "" if value is None else format_datetime(value)


EXPORT_COLUMNS = (
    ("Почта получателя", lambda i: i.email),
    ("Роль", lambda i: i.role.name),
    ("Муниципалитет", lambda i: _text(i.municipality)),
    ("Образовательная организация", lambda i: _text(i.organization)),
    ("Пригласил", lambda i: _text(i.inviter)),
    ("Отправлено", lambda i: _time(i.sent_at)),
    ("Доставка", _delivery_label),
    ("Статус", _status_label),
    ("Имя пользователя", lambda i: _text(i.accepted_user)),
    ("Дата регистрации", lambda i: _time(i.accepted_at)),
)


class InvitationAdmin(ScopedView, model=Invitation):
    name = "Приглашение"
    name_plural = "Приглашения и регистрации"
    icon = "fa-solid fa-envelope-open-text"
    can_create = False
    can_edit = False
    can_delete = False
    can_export = True
    export_types = ["csv"]
    # What the inviter looks for first (status, login) comes right after the address.
    column_list = [
        Invitation.email,
        "status",
        Invitation.accepted_user,
        Invitation.accepted_at,
        Invitation.delivery_state,
        Invitation.role,
        "place",
        Invitation.inviter,
        Invitation.sent_at,
    ]
    column_details_list = [
        Invitation.email,
        "status",
        Invitation.accepted_user,
        Invitation.accepted_at,
        Invitation.delivery_state,
        Invitation.role,
        Invitation.municipality,
        Invitation.organization,
        Invitation.inviter,
        Invitation.sent_at,
        Invitation.created_at,
        Invitation.expires_at,
        Invitation.revoked_at,
    ]
    column_labels = LABELS
    column_formatters = {Invitation.delivery_state: _delivery_label, "status": _status_label, "place": _place}
    column_formatters_detail = column_formatters
    column_searchable_list = [Invitation.email, "accepted_user.username"]
    column_sortable_list = [Invitation.email, Invitation.sent_at, Invitation.accepted_at]
    column_default_sort = [(Invitation.created_at, True)]
    column_filters = [
        ChoiceFilter("Роль", "role", [(code.value, ROLE_NAMES[code]) for code in RoleCode], _by_role),
        ChoiceFilter("Статус", "status", [(s.value, label) for s, label in STATUS_LABELS.items()], _by_status),
    ]

    def list_query(self, request: Request) -> Select:
        """The place column reads the organization and the municipality, which are not columns of their own."""
        places = (selectinload(Invitation.organization), selectinload(Invitation.municipality))
        return super().list_query(request).options(*places)

    async def export_data(self, data: list[Any], export_type: str = "csv", request: Request | None = None) -> Response:
        return csv_response(data, EXPORT_COLUMNS, "Приглашения")
