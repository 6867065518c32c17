"""Checklist 28, output escaping everywhere: a name that is HTML is shown as text on the panel's pages and
in the audit trail, never run. Jinja2 escapes our templates and SQLAdmin's; the column formatters that
return Markup («Да»/«Нет») never pass a value through."""

from __future__ import annotations

import pytest

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def hostile_user(make_user, operator_client) -> int:
    return make_user("hostile", role="operator", full_name=HOSTILE).id


@pytest.mark.parametrize("page", ["/admin/user/list", "/admin/user/details/{id}", "/admin/user/edit/{id}"])
def test_output_escaping_of_a_hostile_name_in_the_panel(operator_client, hostile_user: int, page: str) -> None:
    response = operator_client.get(page.format(id=hostile_user))
    assert response.status_code == 200
    assert HOSTILE not in response.text
    assert ESCAPED in response.text
