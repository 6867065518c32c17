"""What every model view of the panel shares: Russian forms, dates and yes/no, row ids checked before use,
a capped row count on the list pages (views.paging), and the list's reads kept cheap for the database
(related rows joined, prepared statements kept)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from sqladmin import ModelView
from sqladmin._types import BASE_FORMATTERS_TYPE
from sqladmin.formatters import BASE_FORMATTERS
from sqladmin.helpers import get_object_identifier
from sqlalchemy import ClauseElement, Result, Select
from sqlalchemy.orm import joinedload
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.requests import Request
from wtforms import Form

from admin_app.csrf import SessionTokenCSRF
from admin_app.dates import format_bool, format_date, format_datetime
from models import is_row_id
from views.paging import capped, capped_count_statement, count_cap

ROW_ID_SLOT = "__row_id__"

RUSSIAN_FORMATTERS: BASE_FORMATTERS_TYPE = {
    **BASE_FORMATTERS,
    datetime: format_datetime,
    date: format_date,
    bool: format_bool,
}


class RussianForm(Form):
    """WTForms messages («Обязательное поле.») in Russian, and the session's CSRF token."""

    class Meta:
        locales: ClassVar[list[str]] = ["ru"]
        csrf = True
        csrf_class = SessionTokenCSRF


class PanelView(ModelView):
    """Abstract base of the panel's model views (no `model=`, so SQLAdmin skips it)."""

    form_base_class = RussianForm
    column_type_formatters = RUSSIAN_FORMATTERS
    page_size = 25
    # SQLAdmin's CSV export writes formulas verbatim and drops Cyrillic from file
    # names; it stays off until an export that handles both is built.
    can_export = False

    def __init__(self) -> None:
        """SQLAdmin loads each related column of a list with a query of its own (`selectinload`): five
        round trips and five ORM passes for the invitations list. A related row that is one per row
        (role, municipality, inviter) comes joined to the list's own query instead (`list_query`);
        collections stay with SQLAdmin, since a join would multiply the rows LIMIT counts."""
        super().__init__()
        self._joined_list_relations = [r for r in self._list_relations if not r.property.uselist]
        self._list_relations = [r for r in self._list_relations if r.property.uselist]

    def list_query(self, request: Request) -> Select:
        return super().list_query(request).options(*(joinedload(r) for r in self._joined_list_relations))

    async def on_model_change(self, data: dict[str, Any], model: Any, is_created: bool, request: Request) -> None:
        data.pop("csrf_token", None)

    async def count(self, request: Request, stmt: Select | None = None) -> int:
        """The list's row count, capped (views.paging): a page view never scans the whole table."""
        page_size = min(
            self.validate_page_number(request.query_params.get("pageSize"), self.page_size), max(self.page_size_options)
        )
        cap = count_cap(self.validate_page_number(request.query_params.get("page"), 1), page_size)
        capped_stmt = None if stmt is None else capped_count_statement(stmt, cap)
        if capped_stmt is None:
            return await super().count(request, stmt)
        return capped(await super().count(request, capped_stmt), cap)

    def _run_query_sync(self, stmt: ClauseElement) -> Any:
        return self._read(stmt, lambda result: result.scalars().unique().all())

    def _run_arbitrary_query_sync(self, stmt: ClauseElement) -> Any:
        return self._read(stmt, lambda result: result.all())

    def _read(self, stmt: ClauseElement, rows: Callable[[Result[Any]], Any]) -> Any:
        """SQLAdmin's reads (a list, its count, a row, a filter's choices), as in SQLAdmin but ended with COMMIT
        instead of the ROLLBACK of closing the session: psycopg forgets its prepared statements on every
        rollback, so PostgreSQL would parse and plan each query of a list on every page view (3 of the 5 ms
        of the invitations list's query with its joins). A read commits nothing either way."""
        with self.session_maker(expire_on_commit=False) as session:
            found = rows(session.execute(stmt))
            session.commit()
            return found

    def _build_url_for(self, name: str, request: Request, obj: Any) -> URL:
        """SQLAdmin's row links (details, edit) on every row of a list: Starlette's `url_for` searches the
        routes each time, a few hundred times a page; here once per request and kind, then the id is put in."""
        templates = request.scope.setdefault("row_url_templates", {})
        key = (name, type(obj))
        if key not in templates:
            templates[key] = str(request.url_for(name, identity=self._identity_for_object(obj), pk=ROW_ID_SLOT))
        return URL(templates[key].replace(ROW_ID_SLOT, quote(str(get_object_identifier(obj)), safe="")))

    def details_query(self, request: Request) -> Select:
        _require_row_id(request.path_params["pk"])
        return super().details_query(request)

    def form_edit_query(self, request: Request) -> Select:
        _require_row_id(request.path_params["pk"])
        return super().form_edit_query(request)


def _require_row_id(pk: str) -> None:
    """Every table has an integer id: anything else (abc, -1, 1,2, 2**31) is a row that does not exist."""
    if not is_row_id(pk):
        raise HTTPException(status_code=404)
