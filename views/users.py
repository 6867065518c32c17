"""«Пользователи»: /admin/user/… — accounts. They come by invitation or from the CLI, never
from this form; the password hash is never shown or editable; deactivation replaces deletion.

Operators manage everyone. A municipal coordinator manages the users of their municipality
whose roles they may invite (experts, school coordinators): name, e-mail and activity only.
Nobody changes their own role, scope or activity (rules: admin_app.user_activity).

GET /admin/user/action/deactivate?pks=1,2   «Отключить»: the users are out at once
GET /admin/user/action/activate?pks=1,2     «Включить»
Both act only on the managed users among `pks`, say what they did in a flash message and go back."""

from typing import Any

import anyio.to_thread
from sqladmin import action
from sqladmin.flash import Flash
from sqlalchemy import ColumnElement
from sqlalchemy.orm import object_session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import Form

from admin_app.accounts import AccountError, normalize_email
from admin_app.request_context import current_request
from admin_app.sessions import end_all
from admin_app.user_activity import ActivityOutcome, address_refusal, managed_users, set_active
from models import User, utcnow
from views.actions import back_to, selected_ids
from views.scoped import ScopedView

OWN_FIELDS = ("role", "municipality", "organization", "is_active")
ACCESS_COLUMNS = {"role": "role_id", "municipality": "municipality_id", "organization": "organization_id"}

LABELS = {
    User.username: "Имя пользователя",
    User.full_name: "ФИО",
    User.email: "Электронная почта",
    User.role: "Роль",
    User.municipality: "Муниципалитет",
    User.organization: "Образовательная организация",
    User.is_active: "Активен",
    User.created_at: "Создан",
    User.last_login_at: "Последний вход",
    User.invitation: "Приглашение",
}


class UserAdmin(ScopedView, model=User):
    name = "Пользователь"
    name_plural = "Пользователи"
    icon = "fa-solid fa-users"
    can_create = False
    can_delete = False
    scope_fields = ("role", "municipality", "organization")
    column_list = [
        User.username,
        User.full_name,
        User.email,
        User.role,
        User.municipality,
        User.organization,
        User.is_active,
        User.last_login_at,
    ]
    column_details_list = [*column_list, User.created_at, User.invitation]
    column_labels = LABELS
    column_searchable_list = [User.username, User.email, User.full_name]
    column_sortable_list = [User.username, User.created_at, User.last_login_at]
    column_default_sort = [(User.username, False)]
    form_columns = [
        User.full_name,
        User.email,
        User.role,
        User.municipality,
        User.organization,
        User.is_active,
    ]
    form_args = {column.key: {"label": label} for column, label in LABELS.items()}

    def scope_filter(self, request: Request) -> ColumnElement[bool] | None:
        return managed_users(request.state.user)

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        form = await super().scaffold_form(rules)
        request = current_request.get()
        if request.path_params.get("pk") != str(request.state.user.id):
            return form
        return type(form.__name__, (form,), dict.fromkeys(OWN_FIELDS))

    async def on_model_change(self, data: dict[str, Any], model: Any, is_created: bool, request: Request) -> None:
        await super().on_model_change(data, model, is_created, request)
        if model.id == request.state.user.id:
            for name in OWN_FIELDS:
                data.pop(name, None)
        data["email"] = normalize_email(data.get("email") or "")
        if data.get("is_active", model.is_active):
            refusal = address_refusal(object_session(model), data["email"], user_id=model.id)
            if refusal is not None:
                raise AccountError(refusal)
        if _changes_access(data, model):
            end_all(object_session(model), model.id, now=utcnow())

    @action(
        "deactivate",
        label="Отключить",
        confirmation_message="Отключить выбранных пользователей? Они сразу выйдут из системы и не смогут войти.",
        add_in_list=True,
        add_in_detail=True,
    )
    async def deactivate(self, request: Request) -> Response:
        return await self._set_active(request, active=False)

    @action(
        "activate",
        label="Включить",
        confirmation_message="Включить выбранных пользователей? Они снова смогут входить в систему.",
        add_in_list=True,
        add_in_detail=True,
    )
    async def activate(self, request: Request) -> Response:
        return await self._set_active(request, active=True)

    async def _set_active(self, request: Request, *, active: bool) -> Response:
        ids, malformed = selected_ids(request)
        outcome = await anyio.to_thread.run_sync(self._apply, request, ids, active)
        outcome.not_found += malformed
        message = _summary(outcome, active=active)
        if outcome.changed and not outcome.refused:
            Flash.success(request, message)
        else:
            Flash.warning(request, message)
        return RedirectResponse(back_to(request, self.identity), status_code=302)

    def _apply(self, request: Request, ids: set[int], active: bool) -> ActivityOutcome:
        with request.app.state.session_factory.begin() as session:
            return set_active(session, request.state.user, ids, active=active)


def _changes_access(data: dict[str, Any], user: User) -> bool:
    """Whether the saved form switches `user` off or changes their role or scope: then their sessions end."""
    if user.is_active and not data.get("is_active", True):
        return True
    return any(
        name in data and (int(data[name]) if data[name] else None) != getattr(user, column)
        for name, column in ACCESS_COLUMNS.items()
    )


def _summary(outcome: ActivityOutcome, *, active: bool) -> str:
    """One Russian message: what changed, what already was so, what was refused and why, what was not found."""
    done, already = ("Включены", "Уже были включены") if active else ("Отключены", "Уже были отключены")
    parts = [
        f"{label}: {', '.join(names)}."
        for label, names in ((done, outcome.changed), (already, outcome.unchanged))
        if names
    ]
    parts += [f"{username}: {reason}" for username, reason in outcome.refused]
    if outcome.not_found:
        parts.append(f"Не найдено среди ваших пользователей: {outcome.not_found}.")
    return " ".join(parts) or "Не выбран ни один пользователь."
