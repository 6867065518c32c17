"""«Приглашения и регистрации»: /admin/invitation/list — the seed's «Список пользователей,
зарегистрированных по приглашению»: every invitation in the viewer's scope and what became of it.
Invitations are sent from «Рассылка» (views/mailing.py); here the selected ones can be

GET /admin/invitation/action/resend?pks=…  «Отправить повторно»: a new key, the old link dead, a new term
GET /admin/invitation/action/revoke?pks=…  «Отозвать»: the link dead, a queued letter not sent

(rules: admin_app.invitations). An action re-reads the ids in the viewer's scope: an id outside it,
or no id at all, is «не найдено»; then it flashes what was done and returns to the page it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio.to_thread
from sqladmin import action
from sqladmin.flash import Flash
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_app.auth import CurrentUser
from admin_app.dates import format_datetime
from admin_app.invitations import (
    STATUS_LABELS,
    InvitationError,
    InvitationStatus,
    resend_invitation,
    revoke_invitation,
    status_clause,
    status_of,
)
from admin_app.mail.sender import wake_sender
from models import (
    DELIVERY_STATE_LABELS,
    ROLE_NAMES,
    DeliveryState,
    Invitation,
    Role,
    RoleCode,
    utcnow,
)
from views.actions import back_to, selected_ids
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
    Invitation.reminded_at: "Напоминание отправлено",
}
MAX_SELECTED = 500
# The summary travels in the session cookie (4 KB at most, Cyrillic escaped six times over): a few addresses each.
LISTED_ADDRESSES = 3

Change = Callable[[Session, CurrentUser, int], object]
"""A rule of admin_app.invitations applied to one invitation; InvitationError when it does not apply."""


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
        Invitation.reminded_at,
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
        places = (joinedload(Invitation.organization), joinedload(Invitation.municipality))
        return super().list_query(request).options(*places)

    async def export_data(self, data: list[Any], export_type: str = "csv", request: Request | None = None) -> Response:
        return csv_response(data, EXPORT_COLUMNS, "Приглашения")

    @action(
        "resend",
        label="Отправить повторно",
        confirmation_message="Отправить приглашение повторно? Ссылка из прежнего письма перестанет работать, "
        "срок действия начнётся заново.",
        add_in_detail=True,
        add_in_list=True,
    )
    async def resend_action(self, request: Request) -> Response:
        change = partial(resend_invitation, settings=request.app.state.settings, now=utcnow())
        return await self._act(request, change, done="Отправлено повторно с новой ссылкой")

    @action(
        "revoke",
        label="Отозвать",
        confirmation_message="Отозвать приглашение? Ссылка из письма перестанет работать.",
        add_in_detail=True,
        add_in_list=True,
    )
    async def revoke_action(self, request: Request) -> Response:
        return await self._act(request, partial(revoke_invitation, now=utcnow()), done="Отозвано")

    async def _act(self, request: Request, change: Change, *, done: str) -> Response:
        ids, malformed = selected_ids(request)
        if not ids and not malformed:
            Flash.error(request, "Выберите приглашения в списке.")
        elif len(ids) + malformed > MAX_SELECTED:
            Flash.error(request, f"Выбрано слишком много приглашений: не больше {MAX_SELECTED} за раз.")
        else:
            outcome = await anyio.to_thread.run_sync(self._change_each, request, ids, change)
            outcome.missing += malformed
            if outcome.done:
                wake_sender(request.app.state)
            _flash_outcome(request, outcome, done)
        return RedirectResponse(back_to(request, self.identity), status_code=302)

    def _change_each(self, request: Request, ids: set[int], change: Change) -> Outcome:
        """Apply `change` to each selected invitation of the viewer's scope, each in a transaction of its own."""
        factory = request.app.state.session_factory
        with factory() as session:
            query = select(Invitation.id, Invitation.email).where(Invitation.id.in_(ids)).order_by(Invitation.id)
            found = session.execute(self._scoped(query, request)).all()
        outcome = Outcome(missing=len(ids) - len(found))
        for invitation_id, email in found:
            try:
                with factory.begin() as session:
                    change(session, request.state.user, invitation_id)
            except InvitationError as error:
                outcome.refused.setdefault(str(error), []).append(email)
            else:
                outcome.done.append(email)
        return outcome


@dataclass
class Outcome:
    """What an action did: the addresses it changed, those it refused by reason, how many ids it did not find."""

    done: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)
    missing: int = 0


def _flash_outcome(request: Request, outcome: Outcome, done: str) -> None:
    skipped = sum(len(emails) for emails in outcome.refused.values()) + outcome.missing
    parts = [f"{done}: {len(outcome.done)}" + (f" ({_addresses(outcome.done)})." if outcome.done else ".")]
    if skipped:
        parts.append(f"Пропущено: {skipped}.")
        parts.extend(f"{_addresses(emails)} — {reason}" for reason, emails in outcome.refused.items())
        if outcome.missing:
            parts.append(f"Не найдено: {outcome.missing}.")
    message = " ".join(parts)
    if not skipped:
        Flash.success(request, message)
    elif outcome.done:
        Flash.warning(request, message)
    else:
        Flash.error(request, message)


def _addresses(emails: list[str]) -> str:
    listed = ", ".join(emails[:LISTED_ADDRESSES])
    return listed if len(emails) <= LISTED_ADDRESSES else f"{listed} и ещё {len(emails) - LISTED_ADDRESSES}"
