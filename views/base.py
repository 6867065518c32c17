"""What every model view of the panel shares: Russian forms, dates and yes/no."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqladmin import ModelView
from sqladmin._types import BASE_FORMATTERS_TYPE
from sqladmin.formatters import BASE_FORMATTERS
from starlette.requests import Request
from wtforms import Form

from admin_app.csrf import SessionTokenCSRF
from admin_app.dates import format_bool, format_date, format_datetime

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
