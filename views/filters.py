"""List filters with Russian labels (SQLAdmin's own say «All», «Yes», «No»)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select
from starlette.requests import Request

ALL = "__all"


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
