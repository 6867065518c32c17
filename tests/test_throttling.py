"""Throttling (checklist 5, 22, 36): soft limits kept in the database, 429 with Retry-After and a Russian answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from live_server import ServeProcess, body, create_operator, new_page, screenshot, server_env
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.throttle import (
    APPLICATIONS_PER_ADDRESS,
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    LONGEST_WINDOW,
    PASSWORD_LINKS_PER_ACCOUNT,
    PURGE_EVERY,
    REGISTRATION_KEYS_PER_ADDRESS,
    purge_expired,
    record_hits,
    wait_seconds,
)
from models import Application, OutboxMessage, PasswordReset, ThrottleHit, User, utcnow
from settings import load_settings
from tests.conftest import BASE_URL, PASSWORD, csrf_from, env_for, log_in
from tests.invitation_helpers import add_organization, invite, last_link, municipality_id, register
from tests.test_public_applications import submit
from tests.test_recovery import ask_for_link

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WRONG = "неверный-пароль-2026"
NEW_PASSWORD = "надёжный-пароль-2026"
REGISTER = "/Account/RegisterByInvite"
LOGIN_REFUSED = "Слишком много попыток входа. Попробуйте снова через 15 минут."
KEYS_REFUSED = "Слишком много попыток регистрации по неверным ссылкам. Попробуйте снова через 60 минут."
APPLICATIONS_REFUSED = "С вашего адреса отправлено слишком много заявлений. Попробуйте снова через 60 минут."


def client_from(app: Starlette, address: str) -> TestClient:
    """A browser whose connection comes from `address` (the test client's own peer is «testclient»)."""
    return TestClient(app, base_url=BASE_URL, follow_redirects=False, client=(address, 50000))


def fail_logins(client: TestClient, username: str, times: int) -> None:
    token = csrf_from(client.get("/admin/login").text)
    for _ in range(times):
        response = client.post("/admin/login", data={"username": username, "password": WRONG, "csrf_token": token})
        assert response.status_code == 400, response.text


def age_hits(session_factory: sessionmaker[Session], by: timedelta) -> None:
    """As if `by` had passed since every hit."""
    with session_factory.begin() as session:
        for hit in session.scalars(select(ThrottleHit)):
            hit.at -= by


def retry_after(response) -> int:
    return int(response.headers["retry-after"])


def test_soft_lockout_never_permanent(client, make_user, session_factory) -> None:
    make_user("olesya")
    fail_logins(client, "olesya", LOGIN_PER_ACCOUNT.attempts)
    refused = log_in(client, "olesya", PASSWORD)
    assert refused.status_code == 429
    assert 14 * 60 < retry_after(refused) <= 15 * 60
    assert LOGIN_REFUSED in refused.text
    assert 'value="olesya"' in refused.text and PASSWORD not in refused.text
    assert client.get("/admin/").status_code == 302
    age_hits(session_factory, LOGIN_PER_ACCOUNT.window - timedelta(minutes=5))
    assert "через 5 минут" in log_in(client, "olesya", PASSWORD).text
    age_hits(session_factory, timedelta(minutes=5))
    assert log_in(client, "olesya", PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_soft_lockout_never_permanent_by_the_clock(session_factory) -> None:
    start, checks = utcnow(), [(LOGIN_PER_ACCOUNT, "subject")]
    with session_factory.begin() as session:
        for minute in range(LOGIN_PER_ACCOUNT.attempts):
            record_hits(session, checks, now=start + timedelta(minutes=minute))
        last = start + timedelta(minutes=LOGIN_PER_ACCOUNT.attempts - 1)
        assert wait_seconds(session, checks, now=last) == 15 * 60 - (LOGIN_PER_ACCOUNT.attempts - 1) * 60
        assert wait_seconds(session, checks, now=start + timedelta(minutes=14, seconds=59)) == 1
        assert wait_seconds(session, checks, now=start + LOGIN_PER_ACCOUNT.window) == 0  # the first hit has left
        assert wait_seconds(session, [(LOGIN_PER_ACCOUNT, "another subject")], now=last) == 0


def test_soft_lockout_success_clears_the_accounts_failures(client, make_user) -> None:
    make_user("olesya")
    fail_logins(client, "olesya", LOGIN_PER_ACCOUNT.attempts - 1)
    assert log_in(client, "olesya").status_code == 302
    other = client_from(client.app, "127.0.0.1")
    fail_logins(other, "olesya", LOGIN_PER_ACCOUNT.attempts - 1)
    assert log_in(other, "olesya").status_code == 302


def test_soft_lockout_counts_an_account_whatever_the_case(client, make_user) -> None:
    make_user("olesya")
    fail_logins(client, "olesya", LOGIN_PER_ACCOUNT.attempts // 2)
    fail_logins(client, "OLESYA", LOGIN_PER_ACCOUNT.attempts - LOGIN_PER_ACCOUNT.attempts // 2)
    assert log_in(client, "Olesya").status_code == 429


def test_soft_lockout_of_an_unknown_login_looks_the_same(client, make_user) -> None:
    make_user("olesya")
    pages = []
    for username in ("olesya", "nobody"):
        fail_logins(client, username, LOGIN_PER_ACCOUNT.attempts)
        refused = log_in(client, username, PASSWORD)
        assert refused.status_code == 429
        pages.append(refused.text.replace(username, "LOGIN").replace(csrf_from(refused.text), "T"))
    assert pages[0] == pages[1]


def test_soft_lockout_failed_logins_per_address_across_accounts(client, make_user) -> None:
    make_user("olesya")
    per_account = LOGIN_PER_ACCOUNT.attempts - 1
    for number in range(LOGIN_PER_ADDRESS.attempts // per_account):
        fail_logins(client, f"guess{number}", per_account)
    fail_logins(client, "guess-last", LOGIN_PER_ADDRESS.attempts % per_account)
    refused = log_in(client, "olesya")
    assert refused.status_code == 429 and LOGIN_REFUSED in refused.text
    assert log_in(client_from(client.app, "198.51.100.7"), "olesya").status_code == 302


def test_soft_lockout_keys_hold_no_typed_login(client, session_factory) -> None:
    typed = "Мой-Секретный-Пароль"  # a password typed into the login field by mistake
    fail_logins(client, typed, 1)
    with session_factory() as session:
        keys = session.scalars(select(ThrottleHit.key)).all()
    assert len(keys) == 2
    assert not [key for key in keys if typed.lower() in key.lower()]


def test_throttle_counts_shared_between_worker_processes(settings, make_user) -> None:
    """Two applications, each with its own engine, on one database: as two worker processes run."""
    make_user("olesya")
    half = LOGIN_PER_ACCOUNT.attempts // 2
    with (
        client_from(create_app(settings), "192.0.2.1") as first,
        client_from(create_app(settings), "192.0.2.2") as second,
    ):
        fail_logins(first, "olesya", half)
        fail_logins(second, "olesya", LOGIN_PER_ACCOUNT.attempts - half)
        assert log_in(first, "olesya").status_code == 429
        assert log_in(second, "olesya").status_code == 429


@pytest.fixture
def expert_link(operator_client, session_factory) -> str:
    district = municipality_id(session_factory, "Томский район")
    invite(operator_client, role="expert", email="expert@example.ru", municipality_id=str(district))
    return last_link(session_factory, "expert@example.ru")


def try_bad_keys(client: TestClient, times: int) -> None:
    for number in range(times):
        assert client.get(REGISTER, params={"k": f"guess-{number}", "t": "Expert"}).status_code == 404


def test_invalid_registration_keys_throttled_per_address(app, expert_link, session_factory) -> None:
    guesser, owner = client_from(app, "203.0.113.9"), client_from(app, "192.0.2.1")
    try_bad_keys(guesser, REGISTRATION_KEYS_PER_ADDRESS.attempts - 1)
    assert register(owner, expert_link, "petrov", NEW_PASSWORD).status_code == 200
    assert guesser.get(expert_link).status_code == 410  # a used key counts too: the last one allowed
    refused = [guesser.get(expert_link), guesser.post(expert_link, data={"username": "ivanov"})]
    for response in refused:
        assert response.status_code == 429 and 59 * 60 < retry_after(response) <= 60 * 60
        assert KEYS_REFUSED in response.text and 'name="password"' not in response.text
    try_bad_keys(owner, 1)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.username == "ivanov")) == 0


def test_invalid_registration_keys_throttled_even_for_a_valid_key(app, expert_link, session_factory) -> None:
    guesser = client_from(app, "203.0.113.9")
    try_bad_keys(guesser, REGISTRATION_KEYS_PER_ADDRESS.attempts)
    assert guesser.get(expert_link).status_code == 429
    age_hits(session_factory, REGISTRATION_KEYS_PER_ADDRESS.window)
    assert register(guesser, expert_link, "petrov", NEW_PASSWORD).status_code == 200


def test_reset_requests_dropped_silently_per_account(client, make_user, session_factory) -> None:
    make_user("ivan")
    answers = {ask_for_link(client, login).content for login in ("ivan", "IVAN", "ivan@example.com", "Ivan", "ivan")}
    assert len(answers) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(PasswordReset)) == PASSWORD_LINKS_PER_ACCOUNT.attempts
        assert not [key for key in session.scalars(select(ThrottleHit.key)) if "ivan" in key]
    age_hits(session_factory, PASSWORD_LINKS_PER_ACCOUNT.window)
    assert ask_for_link(client, "ivan").content in answers
    with session_factory() as session:
        assert (
            session.scalar(select(func.count()).select_from(OutboxMessage)) == PASSWORD_LINKS_PER_ACCOUNT.attempts + 1
        )


def test_public_applications_throttled_per_address(client, session_factory) -> None:
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    for number in range(APPLICATIONS_PER_ADDRESS.attempts):
        assert submit(client, school, email=f"teacher{number}@example.ru").status_code == 200
    refused = submit(client, school, email="last@example.ru", full_name="Сидоров Пётр Алексеевич")
    assert refused.status_code == 429 and 59 * 60 < retry_after(refused) <= 60 * 60
    assert APPLICATIONS_REFUSED in refused.text
    assert 'value="Сидоров Пётр Алексеевич"' in refused.text and 'value="last@example.ru"' in refused.text
    assert submit(client_from(client.app, "198.51.100.7"), school).status_code == 200
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == APPLICATIONS_PER_ADDRESS.attempts + 1


@pytest.fixture
def behind_proxy(database_url: str, tmp_path: Path) -> Starlette:
    """The application run behind a reverse proxy on 127.0.0.1, named in TRUSTED_PROXIES."""
    return create_app(load_settings(env_for(database_url, tmp_path / "proxy", TRUSTED_PROXIES="127.0.0.1")))


def test_trust_x_forwarded_for_only_from_the_proxy(app, behind_proxy) -> None:
    spoofer = client_from(app, "127.0.0.1")
    for number in range(REGISTRATION_KEYS_PER_ADDRESS.attempts):
        spoofer.headers["X-Forwarded-For"] = f"198.51.100.{number}"
        assert spoofer.get(REGISTER, params={"k": f"guess-{number}"}).status_code == 404
    spoofer.headers["X-Forwarded-For"] = "198.51.100.200"
    assert spoofer.get(REGISTER, params={"k": "guess"}).status_code == 429

    proxy = client_from(behind_proxy, "127.0.0.1")
    proxy.headers["X-Forwarded-For"] = "203.0.113.1"
    try_bad_keys(proxy, REGISTRATION_KEYS_PER_ADDRESS.attempts)
    assert proxy.get(REGISTER, params={"k": "guess"}).status_code == 429
    proxy.headers["X-Forwarded-For"] = "203.0.113.2"
    assert proxy.get(REGISTER, params={"k": "guess"}).status_code == 404


def test_old_hits_are_purged_on_a_later_hit(session_factory) -> None:
    now = utcnow()
    with session_factory.begin() as session:
        record_hits(session, [(LOGIN_PER_ACCOUNT, "old")], now=now - LONGEST_WINDOW - timedelta(seconds=1))
        record_hits(session, [(LOGIN_PER_ACCOUNT, "recent")], now=now - LONGEST_WINDOW + timedelta(seconds=1))
        for _ in range(PURGE_EVERY):
            record_hits(session, [(LOGIN_PER_ACCOUNT, "another")], now=now)
        keys = set(session.scalars(select(ThrottleHit.key)))
        assert LOGIN_PER_ACCOUNT.key("old") not in keys and LOGIN_PER_ACCOUNT.key("recent") in keys
        assert purge_expired(session, now=now + LONGEST_WINDOW) == 1  # «recent» has aged too; the rest are at `now`


def submit_login(page: Page, username: str, password: str) -> int:
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    return navigation.value.status


@pytest.mark.browser
def test_throttle_counts_shared_between_worker_processes_in_the_browser(
    browser: Browser, database_url: str, tmp_path: Path, session_factory
) -> None:
    """Two `serve` processes on one database: failures through either lock the account on both, for a while."""
    env = server_env(database_url, tmp_path / "var")
    create_operator(env, "olesya", "olesya@example.ru", PASSWORD)
    servers = [ServeProcess(env, tmp_path / "first.log"), ServeProcess(env, tmp_path / "second.log")]
    try:
        pages = []
        for server in servers:
            server.start()
            pages.append(new_page(browser))
            pages[-1].goto(f"{server.base_url}/admin/login")
        for page in pages:
            for _ in range(LOGIN_PER_ACCOUNT.attempts // 2):
                assert submit_login(page, "olesya", WRONG) == 400
        for page in pages:
            assert submit_login(page, "olesya", PASSWORD) == 429
            assert LOGIN_REFUSED in body(page)
            assert page.input_value("#username") == "olesya" and page.input_value("#password") == ""
        screenshot(pages[1], "login-throttled.png")
        age_hits(session_factory, LOGIN_PER_ACCOUNT.window)
        assert submit_login(pages[1], "olesya", PASSWORD) == 200
        assert "Выход" in body(pages[1])
    finally:
        for server in servers:
            server.stop()
