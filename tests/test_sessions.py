"""Sessions recorded on the server and «Запомнить меня» (security checklist items 8–13), through the real app."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.remember_me import issue_token, redeem_token
from admin_app.session_cookie import REMEMBER_COOKIE, SESSION_COOKIE
from admin_app.sessions import open_session, resolve_session
from models import Municipality, OutboxMessage, RememberToken, Role, User, UserSession, utcnow
from settings import Settings, load_settings
from tests.conftest import BASE_URL, PASSWORD, csrf_from, env_for, log_in, log_out

HTTPS_URL = "https://attestation.example.ru"
NEW_PASSWORD = "новый-пароль-для-входа"
RESET_LINK = re.compile(re.escape(BASE_URL) + r"(/Account/ResetPassword\?k=[\w-]+)")


@pytest.fixture
def browser(app: Starlette) -> Iterator[Callable[[], TestClient]]:
    """Another browser (its own cookie jar) on the same application; closed after the test."""
    opened: list[TestClient] = []

    def open_browser() -> TestClient:
        opened.append(TestClient(app, base_url=BASE_URL, follow_redirects=False).__enter__())
        return opened[-1]

    yield open_browser
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def https_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(env_for(database_url, tmp_path / "https", BASE_URL=HTTPS_URL))
    with TestClient(create_app(settings), base_url=HTTPS_URL, follow_redirects=False) as client:
        yield client


def set_cookies(response) -> dict[str, str]:
    """The response's Set-Cookie headers by cookie name, lower-cased."""
    return {header.split("=", 1)[0]: header.lower() for header in response.headers.get_list("set-cookie")}


def cookie_contents(client: TestClient) -> dict:
    """The session cookie as anyone holding it reads it: no key needed."""
    payload = client.cookies[SESSION_COOKIE].strip('"').split(".")[0]
    return json.loads(base64.b64decode(payload))


def signed_in(client: TestClient) -> bool:
    response = client.get("/admin/")
    if response.status_code == 302:
        assert response.headers["location"].startswith(f"{BASE_URL}/admin/login")
        return False
    assert response.status_code == 200
    return True


def sessions_of(session_factory: sessionmaker[Session], user_id: int) -> list[UserSession]:
    with session_factory() as session:
        return list(session.scalars(select(UserSession).where(UserSession.user_id == user_id).order_by(UserSession.id)))


def shift_session(session_factory: sessionmaker[Session], client: TestClient, **moved: timedelta) -> None:
    """Move this browser's session times into the past, as if that much time had gone by."""
    sid_hash = hashlib.sha256(cookie_contents(client)["sid"].encode()).hexdigest()
    with session_factory.begin() as session:
        values = {name: utcnow() - delta for name, delta in moved.items()}
        session.execute(update(UserSession).where(UserSession.sid_hash == sid_hash).values(**values))


def restart(client: TestClient) -> None:
    """The browser is closed and opened again: cookies without Max-Age are gone."""
    client.cookies.delete(SESSION_COOKIE)


def test_session_cookie_attributes(client, make_user, https_client) -> None:
    make_user("olesya")
    cookies = set_cookies(log_in(client, "olesya"))
    session_cookie = cookies[SESSION_COOKIE]
    assert "httponly" in session_cookie and "samesite=strict" in session_cookie and "path=/;" in session_cookie
    assert "max-age" not in session_cookie and "expires" not in session_cookie  # ends with the browser
    assert "secure" not in session_cookie  # plain http: a Secure cookie would never come back
    assert len(session_cookie) < 4096
    assert REMEMBER_COOKIE not in cookies

    login_page = https_client.get("/admin/login")
    assert "; secure" in set_cookies(login_page)[f"__Host-{SESSION_COOKIE}"]
    form = {"username": "olesya", "password": PASSWORD, "csrf_token": csrf_from(login_page.text), "remember": "on"}
    cookies = set_cookies(https_client.post("/admin/login", data=form))
    assert "; secure" in cookies[f"__Host-{SESSION_COOKIE}"] and "path=/;" in cookies[f"__Host-{SESSION_COOKIE}"]
    remember = cookies[f"__Secure-{REMEMBER_COOKIE}"]
    assert "; secure" in remember and "path=/admin" in remember
    assert "httponly" in remember and "samesite=strict" in remember
    assert https_client.get("/admin/").status_code == 200


def test_session_holds_only_the_session_id(client, make_user, session_factory) -> None:
    user = make_user("olesya")
    log_in(client, "olesya")
    assert client.get("/admin/").status_code == 200  # the page's logout form puts the CSRF token there

    contents = cookie_contents(client)
    assert set(contents) == {"sid", "csrf"}
    assert len(contents["sid"]) >= 43  # 256 bits, URL-safe base64
    assert "olesya" not in json.dumps(contents) and user.password_hash not in json.dumps(contents)
    [record] = sessions_of(session_factory, user.id)
    assert record.sid_hash == hashlib.sha256(contents["sid"].encode()).hexdigest() != contents["sid"]


def test_server_side_session_records_renewed_at_login(client, make_user, session_factory, browser) -> None:
    user = make_user("olesya")
    client.get("/admin/login")
    assert set(cookie_contents(client)) == {"csrf"}  # no session before the login
    client.headers["User-Agent"] = "Browser/1.0 " * 100
    log_in(client, "olesya")
    first = cookie_contents(client)["sid"]
    log_in(client, "olesya")
    second = cookie_contents(client)["sid"]
    assert second != first
    old, new = sessions_of(session_factory, user.id)
    assert old.revoked_at is not None and new.revoked_at is None
    assert old.address == "testclient" and len(old.user_agent) == 300
    assert new.expires_at - new.created_at == timedelta(hours=12)

    thief = browser()
    thief.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    assert signed_in(thief)  # the copy works while the session lives
    response = log_out(client)
    assert response.headers["Clear-Site-Data"] == '"cookies"'
    assert not signed_in(thief)
    assert not signed_in(client)
    assert sessions_of(session_factory, user.id)[-1].revoked_at is not None


def test_staff_idle_and_absolute_timeouts(client, make_user, session_factory, settings: Settings) -> None:
    make_user("olesya")
    log_in(client, "olesya")
    shift_session(session_factory, client, last_seen_at=timedelta(minutes=29))
    assert signed_in(client)  # and seen just now
    shift_session(session_factory, client, last_seen_at=timedelta(minutes=31))
    assert not signed_in(client)

    log_in(client, "olesya")
    shift_session(session_factory, client, expires_at=timedelta(seconds=1))
    assert not signed_in(client)

    start = utcnow()
    with session_factory.begin() as session:
        user_id = session.scalar(select(User.id).where(User.username == "olesya"))
        sid = open_session(session, user_id, address="", user_agent="", remembered=False, settings=settings, now=start)
    steps = [start + timedelta(minutes=29 * step) for step in range(1, 26)]  # busy all day, never 30 minutes idle
    with session_factory.begin() as session:
        alive = [resolve_session(session, sid, settings=settings, now=now) is not None for now in steps]
    assert alive == [True] * 24 + [False]  # 24 × 29 minutes is 11 h 36 min; 25 × 29 is past 12 hours


def test_remember_me_is_a_separate_rotating_token(client, make_user, session_factory, browser, settings) -> None:
    user = make_user("olesya")
    plain = browser()
    assert REMEMBER_COOKIE not in set_cookies(log_in(plain, "olesya"))
    restart(plain)
    assert not signed_in(plain)

    cookie = set_cookies(log_in(client, "olesya", remember="on"))[REMEMBER_COOKIE]
    assert f"max-age={14 * 86400}" in cookie and "path=/admin" in cookie
    first = client.cookies[REMEMBER_COOKIE]
    selector, validator = first.split(":")
    with session_factory() as session:
        [token] = session.scalars(select(RememberToken))
    assert token.selector == selector and token.validator_hash == hashlib.sha256(validator.encode()).hexdigest()

    restart(client)
    assert signed_in(client)  # a new session from the token, and the token rotated
    second = client.cookies[REMEMBER_COOKIE]
    assert second.split(":")[0] == selector and second != first
    assert sessions_of(session_factory, user.id)[-1].remembered

    thief = browser()
    thief.cookies.set(REMEMBER_COOKIE, first)  # copied before the rotation
    assert not signed_in(thief)
    assert not signed_in(client)  # the theft signal ended everything
    with session_factory() as session:
        assert session.scalars(select(RememberToken)).all() == []

    now = utcnow()
    with session_factory.begin() as session:
        issued = issue_token(session, user.id, settings=settings, now=now)
    with session_factory.begin() as session:
        _, rotated = redeem_token(session, issued.value, now=now + timedelta(days=13))
    assert rotated.max_age == 86400  # rotation never extends the 14 days
    with session_factory.begin() as session:
        assert redeem_token(session, rotated.value, now=now + timedelta(days=14)) is None


def test_password_change_deactivation_or_role_change_kills_sessions(
    client, make_user, session_factory, browser
) -> None:
    with session_factory() as session:
        tomsk, seversk = (
            session.scalar(select(Municipality.id).where(Municipality.name == name))
            for name in ("Томский район", "ЗАТО Северск")
        )
        roles = {code: role_id for code, role_id in session.execute(select(Role.code, Role.id))}
    make_user("olesya")
    ivanova = make_user("ivanova", role="expert", municipality_id=tomsk, full_name="Иванова Мария")
    log_in(client, "olesya")
    elsewhere = browser()

    saved = {"full_name": "Иванова Мария", "email": "ivanova@example.com", "role": str(roles["expert"])}
    saved |= {"municipality": str(tomsk), "is_active": "y", "save": "Save"}

    def edit_ivanova(**changed: str) -> None:
        """The operator saves ivanova's edit form with `changed`; what was saved before stays."""
        saved.update(changed)
        token = csrf_from(client.get(f"/admin/user/edit/{ivanova.id}").text)
        response = client.post(f"/admin/user/edit/{ivanova.id}", data={**saved, "csrf_token": token})
        assert response.status_code == 302, response.text

    def ivanova_elsewhere_is_out(change: Callable[[], object], password: str = PASSWORD) -> bool:
        """ivanova logs in with «Запомнить меня» in another browser; after `change`, is that browser out?"""
        log_in(elsewhere, "ivanova", password, remember="on")
        assert signed_in(elsewhere)
        change()
        return not signed_in(elsewhere)

    def switch_off_and_on_in_the_list() -> None:
        for slug in ("deactivate", "activate"):
            assert client.get(f"/admin/user/action/{slug}", params={"pks": str(ivanova.id)}).status_code == 302

    assert not ivanova_elsewhere_is_out(lambda: edit_ivanova(full_name="Иванова Мария Петровна"))
    assert ivanova_elsewhere_is_out(lambda: edit_ivanova(role=str(roles["municipal_coordinator"])))
    assert ivanova_elsewhere_is_out(lambda: edit_ivanova(municipality=str(seversk)))
    # switched off, then on again: the session that was open stays ended
    assert ivanova_elsewhere_is_out(lambda: (edit_ivanova(is_active=""), edit_ivanova(is_active="y")))
    assert ivanova_elsewhere_is_out(switch_off_and_on_in_the_list)

    own = browser()
    log_in(own, "ivanova", remember="on")
    assert ivanova_elsewhere_is_out(lambda: change_own_password(own))
    assert signed_in(own)  # the browser that changed it stays in, and is still remembered
    restart(own)
    assert signed_in(own)
    assert ivanova_elsewhere_is_out(lambda: reset_password(browser(), session_factory), NEW_PASSWORD)
    assert not signed_in(own)


def change_own_password(client: TestClient) -> None:
    token = csrf_from(client.get("/admin/profile").text)
    data = {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert client.post("/admin/profile/password", data={**data, "csrf_token": token}).status_code == 302


def reset_password(anonymous: TestClient, session_factory: sessionmaker[Session]) -> None:
    token = csrf_from(anonymous.get("/Account/ForgotPassword").text)
    anonymous.post("/Account/ForgotPassword", data={"login": "ivanova", "csrf_token": token})
    with session_factory() as session:
        letter = session.scalar(select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc()).limit(1))
    link = RESET_LINK.search(letter or "").group(1)
    form = {"password": "ещё-один-пароль-2027", "password_confirm": "ещё-один-пароль-2027"}
    response = anonymous.post(link, data={**form, "csrf_token": csrf_from(anonymous.get(link).text)})
    assert response.status_code == 200 and "ivanova" in response.text
