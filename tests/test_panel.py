"""The panel as an operator and as other roles see it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from admin_app.permissions import GRANTS
from models import Municipality, Organization, RoleCode, User
from tests.conftest import csrf_from, log_in

VIEWS = ("user", "invitation", "municipality", "organization", "role")


@pytest.fixture
def operator(client, make_user) -> User:
    user = make_user("olesya", full_name="Олеся Петрова")
    log_in(client, "olesya")
    return user


@pytest.mark.parametrize("identity", VIEWS)
def test_every_list_opens_for_an_operator_in_russian(client, operator, identity) -> None:
    page = client.get(f"/admin/{identity}/list")
    assert page.status_code == 200
    assert "Выход" in page.text
    for english in ("Logout", "Search", "New ", "Actions"):
        assert english not in page.text


def test_municipalities_list_shows_the_reference_data(client, operator) -> None:
    page = client.get("/admin/municipality/list?pageSize=50")
    assert "ЗАТО Северск" in page.text and "Культура и искусство" in page.text
    assert "Городской округ" in page.text and "Ведомственный" in page.text


def test_password_hash_is_never_shown_or_editable(client, operator) -> None:
    for path in (f"/admin/user/details/{operator.id}", f"/admin/user/edit/{operator.id}", "/admin/user/list"):
        page = client.get(path)
        assert page.status_code == 200
        assert operator.password_hash not in page.text
        assert "password" not in page.text.lower()


def test_user_form_has_russian_labels_and_checks_the_email(client, operator, make_user, session_factory) -> None:
    colleague = make_user("ivanova", email="ivanova@example.com")
    form = client.get(f"/admin/user/edit/{colleague.id}")
    for label in ("ФИО", "Электронная почта", "Роль", "Муниципалитет", "Активен"):
        assert label in form.text
    response = client.post(
        f"/admin/user/edit/{colleague.id}",
        data={
            "full_name": "Иванова",
            "email": "not-an-address",
            "role": "1",
            "is_active": "y",
            "save": "Save",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert response.status_code == 400
    assert "Неверный адрес электронной почты" in response.text
    assert 'value="Иванова"' in response.text
    with session_factory() as session:
        assert session.get(User, colleague.id).email == "ivanova@example.com"


def test_nobody_changes_their_own_role_scope_or_activity(client, operator, session_factory) -> None:
    form = client.get(f"/admin/user/edit/{operator.id}")
    assert 'name="role"' not in form.text and 'name="is_active"' not in form.text
    response = client.post(
        f"/admin/user/edit/{operator.id}",
        data={
            "full_name": "Олеся Петрова",
            "email": "olesya@example.com",
            "role": "4",
            "municipality": "1",
            "save": "Save",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert response.status_code == 302
    with session_factory() as session:
        user = session.get(User, operator.id)
        assert (user.role_id, user.municipality_id, user.is_active) == (1, None, True)
        assert user.full_name == "Олеся Петрова"


def test_required_field_message_is_russian(client, operator, session_factory) -> None:
    token = csrf_from(client.get("/admin/municipality/create").text)
    data = {"name": "", "kind": "departmental", "save": "Save", "csrf_token": token}
    response = client.post("/admin/municipality/create", data=data)
    assert response.status_code == 400
    assert "Обязательное поле" in response.text
    with session_factory() as session:
        assert session.scalar(select(Municipality).where(Municipality.name == "")) is None


def test_dates_are_russian_in_the_centres_time(client, operator) -> None:
    page = client.get(f"/admin/user/details/{operator.id}")
    assert operator.created_at.strftime("%B") not in page.text
    assert __import__("re").search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", page.text)


@pytest.mark.parametrize("role", ["municipal_coordinator", "organization_coordinator", "expert"])
def test_other_roles_reach_only_the_lists_granted_to_them(client, make_user, role, session_factory) -> None:
    with session_factory() as session:
        municipality_id = session.scalar(select(Municipality.id).where(Municipality.name == "Томский район"))
    with session_factory.begin() as session:
        school = Organization(name="МБОУ СОШ № 1", municipality_id=municipality_id)
        session.add(school)
        session.flush()
        organization_id = school.id if role == "organization_coordinator" else None
    make_user("coordinator", role=role, municipality_id=municipality_id, organization_id=organization_id)
    log_in(client, "coordinator")
    cabinet = client.get("/admin/")
    assert cabinet.status_code == 200
    assert "Личный кабинет" in cabinet.text
    granted = {view for view, action in GRANTS[RoleCode(role)] if action == "list"}
    assert ("Пользователи" in cabinet.text) == ("user" in granted)
    for identity in VIEWS:
        status = client.get(f"/admin/{identity}/list").status_code
        assert status == 200 if identity in granted else status in (403, 404)


def test_municipal_coordinator_cabinet_has_the_seed_blocks(client, make_user, session_factory) -> None:
    with session_factory() as session:
        municipality_id = session.scalar(select(Municipality.id).where(Municipality.name == "Томский район"))
    make_user("coordinator", role="municipal_coordinator", municipality_id=municipality_id)
    log_in(client, "coordinator")
    cabinet = client.get("/admin/").text
    for text in (
        "Личный кабинет муниципального координатора по аттестации",
        "Количество новых заявлений (не зарегистрированных) на аттестацию от педагогических работников = "
        "<strong>0</strong>",
        "Работа с документами по аттестации",
        "Работа с заявлениями аттестуемых",
        "Рассылка",
    ):
        assert text in cabinet
    assert 'href="http://127.0.0.1:8000/admin/mailing"' in cabinet


def test_two_messages_in_a_row_are_both_shown(client, operator, make_user, session_factory) -> None:
    """Two actions before any page is shown: the page then shows both messages, not only the first."""
    with session_factory() as session:
        municipality = session.scalar(select(Municipality.id).where(Municipality.name == "Томский район"))
    first = make_user("first_expert", role=RoleCode.EXPERT, municipality_id=municipality)
    second = make_user("second_expert", role=RoleCode.EXPERT, municipality_id=municipality)
    for user in (first, second):
        response = client.get(f"/admin/user/action/deactivate?pks={user.id}", follow_redirects=False)
        assert response.status_code == 302
    page = client.get("/admin/user/list").text
    assert "Отключены: first_expert." in page
    assert "Отключены: second_expert." in page
