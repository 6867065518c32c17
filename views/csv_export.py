"""CSV for a Russian Excel: UTF-8 with BOM, `;` between cells, formulas neutralised.

SQLAdmin's own CSV is UTF-8 without BOM, comma-separated, writes `=…` cells
verbatim and drops Cyrillic from the file name, so the views that export use this.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from admin_app.cells import safe_cell
from admin_app.dates import CENTRE_TIMEZONE

Column = tuple[str, Callable[[Any], Any]]


def csv_response(rows: Iterable[Any], columns: Sequence[Column], title: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([label for label, _ in columns])
    for row in rows:
        writer.writerow([safe_cell(value(row)) for _, value in columns])
    stamp = datetime.now(CENTRE_TIMEZONE).strftime("%Y-%m-%d_%H-%M")
    russian_name = f"{title}_{stamp}.csv"
    headers = {
        "Content-Disposition": f"attachment; filename=\"export_{stamp}.csv\"; filename*=UTF-8''{quote(russian_name)}"
    }
    return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
