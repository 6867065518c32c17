"""The list pages at scale: each runs as many SQL statements for 60 rows as for 5 (no N+1 queries),
and the row count under the pagination is capped («более чем 10 000») instead of counting the table."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

import views.paging
from models import Application, AuditEvent, Invitation, Municipality, Organization, Role, User, utcnow
from tests.conftest import log_in, log_out
from tests.invitation_helpers import municipality_id

PLACE = "Город Томск"
# Every list page, with the text each generated row puts on it; pageSize=100 shows all 60 rows at once.
PAGES = {
    "/admin/application/list": "Педагог-{i} ",
    "/admin/invitation/list": "qc-invitee-{i}@",
    "/admin/user/list": "qc-user-{i}<",
    "/admin/organization/list": "Школа № {i}<",
    "/admin/municipality/list": "Тестовый район {i}<",
    "/admin/role/list": None,
    "/admin/audit-event/list": "объект qc-{i}<",
}
COORDINATOR_PAGES = (
    "/admin/application/list",
    "/admin/invitation/list",
    "/admin/user/list",
    "/admin/organization/list",
)


def add_rows(session_factory: sessionmaker[Session], first: int, last: int) -> None:
    """Rows first..last-1 of every listed table, each tied to related rows of its own (so lazy loads would show)."""
    now = utcnow()
    with session_factory.begin() as session:
        place = session.scalar(select(Municipality.id).where(Municipality.name == PLACE))
        expert = session.scalar(select(Role.id).where(Role.code == "expert"))
        for i in range(first, last):
            session.add(Municipality(name=f"Тестовый район {i}", kind="municipal_district"))
            school = Organization(name=f"Школа № {i}", municipality_id=place)
            user = User(
                username=f"qc-user-{i}",
                email=f"qc-user-{i}@example.ru",
                full_name=f"Эксперт {i}",
                password_hash="x",
                role_id=expert,
                municipality_id=place,
                organization=school,
            )
            session.add(
                Invitation(
                    key_hash=hashlib.sha256(f"qc-{i}".encode()).hexdigest(),
                    role_id=expert,
                    email=f"qc-invitee-{i}@example.ru",
                    municipality_id=place,
                    organization=school,
                    inviter=user,
                    accepted_user=user,
                    accepted_at=now,
                    expires_at=now + timedelta(days=7),
                    created_at=now - timedelta(minutes=i),
                )
            )
            session.add(
                Application(
                    teacher_full_name=f"Педагог-{i} Иванова",
                    teacher_email=f"teacher-{i}@example.ru",
                    position="учитель",
                    organization=school,
                    municipality_id=place,
                    requested_category="first",
                    experts=[user],
                )
            )
            session.add(AuditEvent(actor=user, actor_name=user.username, action="login", target_label=f"объект qc-{i}"))


@contextmanager
def counting(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_rest) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statement_counts(client: TestClient, engine, pages: tuple[str, ...], rows: int) -> dict[str, int]:
    counts = {}
    for path in pages:
        client.get(path)  # a first view may touch the session record; the second is the one counted
        with counting(engine) as statements:
            response = client.get(path, params={"pageSize": 100})
        assert response.status_code == 200, path
        marker = PAGES[path]
        if marker is not None:
            assert all(marker.format(i=i) in response.text for i in range(rows)), path
        counts[path] = len(statements)
    return counts


def test_operator_list_pages_run_as_many_statements_for_60_rows_as_for_5(
    client, make_user, session_factory, app
) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    add_rows(session_factory, 0, 5)
    few = statement_counts(client, app.state.engine, tuple(PAGES), 5)
    add_rows(session_factory, 5, 60)
    many = statement_counts(client, app.state.engine, tuple(PAGES), 60)
    assert many == few


def test_coordinator_list_pages_run_as_many_statements_for_60_rows_as_for_5(
    client, make_user, session_factory, app
) -> None:
    make_user("coord", role="municipal_coordinator", municipality_id=municipality_id(session_factory, PLACE))
    log_in(client, "coord")
    add_rows(session_factory, 0, 5)
    few = statement_counts(client, app.state.engine, COORDINATOR_PAGES, 5)
    add_rows(session_factory, 5, 60)
    many = statement_counts(client, app.state.engine, COORDINATOR_PAGES, 60)
    assert many == few


@pytest.fixture
def cap_of_ten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views.paging, "COUNT_CAP", 10)
    monkeypatch.setattr(views.paging, "PAGES_AHEAD", 1)


def test_count_beyond_the_cap_is_shown_as_more_than(cap_of_ten, client, make_user, session_factory) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    add_rows(session_factory, 0, 30)
    page = client.get("/admin/invitation/list", params={"pageSize": 5}).text
    assert "Показано 1–5 из более чем 10 элементов" in page
    assert "page=2" in page


def test_a_deep_page_counts_past_itself_and_links_the_next(cap_of_ten, client, make_user, session_factory) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    add_rows(session_factory, 0, 50)
    page = client.get("/admin/invitation/list", params={"pageSize": 5, "page": 4}).text
    assert "Показано 16–20 из более чем 25 элементов" in page
    assert "page=5" in page
    last = client.get("/admin/invitation/list", params={"pageSize": 5, "page": 10}).text
    assert "Показано 46–50 из 50 элементов" in last


def test_count_within_the_cap_is_exact_and_follows_the_filters(cap_of_ten, client, make_user, session_factory) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    add_rows(session_factory, 0, 8)
    assert "Показано 1–8 из 8 элементов" in client.get("/admin/invitation/list").text
    searched = client.get("/admin/invitation/list", params={"search": "qc-invitee-7@"}).text
    assert "Показано 1–1 из 1 элементов" in searched
    log_out(client)


def test_the_cabinets_figures_are_capped_too(cap_of_ten, client, make_user, session_factory) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    add_rows(session_factory, 0, 30)  # thirty new applications
    page = client.get("/admin/").text
    assert "на аттестацию от педагогических работников = <strong>более чем 10</strong>" in page
