"""The registration page offers a login made from the invitee's full name (or e-mail), free and valid, which
the invitee may change; what they type is never replaced."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from admin_app.accounts import USERNAME_PATTERN, AccountError, check_password
from admin_app.login_suggestion import login_from_email, login_from_full_name
from admin_app.transliteration import transliterate
from models import User
from tests.conftest import BASE_URL, csrf_from, log_in
from tests.invitation_helpers import invite, last_link, register

PASSWORD = "надёжный-пароль-2026"
FROM_NAME = "Предложено по вашему ФИО; можно изменить."
FROM_EMAIL = "Предложено по вашему адресу электронной почты; можно изменить."
USERNAME_INPUT = re.compile(r'<input id="username"[^>]*\bvalue="([^"]*)"')
SIGNED_ROWS = re.compile(r'<input type="hidden" name="rows" value="([^"]+)"')


# ---------------------------------------------------------------------------------------------------
# Helpers: what the operator and the invitee do and see


@pytest.fixture
def anonymous(app):
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
        yield other


def invite_by_list(operator_client: TestClient, session_factory, email: str, full_name: str) -> str:
    """Invite one expert of Томский район with a full name through «Пригласить списком»; the registration link."""
    content = f"Электронная почта;Роль;Муниципалитет;ФИО\r\n{email};эксперт;Томский район;{full_name}\r\n"
    token = csrf_from(operator_client.get("/admin/mailing/bulk").text)
    preview = operator_client.post(
        "/admin/mailing/bulk",
        data={"csrf_token": token},
        files={"file": ("список.csv", content.encode(), "text/csv")},
    ).text
    rows = SIGNED_ROWS.search(preview)
    assert rows, "the preview has no rows to confirm"
    data = {"csrf_token": csrf_from(preview), "rows": html.unescape(rows.group(1)), "mode": "all"}
    assert "Отправлено приглашений: 1" in operator_client.post("/admin/mailing/bulk/confirm", data=data).text
    return last_link(session_factory, email)


def username_field(page: str) -> str:
    """The value the «Имя пользователя» field shows."""
    found = USERNAME_INPUT.search(page)
    assert found, "the page has no username field"
    return html.unescape(found.group(1))


def logins(session_factory) -> set[str]:
    with session_factory() as session:
        return set(session.scalars(select(func.lower(User.username))))


# ---------------------------------------------------------------------------------------------------
# The passport transliteration and the rule


@pytest.mark.parametrize(
    ("russian", "latin"),
    [
        ("Щукин", "Shchukin"),
        ("Ёжиков", "Ezhikov"),
        ("Юлия", "Iuliia"),
        ("Ярослав", "Iaroslav"),
        ("Хабибуллин", "Khabibullin"),
        ("Цой", "Tsoi"),
        ("Подъячев", "Podieiachev"),
        ("Ильин", "Ilin"),
        ("Эльвира Рыжова", "Elvira Ryzhova"),
        ("Салтыков-Щедрин", "Saltykov-Shchedrin"),
        ("Жанна Чернышёва", "Zhanna Chernysheva"),
        ("Smith Ян", "Smith Ian"),
    ],
)
def test_names_are_spelt_as_in_a_passport(russian, latin) -> None:
    assert transliterate(russian) == latin


@pytest.mark.parametrize(
    ("full_name", "login"),
    [
        ("Петрова Анна Ивановна", "petrova.anna"),
        ("  ЩУКИН   ярослав  ", "shchukin.iaroslav"),
        ("Римская-Корсакова Юлия Подъячевна", "rimskaia-korsakova.iuliia"),
        ("Цой", "tsoi"),
        ("Петрова А. И.", "petrova.a"),
        ("Д'Артаньян Шарль", "dartanian.sharl"),
        ("Ли Ю", "li.iu"),
        ("Ю", ""),  # too short for a login
        ("— —", ""),
        ("", ""),
    ],
)
def test_the_login_is_surname_dot_first_name(full_name, login) -> None:
    assert login_from_full_name(full_name) == login


def test_a_name_too_long_for_a_login_gives_the_surname_cut_to_the_limit() -> None:
    login = login_from_full_name("Константинопольская-Длинноименная Анна")
    assert login == "konstantinopolskaia-dlinnoimenna"
    assert len(login) == 32 and USERNAME_PATTERN.fullmatch(login)


@pytest.mark.parametrize(
    ("email", "login"),
    [
        ("I.Sidorov@example.ru", "i.sidorov"),
        ("anna_p-2@example.ru", "anna_p-2"),
        ("9ivan@example.ru", ""),
        ("ivan+mail@example.ru", ""),
        ("ab@example.ru", ""),
        (f"{'a' * 33}@example.ru", ""),
    ],
)
def test_without_a_name_the_login_is_the_addresss_part_before_at_if_valid(email, login) -> None:
    assert login_from_email(email) == login


# ---------------------------------------------------------------------------------------------------
# The registration page


def test_the_page_offers_the_login_made_from_the_full_name(operator_client, anonymous, session_factory) -> None:
    link = invite_by_list(operator_client, session_factory, "petrova@example.ru", "Петрова Анна Ивановна")
    page = anonymous.get(link)
    assert page.status_code == 200
    assert username_field(page.text) == "petrova.anna"
    assert FROM_NAME in page.text


def test_a_taken_login_in_any_case_gets_the_first_free_number(
    operator_client, anonymous, session_factory, make_user
) -> None:
    make_user("Petrova.Anna", role="operator")
    make_user("PETROVA.ANNA2", role="operator")
    link = invite_by_list(operator_client, session_factory, "petrova@example.ru", "Петрова Анна Ивановна")
    assert username_field(anonymous.get(link).text) == "petrova.anna3"


def test_a_number_never_makes_the_login_longer_than_the_rules_allow(
    operator_client, anonymous, session_factory, make_user
) -> None:
    make_user("konstantinopolskaia-dlinnoimenna", role="operator")
    link = invite_by_list(operator_client, session_factory, "k@example.ru", "Константинопольская-Длинноименная Анна")
    assert username_field(anonymous.get(link).text) == "konstantinopolskaia-dlinnoimenn2"


def test_without_a_name_the_page_offers_the_address_or_nothing(operator_client, anonymous, session_factory) -> None:
    invite(operator_client, role="expert", email="I.Sidorov@example.ru")
    page = anonymous.get(last_link(session_factory, "I.Sidorov@example.ru")).text
    assert username_field(page) == "i.sidorov"
    assert FROM_EMAIL in page and FROM_NAME not in page

    invite(operator_client, role="expert", email="ivan+mail@example.ru")
    page = anonymous.get(last_link(session_factory, "ivan+mail@example.ru")).text
    assert username_field(page) == ""
    assert FROM_EMAIL not in page and FROM_NAME not in page


@pytest.mark.parametrize("typed", ["", "иван", "Petrova.Anna", "olesya"])
def test_a_returned_form_keeps_what_was_typed_never_the_offer(
    operator_client, anonymous, session_factory, typed
) -> None:
    link = invite_by_list(operator_client, session_factory, "petrova@example.ru", "Петрова Анна Ивановна")
    token = csrf_from(anonymous.get(link).text)
    data = {"csrf_token": token, "username": typed, "password": "короткий", "password_confirm": "короткий"}
    response = anonymous.post(link, data=data)
    assert response.status_code == 400
    assert username_field(response.text) == typed
    assert FROM_NAME not in response.text
    assert "petrova.anna" not in logins(session_factory)


def test_the_registered_login_is_the_one_submitted(operator_client, anonymous, session_factory) -> None:
    link = invite_by_list(operator_client, session_factory, "petrova@example.ru", "Петрова Анна Ивановна")
    assert register(anonymous, link, "anna.p", PASSWORD).status_code == 200
    assert logins(session_factory) == {"olesya", "anna.p"}
    assert log_in(anonymous, "anna.p", PASSWORD).status_code == 302


def test_the_offered_login_registers_as_is(operator_client, anonymous, session_factory) -> None:
    link = invite_by_list(operator_client, session_factory, "yulia@example.ru", "Подъячева Юлия")
    offered = username_field(anonymous.get(link).text)
    assert offered == "podieiacheva.iuliia"
    response = register(anonymous, link, offered, PASSWORD)
    assert response.status_code == 200 and "podieiacheva.iuliia" in response.text
    assert log_in(anonymous, "podieiacheva.iuliia", PASSWORD).status_code == 302


def test_the_password_may_not_be_the_offered_login_typed_in_russian(
    operator_client, anonymous, session_factory
) -> None:
    link = invite_by_list(operator_client, session_factory, "yulia@example.ru", "Подъячева Юлия")
    # the surname typed in Russian reads "podieiacheva" by the passport table (the older "podyacheva" would pass)
    response = register(anonymous, link, "podieiacheva.iuliia", "Подъячева-на-даче-2026")
    assert response.status_code == 400
    assert "Пароль слишком похож на имя пользователя." in response.text
    assert logins(session_factory) == {"olesya"}


@pytest.mark.parametrize(("login", "password"), [("podyacheva", "Подъячева-на-даче"), ("yuliya", "Юлия-на-даче-2026")])
def test_the_password_may_not_be_the_login_in_the_everyday_spelling_either(login: str, password: str) -> None:
    with pytest.raises(AccountError, match="похож на имя пользователя"):
        check_password(password, login)
