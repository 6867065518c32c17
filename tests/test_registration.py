"""/Account/RegisterByInvite: registering from the link in the letter."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from admin_app.invitations import InvitationError, accept_invitation
from models import Invitation, User, utcnow
from tests.conftest import BASE_URL, csrf_from, log_in
from tests.invitation_helpers import add_organization, invite, last_link, municipality_id, register

PASSWORD = "надёжный-пароль-2026"


@pytest.fixture
def anonymous(app):
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
        yield other


@pytest.fixture
def expert_link(operator_client, session_factory) -> str:
    district = municipality_id(session_factory, "Томский район")
    assert (
        invite(operator_client, role="expert", email="expert@example.ru", municipality_id=str(district)).status_code
        == 302
    )
    return last_link(session_factory, "expert@example.ru")


def users_named(session_factory, username: str) -> list[User]:
    with session_factory() as session:
        return list(session.scalars(select(User).where(func.lower(User.username) == username.lower())))


def test_page_is_the_seeds_registration_form(anonymous, expert_link) -> None:
    page = anonymous.get(expert_link)
    assert page.status_code == 200
    for text in ("Регистрация", "Создайте новую учетную запись.", "Имя пользователя", "Пароль", "Подтверждение пароля"):
        assert text in page.text
    assert "Зарегистрироваться" in page.text and "ТОИПКРО" in page.text
    assert "латинские буквы" in page.text  # the rules are shown before the user types
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'name="municipality_id"' not in page.text  # the invitation carries one


def test_get_never_consumes_the_key(anonymous, expert_link, session_factory) -> None:
    for _ in range(3):
        assert anonymous.get(expert_link).status_code == 200
    with session_factory() as session:
        assert session.scalar(select(Invitation.accepted_at)) is None


def test_registration_gives_the_invitations_role_and_scope(anonymous, expert_link, session_factory) -> None:
    response = register(anonymous, expert_link, "Petrov.A", PASSWORD)
    assert response.status_code == 200
    assert "Регистрация завершена" in response.text and "Запишите" in response.text
    assert 'href="/admin/login"' in response.text
    [user] = users_named(session_factory, "petrov.a")
    with session_factory() as session:
        invitation = session.scalar(select(Invitation))
        assert session.get(User, user.id).role.code == "expert"
    assert user.municipality_id == municipality_id(session_factory, "Томский район")
    assert user.email == "expert@example.ru"
    assert invitation.accepted_user_id == user.id and invitation.accepted_at is not None
    assert user.invitation_id == invitation.id
    assert log_in(anonymous, "petrov.a", PASSWORD).status_code == 302


def test_used_key_gets_a_page_without_the_form(anonymous, expert_link) -> None:
    register(anonymous, expert_link, "petrov", PASSWORD)
    for response in (anonymous.get(expert_link), register_again(anonymous, expert_link)):
        assert response.status_code == 410
        assert "уже зарегистрировались" in response.text
        assert 'name="password"' not in response.text


def register_again(client, link):
    return client.post(link, data={"username": "other", "password": PASSWORD, "password_confirm": PASSWORD})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expires_at": utcnow() - timedelta(minutes=1)}, "Срок действия приглашения истёк"),
        ({"revoked_at": utcnow()}, "Приглашение отозвано"),
    ],
)
def test_expired_or_revoked_key_explains_what_to_do(anonymous, expert_link, session_factory, change, message) -> None:
    with session_factory.begin() as session:
        session.execute(update(Invitation).values(**change))
    response = anonymous.get(expert_link)
    assert response.status_code == 410
    assert message in response.text and "координатор" in response.text
    assert register_again(anonymous, expert_link).status_code == 410
    assert users_named(session_factory, "petrov") == []


@pytest.mark.parametrize("key", ["", "nonsense", "x" * 5000, "%00", "../../etc/passwd"])
def test_unknown_key_is_a_clear_404(anonymous, key) -> None:
    response = anonymous.get("/Account/RegisterByInvite", params={"k": key, "t": "Expert"})
    assert response.status_code == 404
    assert "Ссылка для регистрации неверна" in response.text


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("иван", "Недопустимое имя пользователя"),
        ("іvan", "Недопустимое имя пользователя"),  # Cyrillic і looks Latin
        ("1ivan", "Недопустимое имя пользователя"),
        ("iv", "Недопустимое имя пользователя"),
        ("ivan petrov", "Недопустимое имя пользователя"),
        ("a" * 33, "Недопустимое имя пользователя"),
        ("OLESYA", "уже занято"),
    ],
)
def test_bad_login_is_refused_and_what_was_typed_stays(
    anonymous, expert_link, session_factory, username, message
) -> None:
    response = register(anonymous, expert_link, username, PASSWORD)
    assert response.status_code == 400
    assert message in response.text
    assert f'value="{username}"' in response.text
    assert PASSWORD not in response.text
    with session_factory() as session:
        assert session.scalar(select(Invitation.accepted_at)) is None
    assert register(anonymous, expert_link, "petrov", PASSWORD).status_code == 200  # the key survived


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("короткий", "короткий", "Пароль слишком короткий"),
        (PASSWORD, PASSWORD + "x", "не совпадают"),
        ("petrov-12345", "petrov-12345", "не должен содержать имя пользователя"),
    ],
)
def test_bad_password_is_refused(anonymous, expert_link, session_factory, password, confirm, message) -> None:
    token = csrf_from(anonymous.get(expert_link).text)
    data = {
        "csrf_token": token,
        "username": "petrov",
        "password": password,
        "password_confirm": confirm,
        "consent": "on",
    }
    response = anonymous.post(expert_link, data=data)
    assert response.status_code == 400
    assert message in response.text
    assert users_named(session_factory, "petrov") == []


def test_long_cyrillic_password_registers_and_logs_in(anonymous, expert_link) -> None:
    password = "пароль" * 20
    assert register(anonymous, expert_link, "petrov", password).status_code == 200
    assert log_in(anonymous, "petrov", password).status_code == 302


def test_form_without_its_token_is_refused(anonymous, expert_link, session_factory) -> None:
    data = {
        "username": "petrov",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "csrf_token": "forged",
        "consent": "on",
    }
    response = anonymous.post(expert_link, data=data)
    assert response.status_code == 400
    assert "Форма устарела" in response.text
    assert users_named(session_factory, "petrov") == []


def test_municipality_is_asked_only_when_the_invitation_has_none(operator_client, anonymous, session_factory) -> None:
    invite(operator_client, role="expert", email="culture@example.ru")
    link = last_link(session_factory, "culture@example.ru")
    page = anonymous.get(link).text
    assert 'name="municipality_id"' in page
    assert "Культура и искусство" in page and "Физическая культура и спорт" in page
    missing = register(anonymous, link, "culture", PASSWORD)
    assert missing.status_code == 400 and "Выберите муниципалитет" in missing.text
    culture = municipality_id(session_factory, "Культура и искусство")
    assert register(anonymous, link, "culture", PASSWORD, municipality_id=str(culture)).status_code == 200
    assert users_named(session_factory, "culture")[0].municipality_id == culture


def test_school_coordinator_gets_the_school_of_the_invitation(operator_client, anonymous, session_factory) -> None:
    school = add_organization(session_factory, "МАОУ СОШ № 2", "Город Томск")
    invite(operator_client, role="organization_coordinator", email="school@example.ru", organization_id=str(school))
    link = last_link(session_factory, "school@example.ru")
    assert link.endswith("t=SchoolCoordinator")
    assert register(anonymous, link, "school2", PASSWORD).status_code == 200
    [user] = users_named(session_factory, "school2")
    assert (user.organization_id, user.municipality_id) == (school, municipality_id(session_factory, "Город Томск"))


def test_one_key_submitted_twice_at_once_creates_exactly_one_user(expert_link, session_factory) -> None:
    key = expert_link.split("k=")[1].split("&")[0]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(username: str) -> None:
        barrier.wait()
        try:
            with session_factory.begin() as session:
                accept_invitation(
                    session, key, username=username, password_hash="x", municipality_id=None, now=utcnow()
                )
            outcomes.append("created")
        except InvitationError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=submit, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("created") == 1
    [refusal] = [outcome for outcome in outcomes if outcome != "created"]
    assert "уже зарегистрировались" in refusal
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.username.in_(["first", "second"]))) == 1
