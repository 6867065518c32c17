"""List filters with Russian labels (SQLAdmin's own say «All», «Yes», «No»)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, select
from starlette.requests import Request

from admin_app.scopes import scope_clause
from models import is_row_id

ALL = "__all"
WITHIN_LIMIT = 100  # choices listed before a narrowing filter must be chosen first (RowChoiceFilter.within)
CHOOSE_WITHIN_FIRST = "Все (чтобы выбрать одну, сначала выберите муниципалитет)"


class ChoiceFilter:
    """A filter offering fixed choices; `apply(query, value)` narrows the query for one of them."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"

    def __init__(
        self,
        title: str,
        parameter_name: str,
        choices: Sequence[tuple[str, str]],
        apply: Callable[[Select, str], Select],
    ) -> None:
        self.title = title
        self.parameter_name = parameter_name
        self.choices = list(choices)
        self.apply = apply

    async def lookups(self, request: Request, model: Any, run_query: Callable[[Select], Any]) -> list[tuple[str, str]]:
        return [(ALL, "Все"), *self.choices]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        if value not in dict(self.choices):
            return query
        return self.apply(query, value)


class RowChoiceFilter:
    """A filter whose choices are the rows of a table (municipalities, organizations) in the user's scope.

    With `within` (another filter's parameter and the column it narrows), a long list — a region's 2,000
    organizations, each a link on every page of the list — is offered only once that filter is chosen:
    until then the choices are those of the user's scope if few, else a hint to choose it first.
    """

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"

    def __init__(
        self, title: str, parameter_name: str, choices_model: Any, column: Any, within: tuple[str, Any] | None = None
    ) -> None:
        self.title = title
        self.parameter_name = parameter_name
        self.choices_model = choices_model
        self.column = column
        self.within = within

    async def lookups(self, request: Request, model: Any, run_query: Callable[[Select], Any]) -> list[tuple[str, str]]:
        stmt = select(self.choices_model.id, self.choices_model.name).order_by(self.choices_model.name)
        clause = scope_clause(request.state.user, self.choices_model)
        if clause is not None:
            stmt = stmt.where(clause)
        if self.within is not None:
            parameter, parent_column = self.within
            parent = request.query_params.get(parameter, "")
            if is_row_id(parent):
                stmt = stmt.where(parent_column == int(parent))
            rows = await run_query(stmt.limit(WITHIN_LIMIT + 1))
            if len(rows) > WITHIN_LIMIT:
                return [(ALL, CHOOSE_WITHIN_FIRST)]
        else:
            rows = await run_query(stmt)
        return [(ALL, "Все"), *((str(row.id), row.name) for row in rows)]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        return query.where(self.column == int(value)) if is_row_id(str(value)) else query
