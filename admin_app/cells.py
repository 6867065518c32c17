"""Spreadsheet cells that cannot run: text that a spreadsheet would take for a formula is quoted.

Exports (CSV) and generated workbooks (XLSX) both write what users typed; a
teacher named «=HYPERLINK(…)» must stay text in Excel and LibreOffice.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
