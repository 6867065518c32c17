"""What the invitation forms (one address or a list) offer to choose: municipalities and organizations
within the inviter's scope, and reading back a chosen id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request

from admin_app.auth import CurrentUser
from models import Municipality, Organization, RoleCode, is_row_id


def chosen_id(value: str) -> int | None:
    """A submitted id; anything that cannot be a row's id counts as not chosen."""
    return int(value) if is_row_id(value) else None


def invitee_choices(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Municipalities an operator may pick, or the coordinator's own; organizations grouped by municipality."""
    with request.app.state.session_factory() as session:
        municipalities = select(Municipality.id, Municipality.name).order_by(Municipality.name)
        organizations = select(Organization.id, Organization.name, Organization.municipality_id).order_by(
            Organization.name
        )
        if user.role is not RoleCode.OPERATOR:
            municipalities = municipalities.where(Municipality.id == user.municipality_id)
            organizations = organizations.where(Organization.municipality_id == user.municipality_id)
        municipality_rows = session.execute(municipalities).all()
        names = dict(municipality_rows)
        grouped: dict[str, list[tuple[int, str]]] = {}
        for row in session.execute(organizations):
            grouped.setdefault(names.get(row.municipality_id, ""), []).append((row.id, row.name))
    return {
        "municipalities": municipality_rows,
        "organizations": sorted(grouped.items()),
        "fixed_municipality": None if user.role is RoleCode.OPERATOR else names.get(user.municipality_id, ""),
    }
