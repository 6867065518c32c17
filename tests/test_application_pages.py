"""«Заявления на аттестацию» in the panel: entry, steps, experts, deadline, the cabinet's figures."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from models import Application, ApplicationStatus
from tests.conftest import BASE_URL, csrf_from, log_in
from tests.invitation_helpers import add_organization, municipality_id

TEACHER = {
    "full_name": "Петрова Анна Ивановна",
    "email": "petrova@example.ru",
    "phone": "+7 913 000-00-00",
    "position": "учитель математики",
    "requested_category": "first",
}
ALERT = re.compile(r'alert-(\w+)" role="alert">([^<]*)')


@pytest.fixture
def people(app, make_user, session_factory):
    """Logged-in clients of a school coordinator, the district's coordinator, an expert and a far coordinator."""
    tomsk = municipality_id(session_factory, "Томский район")
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    gymnasium = add_organization(session_factory, "Гимназия в Итатке", "Томский район")
    make_user("school", role="organization_coordinator", organization_id=school)
    make_user("municipal", role="municipal_coordinator", municipality_id=tomsk)
    expert = make_user(
        "expert", role="expert", municipality_id=tomsk, organization_id=gymnasium, full_name="Иванов И. И."
    )
    make_user("far", role="municipal_coordinator", municipality_id=municipality_id(session_factory, "ЗАТО Северск"))
    clients = {}
    for name in ("school", "municipal", "expert", "far"):
        clients[name] = TestClient(app, base_url=BASE_URL, follow_redirects=False)
        log_in(clients[name], name)
    return {**clients, "school_id": school, "expert_id": expert.id}


def enter(client, **fields: str):
    token = csrf_from(client.get("/admin/application/new").text)
    return client.post("/admin/application/new", data={"csrf_token": token, **fields})


def post(client, path: str, **fields):
    token = csrf_from(client.get("/admin/").text)
    response = client.post(path, data={"csrf_token": token, **fields})
    return response, ALERT.findall(client.get(response.headers.get("location", "/admin/").removeprefix(BASE_URL)).text)


def only_application(session_factory) -> Application:
    with session_factory() as session:
        return session.scalars(select(Application)).one()


def test_school_coordinator_enters_an_application(people, session_factory) -> None:
    form = people["school"].get("/admin/application/new").text
    for label in ("ФИО педагога", "Должность", "Категория, на которую претендует педагог", "Сохранить заявление"):
        assert label in form
    response = enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    assert response.status_code == 302
    application = only_application(session_factory)
    assert application.status == ApplicationStatus.NEW
    details = people["school"].get(response.headers["location"].removeprefix(BASE_URL)).text
    assert "Заявление сохранено." in details and "Петрова Анна Ивановна" in details and "История" in details


def test_bad_entry_keeps_what_was_typed(people, session_factory) -> None:
    response = enter(
        people["school"], organization_id=str(people["school_id"]), **{**TEACHER, "requested_category": "methodist"}
    )
    assert response.status_code == 400
    assert "высшей квалификационной категорией" in response.text
    assert 'value="Петрова Анна Ивановна"' in response.text
    with session_factory() as session:
        assert session.scalars(select(Application)).all() == []


def test_expert_cannot_enter_applications(people, session_factory) -> None:
    assert people["expert"].get("/admin/application/new").status_code == 403
    token = csrf_from(people["expert"].get("/admin/").text)
    data = {"csrf_token": token, "organization_id": str(people["school_id"]), **TEACHER}
    assert people["expert"].post("/admin/application/new", data=data).status_code == 403
    with session_factory() as session:
        assert session.scalars(select(Application)).all() == []


def test_coordinator_registers_assigns_and_sets_the_deadline(people, session_factory) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    pk = only_application(session_factory).id
    municipal = people["municipal"]
    assert "педагогических работников = <strong>1</strong>" in municipal.get("/admin/").text
    assert "педагогических работников = <strong>0</strong>" in people["far"].get("/admin/").text

    _, alerts = post(municipal, f"/admin/application/{pk}/status", to="registered")
    assert alerts == [("success", "Статус заявления: «Зарегистрировано».")]
    _, alerts = post(municipal, f"/admin/application/{pk}/status", to="experts_assigned")
    assert alerts == [("danger", "Сначала назначьте хотя бы одного специалиста по аттестации.")]
    _, alerts = post(municipal, f"/admin/application/{pk}/experts", experts=str(people["expert_id"]))
    assert alerts == [("success", "Специалисты по аттестации назначены.")]
    _, alerts = post(municipal, f"/admin/application/{pk}/deadline", deadline="2000-01-01")
    assert "раньше даты регистрации" in alerts[0][1]
    _, alerts = post(municipal, f"/admin/application/{pk}/deadline", deadline="2099-01-15")
    assert alerts == [("success", "Срок проведения аттестации: 15.01.2099.")]
    application = only_application(session_factory)
    assert application.registration_number == 1 and str(application.deadline) == "2099-01-15"

    assert "Петрова Анна Ивановна" in people["expert"].get("/admin/application/list").text
    details = people["expert"].get(f"/admin/application/details/{pk}").text
    assert "Иванов И. И." in details


def test_refused_step_and_foreign_application(people, session_factory) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    pk = only_application(session_factory).id
    _, alerts = post(people["school"], f"/admin/application/{pk}/status", to="registered")
    assert alerts[0][0] == "danger" and "Нельзя перевести заявление" in alerts[0][1]
    response, _ = post(people["far"], f"/admin/application/{pk}/status", to="registered")
    assert response.status_code == 404
    assert people["far"].get(f"/admin/application/details/{pk}").status_code == 404
    assert people["expert"].get(f"/admin/application/details/{pk}").status_code == 404  # not assigned yet
    assert only_application(session_factory).status == ApplicationStatus.NEW


def test_list_filters_and_russian_csv(people) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    municipal = people["municipal"]
    assert "Петрова" in municipal.get("/admin/application/list", params={"status": "new"}).text
    assert "Петрова" not in municipal.get("/admin/application/list", params={"status": "registered"}).text
    exported = municipal.get("/admin/application/export/csv").content
    assert exported.startswith("\ufeff".encode())
    assert "Петрова Анна Ивановна;petrova@example.ru" in exported.decode("utf-8-sig")
