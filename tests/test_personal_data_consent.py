"""Consent to the processing of personal data (152-ФЗ) on the registration and the teacher's application forms."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from models import Application, Invitation, User, utcnow
from tests.application_helpers import TEACHER
from tests.conftest import BASE_URL, csrf_from, log_in
from tests.invitation_helpers import add_organization, invite, last_link, municipality_id, register

PASSWORD = "надёжный-пароль-2026"
SUBMIT = "/Application/Submit"
POLICY = "/personal-data"
REFUSED = "Отметьте согласие на обработку персональных данных"
CHECKBOX = re.compile(r'<input id="consent" name="consent" type="checkbox" value="on"[^>]*>')
LABEL = re.compile(
    r'<label class="form-check" for="consent">.*?Я даю согласие на обработку моих персональных данных\s+в соответствии'
    r'\s+с <a href="/personal-data"[^>]*>Политикой обработки персональных данных</a>.*?</label>',
    re.DOTALL,
)


@pytest.fixture
def anonymous(app):
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
        yield other


@pytest.fixture
def culture_link(operator_client, session_factory) -> str:
    """An expert's invitation without a municipality: the form asks for one."""
    assert invite(operator_client, role="expert", email="culture@example.ru").status_code == 302
    return last_link(session_factory, "culture@example.ru")


@pytest.fixture
def school(session_factory) -> int:
    return add_organization(session_factory, "Корниловская СОШ", "Томский район")


def invitees(session_factory) -> int:
    """The users registered by an invitation (the inviting operator aside)."""
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(User).where(User.invitation_id.is_not(None)))


def applications(session_factory) -> list[Application]:
    with session_factory() as session:
        return list(session.scalars(select(Application)))


def test_policy_page_names_the_centre_and_what_it_covers(client, settings) -> None:
    page = client.get(POLICY)
    assert page.status_code == 200
    text = page.text
    assert "<h1" in text and "Политика обработки персональных данных" in text
    assert f"Оператор персональных данных — {settings.centre_name}" in text
    for words in ("152-ФЗ", "фамилия, имя, отчество", "Порядком проведения аттестации", "письменное заявление"):
        assert words in text, words
    comment = text[text.index("<!--") : text.index("-->")]
    assert "ШАБЛОН" in comment and "юриста" in comment
    assert "ШАБЛОН" not in text.replace(comment, "")  # the warning is for the centre, not the reader


@pytest.mark.parametrize("form", ["registration", "application"])
def test_both_forms_show_the_checkbox_with_its_label_and_the_policy_link(anonymous, culture_link, school, form) -> None:
    page = anonymous.get(culture_link if form == "registration" else SUBMIT)
    assert page.status_code == 200
    [checkbox] = CHECKBOX.findall(page.text)
    assert "checked" not in checkbox  # consent is given by the person, never preset
    assert LABEL.search(page.text), "the checkbox has no label with the policy link"
    assert 'target="' not in LABEL.search(page.text).group(0)  # the policy opens in the same tab
    assert anonymous.get(POLICY).status_code == 200


def test_registration_without_consent_writes_nothing_and_keeps_what_was_typed(
    anonymous, culture_link, session_factory
) -> None:
    token = csrf_from(anonymous.get(culture_link).text)
    district = str(municipality_id(session_factory, "Томский район"))
    data = {"csrf_token": token, "username": "Petrov.A", "password": PASSWORD, "password_confirm": PASSWORD}
    response = anonymous.post(culture_link, data={**data, "municipality_id": district})
    assert response.status_code == 400
    error = re.search(r'id="consent"[^>]*is-invalid.*?<div id="consent-error"[^>]*>([^<]*)</div>', response.text, re.S)
    assert error and REFUSED in error.group(1), "the refusal is not shown next to the checkbox"
    assert 'value="Petrov.A"' in response.text
    assert f'<option value="{district}" selected>' in response.text
    assert PASSWORD not in response.text
    assert invitees(session_factory) == 0
    with session_factory() as session:
        assert session.scalar(select(Invitation.accepted_at)) is None
    accepted = register(anonymous, culture_link, "Petrov.A", PASSWORD, municipality_id=district)
    assert accepted.status_code == 200 and "Регистрация завершена" in accepted.text  # the key still works


def test_registration_with_consent_stores_its_time(anonymous, culture_link, session_factory) -> None:
    district = str(municipality_id(session_factory, "Томский район"))
    before = utcnow()
    assert register(anonymous, culture_link, "petrov", PASSWORD, municipality_id=district).status_code == 200
    after = utcnow()
    with session_factory() as session:
        consent_at = session.scalar(select(User.personal_data_consent_at).where(User.username == "petrov"))
    assert consent_at is not None and before <= consent_at <= after


def test_application_without_consent_writes_nothing_and_keeps_what_was_typed(client, school, session_factory) -> None:
    token = csrf_from(client.get(SUBMIT).text)
    data = {"csrf_token": token, **TEACHER, "organization_id": str(school), "consent": ""}
    response = client.post(SUBMIT, data=data)
    assert response.status_code == 400
    assert REFUSED in response.text
    assert re.search(r'<input id="consent"[^>]*is-invalid', response.text), "the checkbox is not marked"
    for name in ("full_name", "email", "phone", "position"):
        assert f'value="{TEACHER[name]}"' in response.text, name
    assert f'<option value="{school}" selected>' in response.text
    assert applications(session_factory) == []
    again = {**data, "csrf_token": csrf_from(response.text), "consent": "on"}
    assert client.post(SUBMIT, data=again).status_code == 200
    assert len(applications(session_factory)) == 1


def test_application_with_consent_stores_its_time(client, school, session_factory) -> None:
    token = csrf_from(client.get(SUBMIT).text)
    before = utcnow()
    data = {"csrf_token": token, **TEACHER, "organization_id": str(school), "consent": "on"}
    assert client.post(SUBMIT, data=data).status_code == 200
    after = utcnow()
    [application] = applications(session_factory)
    assert application.personal_data_consent_at is not None
    assert before <= application.personal_data_consent_at <= after


def test_a_coordinators_entry_in_the_panel_leaves_the_consent_empty(client, make_user, school, session_factory) -> None:
    make_user("school", role="organization_coordinator", organization_id=school)
    log_in(client, "school")
    token = csrf_from(client.get("/admin/application/new").text)
    data = {"csrf_token": token, **TEACHER, "organization_id": str(school), "consent": "on"}  # a stray field
    assert client.post("/admin/application/new", data=data, follow_redirects=False).status_code == 302
    [application] = applications(session_factory)
    assert application.teacher_full_name == TEACHER["full_name"]
    assert application.personal_data_consent_at is None  # the coordinator keeps the paper consent
