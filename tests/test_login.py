"""Logging in to the panel, as a user with a browser would (through the HTTP client)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from admin_app.auth import BAD_CREDENTIALS
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
