"""A NUL character (PostgreSQL refuses it in text) in a search box or a form field of the panel or the public
pages: a Russian 400 page and nothing written, on either backend (admin_app.db.NulCharacter)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from admin_app.db import NUL_MESSAGE
from models import Municipality
from tests.conftest import csrf_from

LISTS = ("user", "invitation", "application", "organization", "municipality", "audit-event")


@pytest.mark.parametrize("identity", LISTS)
def test_a_nul_in_a_list_search_gets_a_russian_400(operator_client: TestClient, identity: str) -> None:
    response = operator_client.get(f"/admin/{identity}/list", params={"search": "ив\x00ан"})
    assert response.status_code == 400
    assert NUL_MESSAGE in response.text


def test_a_nul_in_a_panel_form_gets_a_russian_400_and_writes_nothing(operator_client, session_factory) -> None:
    with session_factory() as session:
        before = session.scalar(select(func.count()).select_from(Municipality))
    token = csrf_from(operator_client.get("/admin/municipality/create").text)
    response = operator_client.post(
        "/admin/municipality/create", data={"name": "Новый\x00район", "kind": "municipal_district", "csrf_token": token}
    )
    assert response.status_code == 400
    assert NUL_MESSAGE in response.text
    assert 'value="Новый' in response.text  # the form again, as typed
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Municipality)) == before
