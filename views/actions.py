"""What the panel's list actions (SQLAdmin's @action: GET /admin/<view>/action/<slug>?pks=…) share:
reading the selected ids and going back to the page the action was started from."""

from __future__ import annotations

from starlette.requests import Request

from models import is_row_id


def selected_ids(request: Request) -> tuple[set[int], int]:
    """The row ids in `pks` (comma-separated, possibly empty), and how many of its items can be no row's id."""
    items = [item.strip() for item in request.query_params.get("pks", "").split(",") if item.strip()]
    ids = {int(item) for item in items if is_row_id(item)}
    return ids, sum(not is_row_id(item) for item in items)


def back_to(request: Request, identity: str) -> str:
    """The panel page the action was started from (a list with its filters, or details), else the view's list."""
    referer = request.headers.get("referer", "")
    if referer.startswith(str(request.url_for("admin:index"))) and "/action/" not in referer:
        return referer
    return str(request.url_for("admin:list", identity=identity))
