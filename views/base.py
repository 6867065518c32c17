"""What every model view of the panel shares: Russian forms, dates and yes/no, and row ids checked before use."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqladmin import ModelView
from sqladmin._types import BASE_FORMATTERS_TYPE
from sqladmin.formatters import BASE_FORMATTERS
from sqlalchemy import Select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from wtforms import Form

from admin_app.csrf import SessionTokenCSRF
from admin_app.dates import format_bool, format_date, format_datetime
from models import is_row_id

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

    async def on_model_change(self, data: dict[str, Any], model: Any, is_created: bool, request: Request) -> None:
        data.pop("csrf_token", None)

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
