"""Row scope: which rows of a scoped table a user may see — the one place this rule lives.

operator: every row; municipal coordinator: rows of their municipality;
organization coordinator: rows of their organization; expert: rows assigned to
them (through the row's `experts`; a table without assignments shows them
nothing). A model is scoped through its `municipality_id` and `organization_id`
columns; the municipalities table itself shows everyone but operators their own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false

from admin_app.auth import CurrentUser
from models import Municipality, Organization, RoleCode, User

# Rows of this table are a scope themselves: an organization coordinator's organization is the row
# whose id is theirs, not a row with an organization_id.
OWN_ID_COLUMNS = {(Organization, "organization_id"): "id"}


def _scope_column(user: CurrentUser) -> tuple[str, int | None] | None:
    """The column a row must match and the user's value for it; None when the user sees everything."""
    if user.role is RoleCode.OPERATOR:
        return None
    if user.role is RoleCode.MUNICIPAL_COORDINATOR:
        return "municipality_id", user.municipality_id
    if user.role is RoleCode.ORGANIZATION_COORDINATOR:
        return "organization_id", user.organization_id
    return "id", None  # an expert: only assignments count (scope_clause, in_scope); no column matches


def scope_clause(user: CurrentUser, model: Any) -> ColumnElement[bool] | None:
    """A WHERE clause limiting `model` to the user's rows; None when the user sees everything."""
    if model is Municipality and user.role is not RoleCode.OPERATOR:
        return false() if user.municipality_id is None else Municipality.id == user.municipality_id
    if user.role is RoleCode.EXPERT:
        return model.experts.any(User.id == user.id) if hasattr(model, "experts") else false()
    scope = _scope_column(user)
    if scope is None:
        return None
    column, value = scope
    return false() if value is None else getattr(model, _column(model, column)) == value


def in_scope(user: CurrentUser, row: Any) -> bool:
    """The same rule for a loaded row."""
    if isinstance(row, Municipality) and user.role is not RoleCode.OPERATOR:
        return user.municipality_id is not None and row.id == user.municipality_id
    if user.role is RoleCode.EXPERT:
        return any(expert.id == user.id for expert in getattr(row, "experts", ()))
    scope = _scope_column(user)
    if scope is None:
        return True
    column, value = scope
    return value is not None and getattr(row, _column(type(row), column)) == value


def place_in_scope(user: CurrentUser, row: Any) -> None:
    """Give a row a non-operator creates the user's own scope, whatever was submitted."""
    scope = _scope_column(user)
    if scope is None:
        return
    column, value = scope
    if (type(row), column) in OWN_ID_COLUMNS:
        raise ValueError("Создавать такие записи может только оператор.")
    setattr(row, column, value)


def _column(model: Any, column: str) -> str:
    return OWN_ID_COLUMNS.get((model, column), column)
