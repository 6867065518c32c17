"""A model view whose rows are limited to the user's scope (admin_app.scopes) on every path
SQLAdmin loads rows by: list, count and export (list_query), details, edit and delete
pre-checks and file routes (details_query + check_can_*), and the edit form (form_edit_query).
An out-of-scope row is simply not found: 404, never a hint that it exists.

The form fields that place a row in a scope (`scope_fields`) exist only for operators:
for anyone else they are removed from the form, dropped from what is saved, and a new
row gets the user's own scope."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from wtforms import Form

from admin_app.request_context import current_request
from admin_app.scopes import in_scope, place_in_scope, scope_clause
from views.base import PanelView


class ScopedView(PanelView):
    scope_fields: ClassVar[tuple[str, ...]] = ()

    def scope_filter(self, request: Request) -> ColumnElement[bool] | None:
        """The WHERE clause of the user's rows; a view may narrow it further."""
        return scope_clause(request.state.user, self.model)

    def _scoped(self, stmt: Select, request: Request) -> Select:
        clause = self.scope_filter(request)
        return stmt if clause is None else stmt.where(clause)

    def list_query(self, request: Request) -> Select:
        return self._scoped(super().list_query(request), request)

    def details_query(self, request: Request) -> Select:
        return self._scoped(super().details_query(request), request)

    def form_edit_query(self, request: Request) -> Select:
        return self._scoped(super().form_edit_query(request), request)

    async def check_can_view_details(self, request: Request, obj: Any) -> bool:
        return await super().check_can_view_details(request, obj) and _found_in_scope(request, obj)

    async def check_can_edit(self, request: Request, obj: Any) -> bool:
        return await super().check_can_edit(request, obj) and _found_in_scope(request, obj)

    async def check_can_delete(self, request: Request, obj: Any) -> bool:
        return await super().check_can_delete(request, obj) and _found_in_scope(request, obj)

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        form = await super().scaffold_form(rules)
        if current_request.get().state.user.is_operator or not self.scope_fields:
            return form
        # A None attribute removes an inherited WTForms field: it is neither shown nor accepted.
        return type(form.__name__, (form,), dict.fromkeys(self.scope_fields))

    async def on_model_change(self, data: dict[str, Any], model: Any, is_created: bool, request: Request) -> None:
        await super().on_model_change(data, model, is_created, request)
        user = request.state.user
        if user.is_operator:
            return
        for name in self.scope_fields:
            data.pop(name, None)
        if is_created:
            place_in_scope(user, model)


def _found_in_scope(request: Request, obj: Any) -> bool:
    """SQLAdmin passes None when the scoped query found nothing; that is a 404, like any missing row."""
    if obj is None or not in_scope(request.state.user, obj):
        raise HTTPException(status_code=404)
    return True
