"""A model view whose rows are limited to the user's scope (admin_app.scopes) on every path
SQLAdmin loads rows by: list, count and export (list_query), details, edit and delete
pre-checks and file routes (details_query + check_can_*), and the edit form (form_edit_query).
An out-of-scope row is simply not found: 404, never a hint that it exists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from starlette.exceptions import HTTPException
from starlette.requests import Request

from admin_app.scopes import in_scope, scope_clause
from views.base import PanelView


class ScopedView(PanelView):
    def _scoped(self, stmt: Select, request: Request) -> Select:
        clause = scope_clause(request.state.user, self.model)
        return stmt if clause is None else stmt.where(clause)

    def list_query(self, request: Request) -> Select:
        return self._scoped(super().list_query(request), request)

    def details_query(self, request: Request) -> Select:
        return self._scoped(super().details_query(request), request)

    def form_edit_query(self, request: Request) -> Select:
        return self._scoped(super().form_edit_query(request), request)

    async def check_can_view_details(self, request: Request, obj: Any) -> bool:
        return self.can_view_details and _found_in_scope(request, obj)

    async def check_can_edit(self, request: Request, obj: Any) -> bool:
        return self.can_edit and _found_in_scope(request, obj)

    async def check_can_delete(self, request: Request, obj: Any) -> bool:
        return self.can_delete and _found_in_scope(request, obj)


def _found_in_scope(request: Request, obj: Any) -> bool:
    """SQLAdmin passes None when the scoped query found nothing; that is a 404, like any missing row."""
    if obj is None or not in_scope(request.state.user, obj):
        raise HTTPException(status_code=404)
    return True
