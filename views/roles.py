"""«Роли»: the four roles, read-only (they are made by a migration)."""

from models import Role
from views.base import PanelView


class RoleAdmin(PanelView, model=Role):
    name = "Роль"
    name_plural = "Роли"
    icon = "fa-solid fa-id-badge"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [Role.name, Role.code]
    column_details_list = [Role.name, Role.code]
    column_labels = {Role.name: "Название", Role.code: "Код"}
    column_default_sort = [(Role.id, False)]
