"""«Профиль»: every role sees its own account; name, e-mail and password change there, with the current
password where the change could take the account over; letters arrive through a real SMTP server."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator

import anyio
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import transport_for
from models import Municipality, Organization, OutboxMessage, User
from tests.conftest import BASE_URL, PASSWORD, csrf_from, log_in
from tests.smtp_server import SmtpServer

NEW_PASSWORD = "новый-пароль-2026"
TOMSK = "Томский район"
SCHOOL = "МБОУ «Корниловская СОШ»"


@pytest.fixture
def tomsk_id(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(Municipality.id).where(Municipality.name == TOMSK))


@pytest.fixture
def ivanova(client, make_user, tomsk_id) -> User:
    """A logged-in expert of the Tomsk district."""
    user = make_user(
        "ivanova", role="expert", municipality_id=tomsk_id, full_name="Иванова Мария", email="ivanova@example.com"
    )
    log_in(client, "ivanova")
    return user


@pytest.fixture
def second_browser(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
        yield other


def post_form(client: TestClient, path: str, **fields: str):
    token = csrf_from(client.get("/admin/profile").text)
    return client.post(path, data={"csrf_token": token, **fields})


def change_contacts(client: TestClient, **fields: str):
    return post_form(client, "/admin/profile/contacts", **fields)


def change_password(client: TestClient, current: str, new: str, confirm: str | None = None):
    fields = {"current_password": current, "password": new, "password_confirm": new if confirm is None else confirm}
    return post_form(client, "/admin/profile/password", **fields)


def stored(session_factory, user_id: int) -> User:
    with session_factory() as session:
        return session.get_one(User, user_id)


def letters_to(session_factory, address: str) -> list[str]:
    with session_factory() as session:
        return list(session.scalars(select(OutboxMessage.subject).where(OutboxMessage.recipient == address)))


def deliver_through(smtp_server: SmtpServer, settings, session_factory) -> None:
    smtp = dataclasses.replace(settings, mail_backend="smtp", smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    anyio.run(deliver_due, session_factory, transport_for(smtp))


def shown(response) -> str:
    return html.unescape(response.text)


def form_on(page: str, name: str) -> str:
    """The HTML of the profile's form posting to /admin/profile/<name>."""
    found = re.search(rf'<form[^>]*action="[^"]*/admin/profile/{name}".*?</form>', page, re.DOTALL)
    assert found, f"no {name} form on the page"
    return found.group(0)


@pytest.mark.parametrize(
    ("role", "place"),
    [
        ("operator", "все муниципалитеты"),
        ("municipal_coordinator", TOMSK),
        ("organization_coordinator", f"{SCHOOL}, {TOMSK}"),
        ("expert", TOMSK),
    ],
)
def test_every_role_reaches_its_profile(client, make_user, session_factory, tomsk_id, role, place) -> None:
    with session_factory.begin() as session:
        school = Organization(name=SCHOOL, municipality_id=tomsk_id)
        session.add(school)
        session.flush()
        school_id = school.id
    scope = {"operator": {}, "organization_coordinator": {"organization_id": school_id}}.get(
        role, {"municipality_id": tomsk_id}
    )
    make_user("petrova", role=role, full_name="Петрова Анна", email="petrova@example.com", **scope)
    log_in(client, "petrova")

    cabinet = client.get("/admin/")
    assert 'href="http://127.0.0.1:8000/admin/profile"' in cabinet.text
    page = client.get("/admin/profile")

    assert page.status_code == 200
    text = shown(page)
    for expected in (
        "Имя пользователя",
        "petrova",
        "Роль",
        place,
        'value="Петрова Анна"',
        'value="petrova@example.com"',
    ):
        assert expected in text
    with session_factory() as session:
        assert session.scalar(select(User).where(User.username == "petrova")).role.name in text
    contacts, password = form_on(text, "contacts"), form_on(text, "password")
    for field in ("csrf_token", "full_name", "email", "current_password"):
        assert f'name="{field}"' in contacts
    for field in ("csrf_token", "current_password", "password", "password_confirm"):
        assert f'name="{field}"' in password
    assert "Пароль: от 10 до 128 символов" in password


def test_profile_needs_a_login(client) -> None:
    response = client.get("/admin/profile")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["location"]


def test_the_name_changes_without_a_password(client, ivanova, session_factory) -> None:
    response = change_contacts(client, full_name="  Иванова   Мария Петровна ", email="ivanova@example.com")

    assert response.status_code == 302
    assert "Данные сохранены." in client.get(response.headers["location"]).text
    user = stored(session_factory, ivanova.id)
    assert (user.full_name, user.email) == ("Иванова Мария Петровна", "ivanova@example.com")
    assert letters_to(session_factory, "ivanova@example.com") == []


@pytest.mark.parametrize(
    ("typed", "message"), [("", "Введите текущий пароль."), ("не-тот-пароль", "Текущий пароль введён неверно.")]
)
def test_a_new_address_needs_the_current_password(client, ivanova, session_factory, typed, message) -> None:
    response = change_contacts(
        client, full_name="Иванова Мария Петровна", email="maria@example.com", current_password=typed
    )

    assert response.status_code == 400
    text = shown(response)
    assert message in text
    assert 'value="Иванова Мария Петровна"' in text and 'value="maria@example.com"' in text
    user = stored(session_factory, ivanova.id)
    assert (user.full_name, user.email) == ("Иванова Мария", "ivanova@example.com")
    assert letters_to(session_factory, "ivanova@example.com") == []


def test_an_invalid_address_is_refused(client, ivanova, session_factory) -> None:
    response = change_contacts(client, full_name="Иванова", email="not-an-address", current_password=PASSWORD)

    assert response.status_code == 400
    assert "Неверный адрес электронной почты «not-an-address»." in shown(response)
    assert stored(session_factory, ivanova.id).email == "ivanova@example.com"


def test_another_active_users_address_is_refused(client, ivanova, make_user, session_factory) -> None:
    make_user("sidorov", email="Taken@example.com")

    response = change_contacts(client, full_name="Иванова Мария", email="Taken@example.com", current_password=PASSWORD)

    assert response.status_code == 400
    assert "Адрес Taken@example.com уже указан у другого активного пользователя." in shown(response)
    assert stored(session_factory, ivanova.id).email == "ivanova@example.com"
    assert letters_to(session_factory, "ivanova@example.com") == []


def test_an_inactive_users_address_may_be_taken(client, ivanova, make_user, session_factory) -> None:
    former = make_user("former", email="former@example.com")
    with session_factory.begin() as session:
        session.get_one(User, former.id).is_active = False

    response = change_contacts(client, full_name="Иванова Мария", email="former@example.com", current_password=PASSWORD)

    assert response.status_code == 302
    assert stored(session_factory, ivanova.id).email == "former@example.com"


def test_the_old_address_is_told_of_the_new_one(
    client, ivanova, session_factory, settings, smtp_server: SmtpServer
) -> None:
    response = change_contacts(
        client, full_name="Иванова Мария", email="maria.ivanova@example.com", current_password=PASSWORD
    )

    assert response.status_code == 302
    assert "На прежний адрес отправлено уведомление" in client.get(response.headers["location"]).text
    assert stored(session_factory, ivanova.id).email == "maria.ivanova@example.com"
    deliver_through(smtp_server, settings, session_factory)
    assert [message["To"] for message in smtp_server.messages] == ["ivanova@example.com"]
    letter = smtp_server.messages[0]
    assert letter["Subject"] == "Адрес электронной почты изменён"
    text = letter.get_body(("plain",)).get_content()
    assert "Адрес электронной почты пользователя ivanova изменён" in text
    assert "на maria.ivanova@example.com" in text
    assert "сообщите об этом координатору" in text


def test_a_stale_form_changes_nothing(client, ivanova, session_factory) -> None:
    response = client.post(
        "/admin/profile/contacts", data={"csrf_token": "forged", "full_name": "Кто-то", "email": "x@example.com"}
    )

    assert response.status_code == 400
    assert "Форма устарела" in shown(response)
    assert stored(session_factory, ivanova.id).full_name == "Иванова Мария"


def test_a_wrong_current_password_changes_nothing(client, ivanova, session_factory, second_browser) -> None:
    response = change_password(client, "не-тот-пароль", NEW_PASSWORD)

    assert response.status_code == 400
    text = shown(response)
    assert "Текущий пароль введён неверно." in text
    assert NEW_PASSWORD not in text and "не-тот-пароль" not in text
    assert stored(session_factory, ivanova.id).password_hash == ivanova.password_hash
    assert letters_to(session_factory, "ivanova@example.com") == []
    assert log_in(second_browser, "ivanova", NEW_PASSWORD).status_code == 400
    assert log_in(second_browser, "ivanova", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("короткий", None, "Пароль слишком короткий: нужно не меньше 10 символов."),
        ("мой-ivanova-пароль", None, "Пароль не должен содержать имя пользователя."),
        ("x" * 129, None, "Пароль слишком длинный: допускается до 128 символов."),
        (NEW_PASSWORD, "другой-пароль-2026", "Пароль и подтверждение не совпадают."),
        # the policy's close variants of the login: reversed, transliterated from Cyrillic
        ("avonavi-на-замке", None, "Пароль слишком похож на имя пользователя."),
        ("Иванова!2026!", None, "Пароль слишком похож на имя пользователя."),
        # the shipped list of common passwords: padded, on the other keyboard layout, a Russian classic
        ("Qwerty2026!!", None, "Этот пароль слишком распространён: его легко подобрать."),
        ("йцукенгшщз", None, "Этот пароль слишком распространён: его легко подобрать."),
    ],
)
def test_the_new_password_follows_the_rules(client, ivanova, session_factory, new, confirm, message) -> None:
    response = change_password(client, PASSWORD, new, confirm)

    assert response.status_code == 400
    assert message in shown(response)
    assert stored(session_factory, ivanova.id).password_hash == ivanova.password_hash
    assert letters_to(session_factory, "ivanova@example.com") == []


def test_a_password_change_keeps_this_session_and_ends_the_others(
    client, ivanova, app, session_factory, settings, second_browser, smtp_server: SmtpServer
) -> None:
    assert log_in(second_browser, "ivanova").status_code == 302
    assert second_browser.get("/admin/profile").status_code == 200

    response = change_password(client, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "Пароль изменён. Остальные входы в систему с вашей учётной записью завершены" in shown(page)
    assert client.get("/admin/application/list").status_code == 200
    refused = second_browser.get("/admin/profile")
    assert refused.status_code == 302
    assert refused.headers["location"].startswith(f"{BASE_URL}/admin/login")
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as fresh_browser:
        assert log_in(fresh_browser, "ivanova", PASSWORD).status_code == 400
        assert log_in(fresh_browser, "ivanova", NEW_PASSWORD).status_code == 302

    deliver_through(smtp_server, settings, session_factory)
    assert [(message["To"], message["Subject"]) for message in smtp_server.messages] == [
        ("ivanova@example.com", "Ваш пароль изменён")
    ]
    assert "Пароль пользователя ivanova изменён" in smtp_server.messages[0].get_body(("plain",)).get_content()


def test_the_user_menu_links_to_the_profile(client, ivanova) -> None:
    page = client.get("/admin/")
    assert 'title="Профиль"' in page.text
    assert "<span>ivanova</span>" in page.text
