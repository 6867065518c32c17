"""«Рассылка»: who may invite whom, and what the server does with whatever is posted."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import Invitation, OutboxMessage, RoleCode
from tests.conftest import log_in, log_out
from tests.invitation_helpers import add_organization, invite, last_link, municipality_id

ROLE_OPTIONS = re.compile(r'<select id="role" name="role".*?</select>', re.S)


def offered_roles(client) -> list[str]:
    form = client.get("/admin/mailing/invite").text
    return re.findall(r'<option value="(\w+)"', ROLE_OPTIONS.search(form).group(0))


@pytest.fixture
def tomsk_district(session_factory) -> int:
    return municipality_id(session_factory, "Томский район")


@pytest.fixture
def coordinator(client, make_user, tomsk_district):
    make_user("coord", role="municipal_coordinator", municipality_id=tomsk_district)
    log_in(client, "coord")
    return client


def invitations(session_factory) -> list[Invitation]:
    with session_factory() as session:
        return list(session.scalars(select(Invitation).order_by(Invitation.id)))


def test_mailing_page_has_the_seed_sections(operator_client) -> None:
    page = operator_client.get("/admin/mailing").text
    for text in ("Отправить приглашение", "Пригласить", "Список пользователей, зарегистрированных по приглашению"):
        assert text in page
    assert "Посмотреть" in page


def test_operator_may_invite_every_role(operator_client) -> None:
    assert set(offered_roles(operator_client)) == {code.value for code in RoleCode}


def test_municipal_coordinator_is_offered_only_expert_and_school_coordinator(coordinator) -> None:
    assert offered_roles(coordinator) == ["expert", "organization_coordinator"]
    form = coordinator.get("/admin/mailing/invite").text
    assert "Оператор" not in ROLE_OPTIONS.search(form).group(0)
    for text in ("Почта получателя", "Тема письма", "Сообщение (текст письма)", "Не изменять!", "Вернуться на главную"):
        assert text in form


@pytest.mark.parametrize("role", ["operator", "municipal_coordinator", "nonsense", ""])
def test_coordinator_cannot_post_a_role_it_may_not_invite(coordinator, session_factory, role) -> None:
    response = invite(coordinator, role=role, email="someone@example.ru")
    assert response.status_code == 400
    assert "Выберите роль из списка" in response.text
    assert 'value="someone@example.ru"' in response.text
    assert invitations(session_factory) == []


def test_coordinator_invitation_takes_its_own_municipality_whatever_is_posted(
    coordinator, session_factory, tomsk_district
) -> None:
    other = municipality_id(session_factory, "ЗАТО Северск")
    response = invite(coordinator, role="expert", email="expert@example.ru", municipality_id=str(other))
    assert response.status_code == 302
    [invitation] = invitations(session_factory)
    assert invitation.municipality_id == tomsk_district


def test_coordinator_cannot_invite_into_another_municipalitys_school(coordinator, session_factory) -> None:
    foreign_school = add_organization(session_factory, "Гимназия № 1", "ЗАТО Северск")
    response = invite(
        coordinator, role="organization_coordinator", email="s@example.ru", organization_id=str(foreign_school)
    )
    assert response.status_code == 400
    assert "не относится" in response.text
    assert invitations(session_factory) == []


def test_coordinator_sees_only_own_municipalitys_schools(coordinator, session_factory) -> None:
    add_organization(session_factory, "Гимназия № 1", "ЗАТО Северск")
    add_organization(session_factory, "Школа в Корнилово", "Томский район")
    form = coordinator.get("/admin/mailing/invite").text
    assert "Школа в Корнилово" in form and "Гимназия № 1" not in form


def test_school_coordinator_invitation_needs_a_school(coordinator, session_factory) -> None:
    response = invite(coordinator, role="organization_coordinator", email="s@example.ru")
    assert response.status_code == 400
    assert "Выберите образовательную организацию" in response.text
    school = add_organization(session_factory, "Школа в Корнилово", "Томский район")
    assert (
        invite(
            coordinator, role="organization_coordinator", email="s@example.ru", organization_id=str(school)
        ).status_code
        == 302
    )
    [invitation] = invitations(session_factory)
    assert invitation.organization_id == school


@pytest.mark.parametrize("email", ["not-an-address", "two@example.ru, three@example.ru", "", "a@b"])
def test_one_valid_address_is_required(operator_client, session_factory, email) -> None:
    response = invite(operator_client, role="expert", email=email)
    assert response.status_code == 400
    assert "Неверный адрес электронной почты" in response.text
    assert invitations(session_factory) == []


def test_invitation_and_its_letter_are_written_together(operator_client, session_factory) -> None:
    response = invite(operator_client, role="expert", email="Expert@Example.RU")
    assert response.status_code == 302
    [invitation] = invitations(session_factory)
    with session_factory() as session:
        letter = session.scalar(select(OutboxMessage).where(OutboxMessage.invitation_id == invitation.id))
    assert letter.recipient == invitation.email
    link = last_link(session_factory, invitation.email)
    key = re.search(r"k=([\w-]+)", link).group(1)
    assert len(key) >= 22  # at least 128 bits in URL-safe base64
    assert key not in invitation.key_hash and len(invitation.key_hash) == 64
    assert link.endswith("&t=Expert")
    assert (invitation.expires_at - invitation.created_at).days == 14


def test_address_of_an_active_user_gets_a_message_and_no_letter(operator_client, make_user, session_factory) -> None:
    make_user("ivanov", role="expert", email="ivanov@example.ru", municipality_id=1)
    response = invite(operator_client, role="expert", email="IVANOV@example.ru")
    assert response.status_code == 400
    assert "уже зарегистрирован" in response.text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_pending_invitation_is_offered_for_resending_instead_of_a_second_key(operator_client, session_factory) -> None:
    invite(operator_client, role="expert", email="expert@example.ru")
    first_link = last_link(session_factory, "expert@example.ru")
    again = invite(operator_client, role="expert", email="expert@example.ru")
    assert again.status_code == 409
    assert "Отправить повторно" in again.text
    assert len(invitations(session_factory)) == 1
    [invitation] = invitations(session_factory)
    token = re.search(r'name="csrf_token" value="([^"]+)"', again.text).group(1)
    resent = operator_client.post(f"/admin/mailing/resend/{invitation.id}", data={"csrf_token": token})
    assert resent.status_code == 302
    assert "отправлено повторно" in operator_client.get("/admin/mailing").text
    assert last_link(session_factory, "expert@example.ru") != first_link
    assert operator_client.get(first_link).status_code == 404
    assert len(invitations(session_factory)) == 1


def test_coordinator_cannot_resend_another_municipalitys_invitation(
    client, operator_client, make_user, session_factory
) -> None:
    invite(
        operator_client,
        role="expert",
        email="far@example.ru",
        municipality_id=str(municipality_id(session_factory, "ЗАТО Северск")),
    )
    [invitation] = invitations(session_factory)
    log_out(client)
    make_user("coord", role="municipal_coordinator", municipality_id=municipality_id(session_factory, "Томский район"))
    log_in(client, "coord")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/mailing/invite").text).group(1)
    assert client.post(f"/admin/mailing/resend/{invitation.id}", data={"csrf_token": token}).status_code == 404
    assert [i.key_hash for i in invitations(session_factory)] == [invitation.key_hash]


@pytest.mark.parametrize("role", ["organization_coordinator", "expert"])
def test_roles_that_invite_nobody_have_no_mailing(client, make_user, session_factory, role) -> None:
    school = add_organization(session_factory, "Школа", "Томский район")
    make_user(
        "someone", role=role, municipality_id=municipality_id(session_factory, "Томский район"), organization_id=school
    )
    log_in(client, "someone")
    assert "Рассылка" not in client.get("/admin/").text
    assert client.get("/admin/mailing/invite").status_code in (403, 404)
    assert invite_status(client) in (403, 404)


def invite_status(client) -> int:
    return client.post("/admin/mailing/invite", data={"role": "expert", "email": "x@example.ru"}).status_code
