"""«Пользователи»: /admin/user/… — accounts. They come by invitation or from the CLI, never
from this form; the password hash is never shown or editable; deactivation replaces deletion.

Operators manage everyone. A municipal coordinator manages the users of their municipality
whose roles they may invite (experts, school coordinators): name, e-mail and activity only.
Nobody changes their own role, scope or activity."""

from typing import Any

from sqlalchemy import ColumnElement, and_, select
from starlette.requests import Request
from wtforms import Form

from admin_app.accounts import normalize_email
from admin_app.invitations import invitable_roles
from admin_app.request_context import current_request
from models import Role, User
from views.scoped import ScopedView

OWN_FIELDS = ("role", "municipality", "organization", "is_active")

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
        clause = super().scope_filter(request)
        if clause is None:
            return None
        managed = select(Role.id).where(Role.code.in_(invitable_roles(request.state.user)))
        return and_(clause, User.role_id.in_(managed))

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
