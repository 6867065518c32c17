"""The cross-site guard: state-changing requests from another site are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Municipality
from tests.conftest import csrf_from

NEW_MUNICIPALITY = {"name": "Новый район", "kind": "municipal_district", "save": "Save"}


def _municipality_names(session_factory) -> set[str]:
    with session_factory() as session:
        return set(session.scalars(select(Municipality.name)))


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
    ],
)
def test_cross_site_create_is_refused_and_writes_nothing(operator_client, session_factory, headers) -> None:
    response = operator_client.post("/admin/municipality/create", data=NEW_MUNICIPALITY, headers=headers)
    assert response.status_code == 403
    assert "другого сайта" in response.text
    assert "Новый район" not in _municipality_names(session_factory)


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://127.0.0.1:8000"}, {}],
)
def test_same_origin_create_passes(operator_client, session_factory, headers) -> None:
    token = csrf_from(operator_client.get("/admin/municipality/create").text)
    data = {**NEW_MUNICIPALITY, "csrf_token": token}
    response = operator_client.post("/admin/municipality/create", data=data, headers=headers)
    assert response.status_code == 302
    assert "Новый район" in _municipality_names(session_factory)


def test_panel_form_without_the_token_is_refused_and_keeps_what_was_typed(operator_client, session_factory) -> None:
    response = operator_client.post("/admin/municipality/create", data={**NEW_MUNICIPALITY, "csrf_token": "forged"})
    assert response.status_code == 400
    assert "Форма устарела" in response.text
    assert 'value="Новый район"' in response.text
    assert "Новый район" not in _municipality_names(session_factory)


def test_cross_site_login_post_is_refused(client) -> None:
    response = client.post(
        "/admin/login", data={"username": "a", "password": "b"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/admin/user/action/anything?pks=1", "/admin/logout"])
def test_cross_site_get_to_actions_and_logout_is_refused(operator_client, path) -> None:
    assert operator_client.get(path, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert operator_client.get("/admin/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_cross_site_logout_post_is_refused(operator_client) -> None:
    token = csrf_from(operator_client.get("/admin/").text)
    response = operator_client.post(
        "/admin/logout", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert operator_client.get("/admin/").status_code == 200


def test_cross_site_delete_is_refused(operator_client, session_factory) -> None:
    with session_factory() as session:
        pk = session.scalar(select(Municipality.id).limit(1))
    response = operator_client.delete(
        f"/admin/municipality/delete?pks={pk}", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
