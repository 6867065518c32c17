"""The figures of the cabinet home page (/admin/), in the viewer's scope.

SQLAdmin renders its index without a context of its own; the template calls
`cabinet_figures(request)` (an async template global) instead.
"""

from __future__ import annotations

from datetime import timedelta

import anyio.to_thread
from sqlalchemy import func, select
from starlette.requests import Request

from admin_app.applications import CLOSED, DUE_SOON_DAYS, centre_today
from admin_app.invitations import InvitationStatus, status_clause
from admin_app.scopes import scope_clause
from models import Application, ApplicationStatus, Invitation, utcnow


async def cabinet_figures(request: Request) -> dict[str, int]:
    return await anyio.to_thread.run_sync(_figures, request)


def _figures(request: Request) -> dict[str, int]:
    user, now = request.state.user, utcnow()
    today = centre_today(now)
    open_ = Application.status.not_in(list(CLOSED))

    def count(model: type, *conditions: object) -> int:
        clause = scope_clause(user, model)
        query = select(func.count()).select_from(model).where(*conditions)
        return session.scalar(query if clause is None else query.where(clause)) or 0

    with request.app.state.session_factory() as session:
        return {
            "new": count(Application, Application.status == ApplicationStatus.NEW),
            "overdue": count(Application, open_, Application.deadline < today),
            "due_soon": count(
                Application,
                open_,
                Application.deadline >= today,
                Application.deadline <= today + timedelta(days=DUE_SOON_DAYS),
            ),
            "awaiting_registration": count(Invitation, status_clause(InvitationStatus.PENDING, now)),
        }
