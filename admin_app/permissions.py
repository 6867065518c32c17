"""Who may do what in the panel: one table, role → set of (view identity, action).

SQLAdmin's grants backend reads it for every menu entry and every route
(`has_permission`); "*" is its wildcard. Row scopes come with issue 4; until
then only operators reach the model views and coordinators see the cabinet only.
"""

from __future__ import annotations

from sqladmin.authorization import WILDCARD, GrantsAuthorizationBackend
from starlette.requests import Request

from models import RoleCode

Grant = tuple[str, str]

GRANTS: dict[RoleCode, frozenset[Grant]] = {
    RoleCode.OPERATOR: frozenset({(WILDCARD, WILDCARD)}),
    RoleCode.MUNICIPAL_COORDINATOR: frozenset(),
    RoleCode.ORGANIZATION_COORDINATOR: frozenset(),
    RoleCode.EXPERT: frozenset(),
}


class RoleGrants(GrantsAuthorizationBackend):
    async def get_grants(self, request: Request) -> set[Grant]:
        user = getattr(request.state, "user", None)
        return set(GRANTS[user.role]) if user is not None else set()
