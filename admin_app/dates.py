"""Dates as users read them: Russian, in the centre's own time (Tomsk, UTC+7).

The database keeps UTC; only what is shown is converted.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

CENTRE_TIMEZONE = ZoneInfo("Asia/Tomsk")


def format_datetime(value: datetime) -> str:
    return value.astimezone(CENTRE_TIMEZONE).strftime("%d.%m.%Y %H:%M")


def format_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def format_bool(value: bool) -> Markup:
    return Markup("Да") if value else Markup("Нет")
