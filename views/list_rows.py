"""The rows of a list page, rendered in Python: the same markup as SQLAdmin 0.32's `list.html` row loop.

Why not SQLAdmin's loop: its template environment is async, and every expression of every cell goes
through Jinja's await machinery; a page of 50 rows spent most of its 30–70 ms there (docs/performance.md).
This builds the same HTML — the row's id and checkbox that «Действия» read, the «Просмотр» and
«Изменить» links, each cell with SQLAdmin's formatters and its links to related rows — escaping every
value. admin_app.template_patches hands the loop's place in `list.html` to `list_rows_html`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape
from sqladmin import ModelView
from sqladmin.helpers import get_object_identifier
from starlette.requests import Request

# SQLAdmin's `ru` catalog for the loop's texts.
SELECT_ITEM = "Выбрать элемент"
VIEW = "Просмотр"
EDIT = "Изменить"
DELETE = "Удалить"


async def list_rows_html(view: ModelView, request: Request, rows: Iterable[Any]) -> Markup:
    """The `<tr>` of each row, as SQLAdmin's `list.html` would render them."""
    query = f"?{request.url.query}" if request.url.query else ""
    parts: list[str] = []
    for row in rows:
        parts.append("<tr>")
        parts.append(_select_cell(row))
        parts.append(await _actions_cell(view, request, row, query))
        for name in view._list_prop_names:
            parts.append(await _value_cell(view, request, row, name))
        parts.append("</tr>")
    return Markup("".join(parts))


def _select_cell(row: Any) -> str:
    pk = escape(get_object_identifier(row))
    return (
        f'<td><input type="hidden" value="{pk}">'
        f'<input class="form-check-input m-0 align-middle select-box" type="checkbox" aria-label="{SELECT_ITEM}"></td>'
    )


async def _actions_cell(view: ModelView, request: Request, row: Any, query: str) -> str:
    links = []
    if await view.check_can_view_details(request, row):
        links.append(_icon_link(view._build_url_for("admin:details", request, row), VIEW, "fa-eye"))
    if await view.check_can_edit(request, row):
        links.append(_icon_link(f"{view._build_url_for('admin:edit', request, row)}{query}", EDIT, "fa-pen-to-square"))
    if await view.check_can_delete(request, row):
        links.append(
            f'<a href="#" data-name="{escape(view.name)}" data-pk="{escape(get_object_identifier(row))}" '
            f'data-url="{escape(view._url_for_delete(request, row))}" data-bs-toggle="modal" '
            f'data-bs-target="#modal-delete"><span data-bs-toggle="tooltip" data-bs-placement="top" '
            f'title="{DELETE}"><span class="me-1"><i class="fa-solid fa-trash"></i></span></span></a>'
        )
    return f'<td class="text-end">{"".join(links)}</td>'


def _icon_link(url: object, title: str, icon: str) -> str:
    return (
        f'<a href="{escape(str(url))}" data-bs-toggle="tooltip" data-bs-placement="top" title="{title}">'
        f'<span class="me-1"><i class="fa-solid {icon}"></i></span></a>'
    )


async def _value_cell(view: ModelView, request: Request, row: Any, name: str) -> str:
    value, formatted = await view.get_list_value(row, name, request)
    if name not in view._relation_names:
        return f"<td>{escape(formatted)}</td>"
    as_link = name not in view._non_link_related_fields
    if isinstance(value, (list, set)):
        pairs = zip(value, formatted, strict=True)
        return f"<td>{''.join(_related(view, request, elem, text, as_link) for elem, text in pairs)}</td>"
    if not as_link or value is None:  # no related object: no empty link (it would have no name)
        return f"<td>{escape(formatted)}</td>"
    url = view._url_for_details_with_prop(request, row, name)
    return f'<td><a href="{escape(str(url))}">{escape(formatted)}</a></td>'


def _related(view: ModelView, request: Request, elem: Any, text: Any, as_link: bool) -> str:
    shown = f"({escape(text)})" if view.show_compact_lists else f"{escape(text)}"
    if not as_link:
        return shown if view.show_compact_lists else f"{shown}<br />"
    link = f'<a href="{escape(str(view._build_url_for("admin:details", request, elem)))}">{shown}</a>'
    return link if view.show_compact_lists else f"{link}<br />"
