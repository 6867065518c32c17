"""GET /healthz answers for the database."""

from __future__ import annotations

from starlette.testclient import TestClient

from admin_app.app import create_app
from settings import load_settings
from tests.conftest import BASE_URL, csrf_from, env_for


def test_healthz_is_200_when_the_database_answers(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_healthz_is_503_when_the_database_does_not(tmp_path) -> None:
    settings = load_settings(env_for("postgresql://nobody@127.0.0.1:1/none", tmp_path))
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "недоступна"


def test_root_is_the_landing_page_leading_to_the_login(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Аттестация педагогических работников" in response.text
    assert 'href="/admin/login">Войти</a>' in response.text


def test_unknown_page_is_a_russian_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Страница не найдена." in response.text


def test_failure_inside_gives_a_russian_500_without_traceback(tmp_path) -> None:
    settings = load_settings(env_for("postgresql://nobody@127.0.0.1:1/none", tmp_path))
    with TestClient(create_app(settings), base_url=BASE_URL, raise_server_exceptions=False) as client:
        token = csrf_from(client.get("/admin/login").text)
        response = client.post("/admin/login", data={"username": "olesya", "password": "x", "csrf_token": token})
    assert response.status_code == 500
    assert "Внутренняя ошибка сервера" in response.text
    assert "Traceback" not in response.text and "psycopg" not in response.text
