"""«Пользователи»: accounts. They come by invitation or from the CLI, never from this form;
the password hash is never shown or editable; deactivation replaces deletion."""

from typing import Any

from starlette.requests import Request

from admin_app.accounts import normalize_email
from models import User
from views.base import PanelView

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


class UserAdmin(PanelView, model=User):
    name = "Пользователь"
    name_plural = "Пользователи"
    icon = "fa-solid fa-users"
    can_create = False
    can_delete = False
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

    async def on_model_change(self, data: dict[str, Any], model: Any, is_created: bool, request: Request) -> None:
        await super().on_model_change(data, model, is_created, request)
        data["email"] = normalize_email(data.get("email") or "")
