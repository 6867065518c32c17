"""Logging in to the panel, as a user with a browser would (through the HTTP client)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from admin_app.auth import BAD_CREDENTIALS, SESSION_COOKIE
from admin_app.passwords import hash_password
from models import User
from tests.conftest import PASSWORD, csrf_from, log_in, log_out


def test_login_page_is_shaped_like_the_old_system(client) -> None:
    page = client.get("/admin/login")
    assert page.status_code == 200
    for text in ("Войти", "Используйте учетную запись для входа.", "Имя пользователя", "Пароль", "Запомнить меня"):
        assert text in page.text
    assert "© " in page.text and "ТОИПКРО" in page.text
    assert 'name="username"' in page.text and 'name="remember"' in page.text
    assert '<html lang="ru">' in page.text


def test_operator_logs_in_and_sees_the_russian_panel(client, make_user) -> None:
    make_user("olesya")
    response = log_in(client, "olesya")
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/")
    panel = client.get("/admin/")
    assert panel.status_code == 200
    for item in ("Пользователи", "Приглашения", "Муниципалитеты", "Образовательные организации", "Роли", "Выход"):
        assert item in panel.text


def test_login_ignores_case_of_the_login(client, make_user) -> None:
    make_user("Olesya")
    assert log_in(client, "oLESYA").status_code == 302


@pytest.mark.parametrize(
    ("username", "password"), [("olesya", "неверный-пароль"), ("nobody", PASSWORD), ("", PASSWORD)]
)
def test_bad_credentials_get_one_russian_answer_and_keep_the_login(client, make_user, username, password) -> None:
    make_user("olesya")
    response = log_in(client, username, password)
    assert response.status_code == 400
    assert BAD_CREDENTIALS in response.text
    assert f'value="{username}"' in response.text
    assert "Invalid" not in response.text
    assert client.get("/admin/").status_code == 302


def test_unknown_login_and_wrong_password_are_indistinguishable(client, make_user) -> None:
    make_user("olesya")
    unknown = log_in(client, "nobody", "неверный-пароль").text.replace("nobody", "LOGIN")
    wrong = log_in(client, "olesya", "неверный-пароль").text.replace("olesya", "LOGIN")
    assert csrf_from(unknown) != "" and csrf_from(wrong) != ""
    assert unknown.replace(csrf_from(unknown), "T") == wrong.replace(csrf_from(wrong), "T")


def test_inactive_user_is_refused_with_the_same_message(client, make_user, session_factory) -> None:
    user = make_user("olesya")
    with session_factory.begin() as session:
        session.get(User, user.id).is_active = False
    response = log_in(client, "olesya")
    assert response.status_code == 400
    assert BAD_CREDENTIALS in response.text


@pytest.mark.parametrize(
    "password",
    [
        "ж" * 100,  # 200 bytes: far beyond bcrypt's 72
        "пароль на русском языке",
        "x" * 73,
        "a" * 72 + "b",  # differs from the next only after byte 72
    ],
)
def test_long_and_cyrillic_passwords_work(client, make_user, password) -> None:
    make_user("olesya", password=password)
    assert log_in(client, "olesya", "a" * 72 + "c").status_code == 400
    assert log_in(client, "olesya", password).status_code == 302


def test_huge_password_is_a_plain_refusal(client, make_user) -> None:
    make_user("olesya")
    response = log_in(client, "olesya", "я" * 10_000)
    assert response.status_code == 400
    assert BAD_CREDENTIALS in response.text


def test_login_without_the_form_token_is_refused_in_russian(client, make_user) -> None:
    make_user("olesya")
    response = client.post("/admin/login", data={"username": "olesya", "password": PASSWORD})
    assert response.status_code == 400
    assert "Страница входа устарела" in response.text
    assert 'value="olesya"' in response.text


def test_session_cookie_is_our_own_httponly_strict_and_ends_with_the_browser(client, make_user) -> None:
    make_user("olesya")
    cookie = log_in(client, "olesya").headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "max-age" not in cookie.lower()
    assert "secure" not in cookie.lower()


def test_remember_me_keeps_the_cookie_for_days(client, make_user) -> None:
    make_user("olesya")
    cookie = log_in(client, "olesya", remember="on").headers["set-cookie"].lower()
    assert f"max-age={14 * 86400}" in cookie


def test_cookie_is_secure_when_base_url_is_https(database_url, tmp_path, make_user) -> None:
    from starlette.testclient import TestClient

    from admin_app.app import create_app
    from settings import load_settings
    from tests.conftest import env_for

    settings = load_settings(env_for(database_url, tmp_path, BASE_URL="https://attestation.example.ru"))
    with TestClient(create_app(settings), base_url="https://attestation.example.ru", follow_redirects=False) as client:
        login_page = client.get("/admin/login")
        assert "; secure" in login_page.headers["set-cookie"].lower()
        make_user("olesya")
        token = csrf_from(login_page.text)
        response = client.post("/admin/login", data={"username": "olesya", "password": PASSWORD, "csrf_token": token})
        assert "; secure" in response.headers["set-cookie"].lower()


def test_logout_ends_the_session(client, make_user) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    assert client.get("/admin/").status_code == 200
    response = log_out(client)
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")
    assert client.get("/admin/").status_code == 302


def test_logout_is_a_post_with_the_form_token(client, make_user) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    assert client.get("/admin/logout").status_code == 405
    assert client.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert 'action="http://127.0.0.1:8000/admin/logout"' in client.get("/admin/").text


def test_password_change_ends_older_sessions(client, make_user, session_factory) -> None:
    user = make_user("olesya")
    log_in(client, "olesya")
    with session_factory.begin() as session:
        session.get(User, user.id).password_hash = hash_password("новый-пароль-2026", 4)
    assert client.get("/admin/").status_code == 302


def test_deactivation_ends_the_session_at_once(client, make_user, session_factory) -> None:
    user = make_user("olesya")
    log_in(client, "olesya")
    with session_factory.begin() as session:
        session.get(User, user.id).is_active = False
    assert client.get("/admin/").status_code == 302


def test_login_returns_to_the_page_asked_for(client, make_user) -> None:
    make_user("olesya")
    redirect = client.get("/admin/municipality/list")
    assert redirect.status_code == 302
    login_page = client.get(redirect.headers["location"])
    token = csrf_from(login_page.text)
    response = client.post(
        "/admin/login",
        data={"username": "olesya", "password": PASSWORD, "csrf_token": token, "next": "/admin/municipality/list"},
    )
    assert response.headers["location"] == "/admin/municipality/list"


@pytest.mark.parametrize("target", ["//evil.example/admin/", "https://evil.example/", "/admin/login", "/other"])
def test_login_never_redirects_off_the_panel(client, make_user, target) -> None:
    make_user("olesya")
    token = csrf_from(client.get("/admin/login").text)
    response = client.post(
        "/admin/login", data={"username": "olesya", "password": PASSWORD, "csrf_token": token, "next": target}
    )
    assert response.headers["location"] == "http://127.0.0.1:8000/admin/"


def test_last_login_time_is_recorded(client, make_user, session_factory) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    with session_factory() as session:
        assert session.scalar(select(User.last_login_at).where(User.username == "olesya")) is not None


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"headers": {"Accept-Language": "en-US,en;q=0.9"}},
        {"params": {"lang": "en"}},
        {"cookie": ("language", "en")},
    ],
)
def test_panel_stays_russian_whatever_the_browser_asks(client, make_user, request_kwargs) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    if "cookie" in request_kwargs:
        client.cookies.set(*request_kwargs.pop("cookie"))
    page = client.get("/admin/user/list", **request_kwargs)
    assert "Выход" in page.text
    assert "Logout" not in page.text
