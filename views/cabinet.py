"""The figures of the cabinet home page (/admin/), in the viewer's scope.

SQLAdmin renders its index without a context of its own; the template calls
`cabinet_figures(request)` (an async template global) instead.
"""

from __future__ import annotations

import anyio.to_thread
from sqlalchemy import select
from starlette.requests import Request

from admin_app.applications import DUE_SOON, OVERDUE, centre_today, deadline_clause
from admin_app.invitations import InvitationStatus, status_clause
from admin_app.scopes import scope_clause
from models import Application, ApplicationStatus, Invitation, utcnow
from views.paging import capped, limited_count


async def cabinet_figures(request: Request) -> dict[str, int]:
    return await anyio.to_thread.run_sync(_figures, request)


def _figures(request: Request) -> dict[str, int]:
    user, now = request.state.user, utcnow()
    today = centre_today(now)

    def count(model: type, *conditions: object) -> int:
        """Capped like the lists' counts (views.paging): «более чем 10 000» past it, never a whole-table scan."""
        clause = scope_clause(user, model)
        rows = select(model.id).where(*conditions)
        return capped(session.scalar(limited_count(rows if clause is None else rows.where(clause))) or 0)

    with request.app.state.session_factory.begin() as session:  # a COMMIT keeps psycopg's prepared statements
        return {
            "new": count(Application, Application.status == ApplicationStatus.NEW),
            "overdue": count(Application, deadline_clause(OVERDUE, today)),
            "due_soon": count(Application, deadline_clause(DUE_SOON, today)),
            "awaiting_registration": count(Invitation, status_clause(InvitationStatus.PENDING, now)),
        }
