"""«Журнал действий» (checklist 37): the audit trail of logins, invitations, registrations, account changes,
passwords, applications and documents — who, when, from which address, what; never a password, a key or a
link with a key, neither in the database nor in a log. Letters go through a real SMTP server."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

import anyio
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import transport_for
from admin_app.redaction import scrub_fields
from models import Application, AuditEvent, Invitation, PasswordReset, Role, RoleCode, User
from settings import Settings, load_settings
from tests.application_helpers import TEACHER
from tests.conftest import BASE_URL, PASSWORD, csrf_from, env_for, log_in
from tests.invitation_helpers import add_organization, invite, municipality_id, register
from tests.smtp_server import SmtpServer

FIRST_PASSWORD = "зелёная-лампа-над-столом"
PROFILE_PASSWORD = "жёлтый-трамвай-у-моста"
RESET_PASSWORD = "тихая-река-в-сосновом-бору"
KEY = re.compile(r"[?&]k=([\w-]+)")
LIST = "/admin/audit-event/list"
LOGINS = ("login", "login_failed")
ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
TEST_TOOLS = ("httpx2", "mail.log")


@pytest.fixture
def settings(database_url: str, tmp_path, smtp_server: SmtpServer) -> Settings:
    """The application sends its letters to the SMTP server on loopback."""
    smtp = {"MAIL_BACKEND": "smtp", "SMTP_HOST": smtp_server.host, "SMTP_PORT": str(smtp_server.port)}
    return load_settings(env_for(database_url, tmp_path / "var", **smtp))


@pytest.fixture
def browser(app: Starlette) -> Iterator[Callable[[], TestClient]]:
    """Another person's browser: no panel session."""
    clients: list[TestClient] = []

    def open_browser() -> TestClient:
        clients.append(TestClient(app, base_url=BASE_URL, follow_redirects=False).__enter__())
        return clients[-1]

    yield open_browser
    for client in clients:
        client.__exit__(None, None, None)


def deliver(session_factory: sessionmaker[Session], settings: Settings) -> None:
    anyio.run(partial(deliver_due, session_factory, transport_for(settings)))


def plain_text(message) -> str:
    return message.get_body(("plain",)).get_content()


def link_to(smtp_server: SmtpServer, address: str, path: str) -> str:
    """The newest link to `path` in the letters that reached `address`, as a path for the test client."""
    for message in reversed(smtp_server.messages):
        found = re.search(re.escape(BASE_URL) + r"(" + re.escape(path) + r"\?k=[\w-]+(?:&t=\w+)?)", plain_text(message))
        if message["To"] == address and found:
            return found.group(1)
    raise AssertionError(f"no link to {path} in the letters to {address}")


def keys_in_letters(smtp_server: SmtpServer) -> set[str]:
    return {key for message in smtp_server.messages for key in KEY.findall(plain_text(message))}


def stored_secrets(session_factory: sessionmaker[Session]) -> set[str]:
    """Every password hash and key hash the database holds now."""
    with session_factory() as session:
        return {
            *session.scalars(select(User.password_hash)),
            *session.scalars(select(Invitation.key_hash)),
            *session.scalars(select(PasswordReset.key_hash)),
            *(value for value in session.scalars(select(Application.status_key_hash)) if value),
        }


def trail(session_factory: sessionmaker[Session]) -> list[tuple[str, str, str, str, str]]:
    """(action, who, target type, target, address) of every event but logins, oldest first."""
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.not_in(LOGINS)).order_by(AuditEvent.id))
        return [(e.action, e.actor_name, e.target_type, e.target_label, e.address) for e in events]


def details_of(session_factory: sessionmaker[Session], action: str) -> list[str]:
    with session_factory() as session:
        return list(session.scalars(select(AuditEvent.details).where(AuditEvent.action == action)))


def everything_stored(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        rows = session.execute(select(AuditEvent.__table__)).all()
    return "\n".join(" | ".join(str(value) for value in row) for row in rows)


def app_logs(caplog: pytest.LogCaptureFixture) -> str:
    """What the application logged: not the test's tools (the client's log of the URLs it requests, the SMTP
    server's log of the letters it receives)."""
    return "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records if record.name not in TEST_TOOLS
    )


def post_with_token(client: TestClient, token_page: str, path: str, **fields: str):
    token = csrf_from(client.get(token_page).text)
    return client.post(path, data={"csrf_token": token, **fields})


def rows_of(page: str) -> list[str]:
    """The list's rows as the operator reads them: the text of each row of the table body."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    assert body, "the page has no table"
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in ROW.findall(body.group(1))]


def test_auth_events_are_logged_with_no_secrets(
    operator_client, browser, session_factory, settings, smtp_server, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    operator = operator_client
    tomsk = str(municipality_id(session_factory, "Томский район"))
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    hashes = stored_secrets(session_factory)

    # An invitation, its letter, the registration by its link; the new user logs in and changes the password.
    invite(operator, role="expert", email="ivan@example.ru", municipality_id=tomsk)
    deliver(session_factory, settings)
    ivan = browser()
    assert register(
        ivan, link_to(smtp_server, "ivan@example.ru", "/Account/RegisterByInvite"), "ivan.petrov", FIRST_PASSWORD
    ).status_code in (200, 302)
    hashes |= stored_secrets(session_factory)
    assert log_in(ivan, "ivan.petrov", FIRST_PASSWORD).status_code == 302
    fields = {"current_password": FIRST_PASSWORD, "password": PROFILE_PASSWORD, "password_confirm": PROFILE_PASSWORD}
    assert post_with_token(ivan, "/admin/profile", "/admin/profile/password", **fields).status_code == 302
    hashes |= stored_secrets(session_factory)

    # A second invitation, resent and revoked.
    invite(operator, role="expert", email="maria@example.ru", municipality_id=tomsk)
    deliver(session_factory, settings)
    with session_factory() as session:
        maria = session.scalar(select(Invitation.id).where(Invitation.email == "maria@example.ru"))
    for slug in ("resend", "revoke"):
        operator.get(f"/admin/invitation/action/{slug}", params={"pks": str(maria)})
        deliver(session_factory, settings)

    # «Забыли пароль?» from another browser, the link from the letter, a new password.
    stranger = browser()
    post_with_token(stranger, "/Account/ForgotPassword", "/Account/ForgotPassword", login="ivan.petrov")
    deliver(session_factory, settings)
    reset_link = link_to(smtp_server, "ivan@example.ru", "/Account/ResetPassword")
    form = {"password": RESET_PASSWORD, "password_confirm": RESET_PASSWORD}
    assert post_with_token(stranger, reset_link, reset_link, **form).status_code == 200
    hashes |= stored_secrets(session_factory)

    # The operator edits the user, switches them off and on again.
    with session_factory() as session:
        ivan_id = session.scalar(select(User.id).where(User.username == "ivan.petrov"))
        expert_role = session.scalar(select(Role.id).where(Role.code == RoleCode.EXPERT))
    edit = f"/admin/user/edit/{ivan_id}"
    edit_token = csrf_from(operator.get(edit).text)
    user_form = {
        "full_name": "Петров Иван",
        "email": "ivan@example.ru",
        "role": str(expert_role),
        "municipality": tomsk,
        "is_active": "y",
        "csrf_token": edit_token,
        "save": "Save",
    }
    assert operator.post(edit, data=user_form).status_code == 302
    for slug in ("deactivate", "activate"):
        operator.get(f"/admin/user/action/{slug}", params={"pks": str(ivan_id)})

    # A teacher applies on the public page; the operator registers the application, attaches and downloads a file.
    teacher = browser()
    data = {**TEACHER, "consent": "on", "organization_id": str(school)}
    assert post_with_token(teacher, "/Application/Submit", "/Application/Submit", **data).status_code in (200, 302, 303)
    deliver(session_factory, settings)
    with session_factory() as session:
        application = session.scalar(select(Application.id))
    post_with_token(operator, "/admin/", f"/admin/application/{application}/status", to="registered")
    post_with_token(operator, "/admin/", f"/admin/application/{application}/experts", experts=str(ivan_id))
    post_with_token(operator, "/admin/", f"/admin/application/{application}/deadline", deadline="2099-01-15")
    token = csrf_from(operator.get("/admin/").text)
    operator.post(
        f"/admin/application/{application}/documents",
        data={"csrf_token": token, "kind": "application"},
        files={"file": ("заявление.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")},
    )
    details = operator.get(f"/admin/application/details/{application}").text
    download = re.search(rf'href="{BASE_URL}(/admin/application/{application}/documents/\d+)"', details).group(1)
    assert operator.get(download).status_code == 200

    assert trail(session_factory) == [
        ("invitation_sent", "olesya", "invitation", "ivan@example.ru", "testclient"),
        ("registered", "", "user", "ivan.petrov", "testclient"),
        ("password_changed", "ivan.petrov", "user", "ivan.petrov", "testclient"),
        ("invitation_sent", "olesya", "invitation", "maria@example.ru", "testclient"),
        ("invitation_resent", "olesya", "invitation", "maria@example.ru", "testclient"),
        ("invitation_revoked", "olesya", "invitation", "maria@example.ru", "testclient"),
        ("password_reset", "", "user", "ivan.petrov", "testclient"),
        ("user_changed", "olesya", "user", "ivan.petrov", "testclient"),
        ("user_deactivated", "olesya", "user", "ivan.petrov", "testclient"),
        ("user_activated", "olesya", "user", "ivan.petrov", "testclient"),
        ("application_submitted", "", "application", "Петрова Анна Ивановна", "testclient"),
        ("application_status", "olesya", "application", "Петрова Анна Ивановна", "testclient"),
        ("experts_assigned", "olesya", "application", "Петрова Анна Ивановна", "testclient"),
        ("deadline_set", "olesya", "application", "Петрова Анна Ивановна", "testclient"),
        ("document_uploaded", "olesya", "application", "Петрова Анна Ивановна", "testclient"),
        ("document_downloaded", "olesya", "application", "Петрова Анна Ивановна", "testclient"),
    ]
    [changed] = details_of(session_factory, "user_changed")
    assert "ФИО: Петров Иван" in changed and "Роль: Специалист по аттестации" in changed
    assert "Активен: да" in changed and "Муниципалитет: Томский район" in changed
    assert details_of(session_factory, "application_status") == ["«Новое (не зарегистрировано)» → «Зарегистрировано»"]
    assert details_of(session_factory, "experts_assigned") == ["Петров Иван"]
    assert details_of(session_factory, "deadline_set") == ["15.01.2099"]
    assert details_of(session_factory, "document_downloaded") == ["заявление.pdf (Заявление педагога)"]

    keys = keys_in_letters(smtp_server)
    assert len(keys) >= 5, "letters of two invitations, a resend, a reset and an application"
    secrets = {PASSWORD, FIRST_PASSWORD, PROFILE_PASSWORD, RESET_PASSWORD, edit_token, *keys, *hashes}
    stored, logged = everything_stored(session_factory), app_logs(caplog)
    assert "csrf" not in stored.lower() and "$2b$" not in stored
    for secret in secrets:
        assert secret not in stored, f"the audit trail holds a secret: {secret[:6]}…"
        assert secret not in logged, f"a log holds a secret: {secret[:6]}…"


def test_logins_and_failed_logins_are_logged(client, make_user, session_factory) -> None:
    make_user("olesya")
    make_user("ivan.petrov", role="expert", municipality_id=municipality_id(session_factory, "Томский район"))
    with session_factory.begin() as session:
        session.scalars(select(User).where(User.username == "ivan.petrov")).one().is_active = False
    wrong, unknown = "совсем-не-тот-пароль", "nobody.here"

    log_in(client, "olesya", wrong)
    log_in(client, unknown, wrong)
    log_in(client, "ivan.petrov")
    assert log_in(client, "olesya").status_code == 302

    with session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        logins = [(e.action, e.actor_name, e.target_type, e.target_label, e.address, e.details) for e in events]
    assert logins == [
        ("login_failed", "", "user", "olesya", "testclient", "неверный пароль"),
        ("login_failed", "", "", "", "testclient", "неизвестное имя пользователя"),
        ("login_failed", "", "user", "ivan.petrov", "testclient", "учётная запись отключена"),
        ("login", "olesya", "user", "olesya", "testclient", ""),
    ]
    stored = everything_stored(session_factory)
    assert wrong not in stored and unknown not in stored and PASSWORD not in stored


def test_the_trail_is_shown_to_operators_only(app, operator_client, make_user, session_factory) -> None:
    tomsk = municipality_id(session_factory, "Томский район")
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    invite(operator_client, role="expert", email="ivan@example.ru", municipality_id=str(tomsk))
    assert "Журнал действий" in operator_client.get("/admin/").text
    page = operator_client.get(LIST)
    assert page.status_code == 200 and "Приглашение отправлено" in page.text
    with session_factory() as session:
        event = session.scalar(select(AuditEvent.id))
    assert operator_client.get(f"/admin/audit-event/details/{event}").status_code == 200

    for username, role, place in (
        ("kozlova", "municipal_coordinator", {"municipality_id": tomsk}),
        ("school", "organization_coordinator", {"organization_id": school, "municipality_id": tomsk}),
        ("expert", "expert", {"municipality_id": tomsk}),
    ):
        make_user(username, role=role, **place)
        with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
            log_in(other, username)
            assert "Журнал действий" not in other.get("/admin/").text
            for path in (LIST, f"/admin/audit-event/details/{event}", "/admin/audit-event/export/csv"):
                assert other.get(path).status_code == 403, (username, path)


def test_the_list_is_newest_first_in_tomsk_time_and_filters(app, operator_client, make_user, session_factory) -> None:
    tomsk = str(municipality_id(session_factory, "Томский район"))
    make_user("kozlova", role="municipal_coordinator", municipality_id=int(tomsk))
    with session_factory.begin() as session:
        session.add(
            AuditEvent(
                at=datetime(2020, 3, 1, 5, 0, tzinfo=UTC), actor_name="olesya", action="login", address="10.0.0.7"
            )
        )
    invite(operator_client, role="expert", email="first@example.ru", municipality_id=tomsk)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as coordinator:
        log_in(coordinator, "kozlova")
        invite(coordinator, role="expert", email="second@example.ru")
    with session_factory() as session:
        first = session.scalar(select(Invitation.id).where(Invitation.email == "first@example.ru"))
    operator_client.get("/admin/invitation/action/revoke", params={"pks": str(first)})

    def shown(**query: str) -> list[str]:
        return [row.split(" ", 2)[2] for row in rows_of(operator_client.get(LIST, params=query).text)]

    assert [row for row in shown() if "login" not in row and "Вход" not in row] == [
        "olesya Приглашение отозвано Приглашение first@example.ru testclient Роль: Специалист по аттестации (эксперт); "
        "Томский район",
        "kozlova Приглашение отправлено Приглашение second@example.ru testclient Роль: Специалист по аттестации "
        "(эксперт); Томский район",
        "olesya Приглашение отправлено Приглашение first@example.ru testclient Роль: Специалист по аттестации "
        "(эксперт); Томский район",
    ]
    assert "01.03.2020 12:00 olesya Вход — 10.0.0.7" in rows_of(operator_client.get(LIST).text)[-1]
    assert [row.split(" ")[1] for row in shown(action="invitation_revoked")] == ["Приглашение"]
    by_kozlova = shown(search="kozlova")
    assert all(row.startswith("kozlova ") for row in by_kozlova)
    assert any("second@example.ru" in row for row in by_kozlova)
    assert not any("first@example.ru" in row for row in by_kozlova)
    assert not any("10.0.0.7" in row for row in shown(period="week"))
    assert any("10.0.0.7" in row for row in shown(period="__all"))

    export = operator_client.get("/admin/audit-event/export/csv")
    lines = export.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "Время;Кто;Действие;Что;Адрес;Подробности"
    assert ";Приглашение отозвано;Приглашение first@example.ru;" in lines[1]
    assert lines[-1].startswith("01.03.2020 12:00;olesya;Вход;—;10.0.0.7;")


def test_the_panels_own_forms_are_logged_with_russian_labels(operator_client, session_factory) -> None:
    tomsk = str(municipality_id(session_factory, "Томский район"))
    token = csrf_from(operator_client.get("/admin/organization/create").text)
    data = {"name": "Лицей № 1", "municipality": tomsk, "csrf_token": token, "save": "Save"}
    assert operator_client.post("/admin/organization/create", data=data).status_code == 302
    with session_factory() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "record_created")).one()
    assert (event.actor_name, event.target_type, event.target_label, event.address) == (
        "olesya",
        "organization",
        "Лицей № 1",
        "testclient",
    )
    assert event.details == "Название: Лицей № 1; Муниципалитет: Томский район"
    assert token not in everything_stored(session_factory)


def test_a_bulk_preview_records_nothing_and_sending_records_each_invitation(operator_client, session_factory) -> None:
    tomsk = str(municipality_id(session_factory, "Томский район"))
    preview = post_with_token(
        operator_client,
        "/admin/mailing/bulk",
        "/admin/mailing/bulk",
        addresses="one@example.ru two@example.ru",
        role="expert",
        municipality_id=tomsk,
    ).text
    assert trail(session_factory) == []
    rows = html.unescape(re.search(r'<input type="hidden" name="rows" value="([^"]+)"', preview).group(1))
    data = {"csrf_token": csrf_from(preview), "rows": rows, "mode": "all"}
    operator_client.post("/admin/mailing/bulk/confirm", data=data)
    assert [(action, target) for action, _, _, target, _ in trail(session_factory)] == [
        ("invitation_sent", "one@example.ru"),
        ("invitation_sent", "two@example.ru"),
    ]


def test_the_scrubber_drops_secrets_by_name_and_hides_keys_and_hashes() -> None:
    bcrypt_hash = "$2b$12$" + "a" * 53
    fields = {
        "password": "тайный-пароль",
        "password_hash": bcrypt_hash,
        "key": "k1",
        "key_hash": "h1",
        "csrf_token": "t1",
        "token": "t2",
        "k": "k2",
        "full_name": "Иванов Иван",
        "is_active": False,
        "organization": None,
        "note": f"см. {BASE_URL}/Account/RegisterByInvite?k=abc-DEF_123&t=Expert и {bcrypt_hash}",
    }
    assert scrub_fields(fields, {"full_name": "ФИО", "is_active": "Активен"}) == (
        "ФИО: Иванов Иван; Активен: нет; organization: —; "
        f"note: см. {BASE_URL}/Account/RegisterByInvite?k=[скрыто]&t=Expert и [скрыто]"
    )
    for link in (
        f"{BASE_URL}/Account/ResetPassword?k=Zx_9-key",
        f"{BASE_URL}/Application/Status?k=Zx_9-key",
        f'<a href="{BASE_URL}/Account/RegisterByInvite?t=Expert&amp;k=Zx_9-key">',
    ):
        assert "Zx_9-key" not in scrub_fields({"text": link})


def test_the_servers_access_log_hides_the_keys_of_links(app, caplog) -> None:
    caplog.set_level(logging.INFO)
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.7:5000", "GET", "/Account/ResetPassword?k=Zx_9-key", "1.1", 200)
    assert caplog.records[-1].getMessage() == '10.0.0.7:5000 - "GET /Account/ResetPassword?k=[скрыто] HTTP/1.1" 200'
