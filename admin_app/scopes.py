"""Row scope: which rows of a scoped table a user may see — the one place this rule lives.

operator: every row; municipal coordinator: rows of their municipality;
organization coordinator: rows of their organization; expert: rows assigned to
them (none of the current tables yet). A model is scoped through its
`municipality_id` and `organization_id` columns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false

from admin_app.auth import CurrentUser
from models import RoleCode


def scope_clause(user: CurrentUser, model: Any) -> ColumnElement[bool] | None:
    """A WHERE clause limiting `model` to the user's rows; None when the user sees everything."""
    if user.role is RoleCode.OPERATOR:
        return None
    if user.role is RoleCode.MUNICIPAL_COORDINATOR and user.municipality_id is not None:
        return model.municipality_id == user.municipality_id
    if user.role is RoleCode.ORGANIZATION_COORDINATOR and user.organization_id is not None:
        return model.organization_id == user.organization_id
    return false()


def in_scope(user: CurrentUser, row: Any) -> bool:
    """The same rule for a loaded row."""
    if user.role is RoleCode.OPERATOR:
        return True
    if user.role is RoleCode.MUNICIPAL_COORDINATOR and user.municipality_id is not None:
        return row.municipality_id == user.municipality_id
    if user.role is RoleCode.ORGANIZATION_COORDINATOR and user.organization_id is not None:
        return row.organization_id == user.organization_id
    return False
