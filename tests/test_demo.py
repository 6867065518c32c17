"""`python -m admin_app demo`: a believable region made by the project's own rules, refused on a database in use."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from conftest import BASE_URL, DatabaseFactory, Run, log_in
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.applications import centre_today, deadline_flag
from admin_app.db import make_engine, make_session_factory
from admin_app.invitations import InvitationStatus, status_of
from admin_app.passwords import verify_password
from models import (
    Application,
    ApplicationStatus,
    AuditEvent,
    Document,
    Invitation,
    Municipality,
    Organization,
    OutboxMessage,
    Role,
    RoleCode,
    User,
    utcnow,
)
from settings import Settings

PASSWORD_LINE = re.compile(r"пароль:\s+(\S+)")
DEMO_PASSWORD = "тёплый-сентябрь-в-томске"


def counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    models = (User, Invitation, Application, Document, OutboxMessage, AuditEvent, Organization, Municipality)
    with session_factory() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0 for model in models}


def test_demo_fills_a_fresh_database_and_its_users_can_log_in(
    cli: Run, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    result = cli("demo")

    assert result.returncode == 0, result.stderr
    assert "Демонстрационные данные загружены." in result.stdout
    assert "Письма не отправлялись" in result.stdout
    shown = PASSWORD_LINE.search(result.stdout)
    assert shown, result.stdout
    coordinator_login = re.search(r"(\S+) \(Город Томск\)", result.stdout)
    assert coordinator_login, result.stdout
    now = utcnow()
    with session_factory() as session:
        roles = set(session.scalars(select(Role.code).join(User, User.role_id == Role.id)))
        assert roles == set(RoleCode)
        invitations = session.scalars(select(Invitation)).all()
        assert {status_of(invitation, now) for invitation in invitations} == set(InvitationStatus)
        expiring_soon = [
            invitation
            for invitation in invitations
            if status_of(invitation, now) is InvitationStatus.PENDING
            and invitation.expires_at <= now + timedelta(days=3)
        ]
        assert expiring_soon
        applications = session.scalars(select(Application)).all()
        assert {application.status for application in applications} == set(ApplicationStatus)
        today = centre_today(now)
        flags = {deadline_flag(application, today) for application in applications}
        assert {"просрочено", "срок истекает"} <= flags
        for application in applications:
            assert application.history[-1].to_status == application.status
            assert application.history[0].from_status is None
            if application.status == ApplicationStatus.UNDER_REVIEW:
                assert application.experts
        per_municipality = session.execute(
            select(Organization.municipality_id, func.count()).group_by(Organization.municipality_id)
        ).all()
        assert len(per_municipality) == 22
        assert all(3 <= count <= 8 for _, count in per_municipality)
        stored = {path.name for path in settings.documents_dir.iterdir()}
        assert stored == set(session.scalars(select(Document.storage_name)))
        demo_user = session.scalar(select(User).where(User.username == coordinator_login.group(1)))
        assert demo_user is not None
        assert verify_password(shown.group(1), demo_user.password_hash)

    with TestClient(create_app(settings), base_url=BASE_URL, follow_redirects=False) as client:
        log_in(client, coordinator_login.group(1), shown.group(1))
        cabinet = client.get("/admin/")

    assert cabinet.status_code == 200
    assert "Личный кабинет муниципального координатора по аттестации" in cabinet.text


def test_demo_is_the_same_every_time_and_refuses_a_second_run(
    cli: Run, databases: DatabaseFactory, session_factory: sessionmaker[Session]
) -> None:
    first = cli("demo")
    elsewhere = cli("demo", env={"DATABASE_URL": databases.migrated()})

    assert first.returncode == 0, first.stderr
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert PASSWORD_LINE.sub("", first.stdout) == PASSWORD_LINE.sub("", elsewhere.stdout)
    before = counts(session_factory)

    second = cli("demo")

    assert second.returncode == 1, second.stderr
    assert second.stderr.startswith("Ошибка: В базе уже есть пользователи")
    assert "--force" in second.stderr
    assert len(second.stderr.splitlines()) == 1, second.stderr
    assert second.stdout == ""
    assert counts(session_factory) == before


def test_demo_after_bootstrap_takes_the_password_from_the_environment(
    cli: Run, databases: DatabaseFactory, tmp_path: Path
) -> None:
    empty = databases.empty()
    env = {"DATABASE_URL": empty, "DEMO_PASSWORD": DEMO_PASSWORD}
    assert cli("bootstrap", env=env).returncode == 0

    result = cli("demo", env=env)

    assert result.returncode == 0, result.stderr
    assert DEMO_PASSWORD not in result.stdout
    assert "из переменной DEMO_PASSWORD" in result.stdout
    engine = make_engine(empty)
    with make_session_factory(engine)() as session:
        hashes = session.scalars(select(User.password_hash).where(User.username != "operator")).all()
    engine.dispose()
    assert len(set(hashes)) == 1
    assert verify_password(DEMO_PASSWORD, hashes[0])


def test_demo_in_a_database_in_use_needs_force(
    cli: Run, make_user: Callable[..., User], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        tomsk = session.scalar(select(Municipality.id).where(Municipality.name == "Город Томск"))
    make_user("petrov", role="municipal_coordinator", municipality_id=tomsk)
    before = counts(session_factory)

    refused = cli("demo")
    weak = cli("demo", "--force", env={"DEMO_PASSWORD": "короткий"})

    assert refused.returncode == 1
    assert "укажите --force" in refused.stderr
    assert weak.returncode == 1
    assert weak.stderr.startswith("Ошибка: Пароль слишком короткий")
    assert counts(session_factory) == before

    forced = cli("demo", "--force")

    assert forced.returncode == 0, forced.stderr
    assert counts(session_factory)["User"] > before["User"]
    with session_factory() as session:
        assert session.scalar(select(func.count(User.id)).where(User.username == "petrov")) == 1
