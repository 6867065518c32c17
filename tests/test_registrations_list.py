"""«Список пользователей, зарегистрированных по приглашению»: /admin/invitation/list and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import Invitation, utcnow
from tests.conftest import log_in, log_out
from tests.invitation_helpers import invite, last_link, municipality_id, register

PASSWORD = "надёжный-пароль-2026"


@pytest.fixture
def invitations_of_two_municipalities(client, make_user, session_factory, app):
    """The operator invites two experts into the Tomsk district and one into Seversk; one registers."""
    make_user("olesya")
    log_in(client, "olesya")
    tomsk = str(municipality_id(session_factory, "Томский район"))
    seversk = str(municipality_id(session_factory, "ЗАТО Северск"))
    invite(client, role="expert", email="registered@example.ru", municipality_id=tomsk)
    invite(client, role="expert", email="waiting@example.ru", municipality_id=tomsk)
    invite(client, role="expert", email="seversk@example.ru", municipality_id=seversk)
    register(client, last_link(session_factory, "registered@example.ru"), "ivanova", PASSWORD)
    return client


def test_operator_sees_every_invitation_with_its_status(invitations_of_two_municipalities) -> None:
    page = invitations_of_two_municipalities.get("/admin/invitation/list").text
    for text in ("registered@example.ru", "waiting@example.ru", "seversk@example.ru", "ivanova"):
        assert text in page
    for label in ("зарегистрирован", "ожидает регистрации", "Статус", "Доставка", "Муниципалитет"):
        assert label in page


def test_coordinator_sees_only_own_municipality(
    invitations_of_two_municipalities, client, make_user, session_factory
) -> None:
    log_out(client)
    make_user("coord", role="municipal_coordinator", municipality_id=municipality_id(session_factory, "Томский район"))
    log_in(client, "coord")
    page = client.get("/admin/invitation/list").text
    assert "registered@example.ru" in page and "waiting@example.ru" in page
    assert "seversk@example.ru" not in page
    with session_factory() as session:
        foreign = session.scalar(select(Invitation.id).where(Invitation.email == "seversk@example.ru"))
    assert client.get(f"/admin/invitation/details/{foreign}").status_code == 404
    exported = client.get("/admin/invitation/export/csv").content.decode("utf-8-sig")
    assert "seversk@example.ru" not in exported and "waiting@example.ru" in exported


@pytest.mark.parametrize(
    ("status", "shown", "hidden"),
    [
        ("registered", "registered@example.ru", "waiting@example.ru"),
        ("pending", "waiting@example.ru", "registered@example.ru"),
        ("expired", "seversk@example.ru", "waiting@example.ru"),
    ],
)
def test_filter_by_status(invitations_of_two_municipalities, session_factory, status, shown, hidden) -> None:
    with session_factory.begin() as session:
        session.execute(
            update(Invitation)
            .where(Invitation.email == "seversk@example.ru")
            .values(expires_at=utcnow() - timedelta(days=1))
        )
    page = invitations_of_two_municipalities.get("/admin/invitation/list", params={"status": status}).text
    assert shown in page and hidden not in page
    assert "Все" in page and "срок истёк" in page


def test_filter_by_role_and_search_by_login(invitations_of_two_municipalities) -> None:
    client = invitations_of_two_municipalities
    assert "registered@example.ru" not in client.get("/admin/invitation/list", params={"role": "operator"}).text
    assert "registered@example.ru" in client.get("/admin/invitation/list", params={"role": "expert"}).text
    found = client.get("/admin/invitation/list", params={"search": "ivanova"}).text
    assert "registered@example.ru" in found and "waiting@example.ru" not in found


def test_csv_opens_in_a_russian_excel(invitations_of_two_municipalities) -> None:
    response = invitations_of_two_municipalities.get("/admin/invitation/export/csv")
    assert response.status_code == 200
    assert response.content.startswith("\ufeff".encode())
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:2] == ["Почта получателя", "Роль"]
    registered = next(row for row in rows if row[0] == "registered@example.ru")
    assert "зарегистрирован" in registered and "ivanova" in registered


def test_csv_neutralises_formulas(client, make_user, session_factory) -> None:
    make_user("olesya", full_name='=HYPERLINK("http://evil")')
    log_in(client, "olesya")
    invite(client, role="expert", email="x@example.ru", municipality_id="1")
    with session_factory.begin() as session:
        session.execute(update(Invitation).values(email="=cmd|' /C calc'!A0"))
    exported = client.get("/admin/invitation/export/csv").content.decode("utf-8-sig")
    assert "\n'=cmd" in exported
