"""Who may do what in the panel: one table, role → set of (view identity, action).

SQLAdmin's grants backend reads it for every menu entry and every route
(`has_permission`); "*" is its wildcard. Which rows a role sees within a view
is admin_app.scopes.
"""

from __future__ import annotations

from sqladmin.authorization import WILDCARD, GrantsAuthorizationBackend
from starlette.requests import Request

from models import RoleCode

Grant = tuple[str, str]

GRANTS: dict[RoleCode, frozenset[Grant]] = {
    RoleCode.OPERATOR: frozenset({(WILDCARD, WILDCARD)}),
    RoleCode.MUNICIPAL_COORDINATOR: frozenset(
        {
            ("mailing", "list"),
            ("invitation", "list"),
            ("invitation", "details"),
            ("invitation", "export"),
            ("invitation", "action:resend"),
            ("invitation", "action:revoke"),
            ("organization", "list"),
            ("organization", "details"),
            ("organization", "create"),
            ("organization", "edit"),
            ("user", "list"),
            ("user", "details"),
            ("user", "edit"),
            ("user", "action:deactivate"),
            ("user", "action:activate"),
            ("application", "list"),
            ("application", "details"),
            ("application", "export"),
            ("profile", "list"),
        }
    ),
    RoleCode.ORGANIZATION_COORDINATOR: frozenset(
        {("application", "list"), ("application", "details"), ("profile", "list")}
    ),
    RoleCode.EXPERT: frozenset({("application", "list"), ("application", "details"), ("profile", "list")}),
}


class RoleGrants(GrantsAuthorizationBackend):
    async def get_grants(self, request: Request) -> set[Grant]:
        user = getattr(request.state, "user", None)
        return set(GRANTS[user.role]) if user is not None else set()
