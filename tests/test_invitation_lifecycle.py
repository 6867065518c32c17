"""An invitation after it is sent: resend and revoke from the registrations list, expiry and the one reminder.

Every letter goes through the real SMTP server on loopback; a link is only ever taken from a letter
that arrived (or, for a letter that must not arrive, from the queue before it was dropped).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import anyio
import pytest
from live_server import ServeProcess, body, create_operator, new_page, server_env
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.auth import CurrentUser
from admin_app.dates import format_datetime
from admin_app.invitations import create_invitation, resend_invitation, revoke_invitation
from admin_app.mail.outbox import SUPERSEDED
from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import transport_for
from admin_app.reminders import remind_due
from admin_app.tokens import token_hash
from models import Invitation, OutboxMessage, OutboxStatus, User, utcnow
from settings import Settings, load_settings
from tests.conftest import BASE_URL, env_for, log_in
from tests.invitation_helpers import LINK, invite, last_link, municipality_id, register

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.smtp_server import SmtpServer

PASSWORD = "надёжный-пароль-2026"
EMAIL = "expert@example.ru"
LIST = "/admin/invitation/list"
REMINDER_DAYS = 3


@pytest.fixture
def settings(database_url: str, tmp_path, smtp_server: SmtpServer) -> Settings:
    """The application sends its letters to the SMTP server on loopback."""
    smtp = {"MAIL_BACKEND": "smtp", "SMTP_HOST": smtp_server.host, "SMTP_PORT": str(smtp_server.port)}
    return load_settings(env_for(database_url, tmp_path / "var", INVITATION_REMINDER_DAYS=str(REMINDER_DAYS), **smtp))


@pytest.fixture
def invitee(app: Starlette) -> Iterator[TestClient]:
    """The invited person's browser: no panel session."""
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as browser:
        yield browser


@pytest.fixture
def tomsk(session_factory: sessionmaker[Session]) -> str:
    return str(municipality_id(session_factory, "Томский район"))


@pytest.fixture
def invited(operator_client: TestClient, session_factory: sessionmaker[Session], tomsk: str) -> int:
    """The operator has invited an expert of the Tomsk district; the letter is still in the queue."""
    sent = invite(operator_client, role="expert", email=EMAIL, municipality_id=tomsk)
    assert "поставлено в очередь" in operator_client.get(sent.headers["location"]).text
    return invitation_of(session_factory, EMAIL).id


def deliver(session_factory: sessionmaker[Session], settings: Settings) -> int:
    return anyio.run(partial(deliver_due, session_factory, transport_for(settings)))


def letter_links(smtp_server: SmtpServer) -> list[str]:
    """The registration link of every letter that arrived, in order."""
    links = []
    for message in smtp_server.messages:
        found = LINK.search(message.get_body(("plain",)).get_content())
        assert found, f"no registration link in «{message['Subject']}»"
        links.append(found.group(0))
    return links


def delivered_links(smtp_server: SmtpServer) -> list[str]:
    """The same links as paths for the test client."""
    return [link.removeprefix(BASE_URL) for link in letter_links(smtp_server)]


def invitation_of(session_factory: sessionmaker[Session], email: str) -> Invitation:
    with session_factory() as session:
        return session.scalars(select(Invitation).where(Invitation.email == email)).one()


def letters_of(session_factory: sessionmaker[Session], invitation_id: int) -> list[tuple[str, str | None]]:
    with session_factory() as session:
        rows = session.execute(
            select(OutboxMessage.status, OutboxMessage.last_error)
            .where(OutboxMessage.invitation_id == invitation_id)
            .order_by(OutboxMessage.id)
        )
        return [tuple(row) for row in rows]


def act(client: TestClient, slug: str, pks: str, came_from: str = LIST) -> str:
    """Run an action as the panel's button does; return the text of the page it leads back to."""
    response = client.get(
        f"/admin/invitation/action/{slug}", params={"pks": pks}, headers={"Referer": BASE_URL + came_from}
    )
    assert response.status_code == 302, response.text
    assert response.headers["location"] == BASE_URL + came_from
    return html.unescape(client.get(response.headers["location"]).text)


def assert_registers_once(invitee: TestClient, link: str, username: str) -> None:
    done = register(invitee, link, username, PASSWORD)
    assert done.status_code == 200 and "Регистрация завершена" in done.text
    again = invitee.get(link)
    assert again.status_code == 410 and "уже зарегистрировались" in again.text


def assert_refused(invitee: TestClient, link: str, status: int, message: str) -> None:
    response = invitee.get(link)
    assert response.status_code == status
    assert "Регистрация невозможна" in response.text and message in response.text
    assert 'name="password"' not in response.text


def operator(session_factory: sessionmaker[Session], username: str = "olesya") -> CurrentUser:
    with session_factory() as session:
        user = session.scalars(select(User).options(joinedload(User.role)).where(User.username == username)).one()
        return CurrentUser.of(user)


def test_resend_from_the_list_kills_the_old_link_and_the_new_letter_registers_once(
    invited, operator_client, invitee, session_factory, settings, smtp_server
) -> None:
    assert deliver(session_factory, settings) == 1
    [first_link] = delivered_links(smtp_server)
    first_term = invitation_of(session_factory, EMAIL).expires_at

    page = act(operator_client, "resend", str(invited))

    assert f"Отправлено повторно с новой ссылкой: 1 ({EMAIL})." in page
    assert deliver(session_factory, settings) == 1
    [_, new_link] = delivered_links(smtp_server)
    assert new_link != first_link
    assert invitation_of(session_factory, EMAIL).expires_at > first_term
    assert_refused(invitee, first_link, 404, "Ссылка для регистрации неверна")
    assert_registers_once(invitee, new_link, "petrov")
    assert "зарегистрирован" in operator_client.get(LIST).text


def test_the_list_and_the_details_offer_both_actions(invited, operator_client) -> None:
    for page in (operator_client.get(LIST).text, operator_client.get(f"/admin/invitation/details/{invited}").text):
        assert "Отправить повторно" in page and "Отозвать" in page
    details = operator_client.get(f"/admin/invitation/details/{invited}").text
    assert "Действует до" in details and "Напоминание отправлено" in details


def test_a_revoked_invitation_is_refused_and_its_queued_letter_never_sent(
    invited, operator_client, invitee, session_factory, settings, smtp_server
) -> None:
    queued_link = last_link(session_factory, EMAIL)
    details = f"/admin/invitation/details/{invited}"

    page = act(operator_client, "revoke", str(invited), came_from=details)

    assert f"Отозвано: 1 ({EMAIL})." in page and "отозвано" in page
    assert letters_of(session_factory, invited) == [(OutboxStatus.DEAD, "Не отправлено: приглашение отозвано.")]
    assert deliver(session_factory, settings) == 0
    assert smtp_server.messages == []
    assert_refused(invitee, queued_link, 410, "Приглашение отозвано")
    assert "Письмо отменено" in html.unescape(operator_client.get(details).text)

    again = act(operator_client, "revoke", str(invited))
    assert "Отозвано: 0. Пропущено: 1. " in again and f"{EMAIL} — Приглашение уже отозвано." in again


def test_a_revoked_invitation_can_be_sent_again(
    invited, operator_client, invitee, session_factory, settings, smtp_server
) -> None:
    act(operator_client, "revoke", str(invited))
    act(operator_client, "resend", str(invited))

    assert deliver(session_factory, settings) == 1
    [link] = delivered_links(smtp_server)
    assert_registers_once(invitee, link, "petrov")


def test_revoking_kills_the_link_of_a_letter_already_delivered(
    invited, operator_client, invitee, session_factory, settings, smtp_server
) -> None:
    """A letter that already arrived cannot be called back: revoking kills its link instead."""
    assert deliver(session_factory, settings) == 1
    [link] = delivered_links(smtp_server)

    act(operator_client, "revoke", str(invited))

    assert_refused(invitee, link, 410, "Приглашение отозвано")


def test_registered_invitations_are_neither_resent_nor_revoked(
    invited, operator_client, invitee, session_factory, settings, smtp_server
) -> None:
    deliver(session_factory, settings)
    [link] = delivered_links(smtp_server)
    assert_registers_once(invitee, link, "petrov")

    resent = act(operator_client, "resend", str(invited))
    revoked = act(operator_client, "revoke", str(invited))

    assert "По этому приглашению уже зарегистрировались: отправлять его снова не нужно." in resent
    assert "По этому приглашению уже зарегистрировались: отозвать его нельзя." in revoked
    assert deliver(session_factory, settings) == 0
    assert invitation_of(session_factory, EMAIL).revoked_at is None


def test_an_expired_invitation_is_refused_and_its_queued_letter_never_sent(
    invited, operator_client, invitee, session_factory, settings, smtp_server
) -> None:
    queued_link = last_link(session_factory, EMAIL)
    with session_factory.begin() as session:  # the term runs out while the letter still waits in the queue
        session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))

    assert deliver(session_factory, settings) == 0

    assert smtp_server.messages == []
    assert letters_of(session_factory, invited) == [
        (OutboxStatus.DEAD, "Не отправлено: срок действия приглашения истёк.")
    ]
    assert_refused(invitee, queued_link, 410, "Срок действия приглашения истёк")
    assert "срок истёк" in operator_client.get(LIST).text


def test_one_reminder_comes_days_before_expiry_with_a_new_link_and_the_same_term(
    invited, operator_client, invitee, session_factory, settings, smtp_server
) -> None:
    deliver(session_factory, settings)
    [first_link] = delivered_links(smtp_server)
    expires_at = invitation_of(session_factory, EMAIL).expires_at
    reminder_time = expires_at - timedelta(days=REMINDER_DAYS)

    assert remind_due(session_factory, settings, reminder_time - timedelta(minutes=1)) == 0
    assert remind_due(session_factory, settings, reminder_time + timedelta(minutes=1)) == 1
    assert deliver(session_factory, settings) == 1

    reminder = smtp_server.messages[-1]
    assert reminder["To"] == EMAIL and reminder["Subject"].startswith("Напоминание")
    text = reminder.get_body(("plain",)).get_content()
    assert "Ссылка из прежнего письма больше не действует" in text
    assert f"Приглашение действует до {format_datetime(expires_at)}" in text
    [_, reminder_link] = delivered_links(smtp_server)
    assert invitation_of(session_factory, EMAIL).expires_at == expires_at
    details = operator_client.get(f"/admin/invitation/details/{invited}").text
    assert "Напоминание отправлено" in details and format_datetime(reminder_time + timedelta(minutes=1)) in details

    assert remind_due(session_factory, settings, reminder_time + timedelta(days=1)) == 0
    assert deliver(session_factory, settings) == 0
    assert len(smtp_server.messages) == 2
    assert_refused(invitee, first_link, 404, "Ссылка для регистрации неверна")
    assert_registers_once(invitee, reminder_link, "petrov")


@pytest.mark.parametrize("attempt", range(3))
def test_two_reminder_passes_at_the_same_moment_remind_once(
    attempt, invited, session_factory, settings, smtp_server
) -> None:
    deliver(session_factory, settings)
    reminder_time = invitation_of(session_factory, EMAIL).expires_at - timedelta(hours=1)
    both_ready = threading.Barrier(2)

    def reminder_pass() -> int:
        both_ready.wait()
        return remind_due(session_factory, settings, reminder_time)

    with ThreadPoolExecutor(2) as pool:
        reminded = [done.result(timeout=30) for done in [pool.submit(reminder_pass) for _ in range(2)]]

    assert sorted(reminded) == [0, 1]
    assert deliver(session_factory, settings) == 1
    assert [message["Subject"].startswith("Напоминание") for message in smtp_server.messages] == [False, True]


def test_a_resend_gives_the_new_term_its_own_reminder(invited, operator_client, session_factory, settings) -> None:
    deliver(session_factory, settings)
    first_term = invitation_of(session_factory, EMAIL).expires_at
    assert remind_due(session_factory, settings, first_term - timedelta(days=1)) == 1

    act(operator_client, "resend", str(invited))
    deliver(session_factory, settings)
    new_term = invitation_of(session_factory, EMAIL).expires_at

    assert invitation_of(session_factory, EMAIL).reminded_at is None
    assert remind_due(session_factory, settings, new_term - timedelta(days=1)) == 1


@pytest.mark.parametrize("scenario", ["letter still queued", "letter came late", "reminders off", "registered"])
def test_no_reminder_when_it_would_be_of_no_use(
    scenario, invited, invitee, session_factory, settings, smtp_server
) -> None:
    if scenario != "letter still queued":
        deliver(session_factory, settings)
    expires_at = invitation_of(session_factory, EMAIL).expires_at
    if scenario == "letter came late":  # sent a moment ago, with less than the reminder period left
        expires_at = utcnow() + timedelta(days=REMINDER_DAYS - 1)
        with session_factory.begin() as session:
            session.execute(update(Invitation).values(expires_at=expires_at))
    if scenario == "reminders off":
        settings = replace(settings, invitation_reminder_days=0)
    if scenario == "registered":
        assert_registers_once(invitee, delivered_links(smtp_server)[0], "petrov")

    assert remind_due(session_factory, settings, expires_at - timedelta(hours=1)) == 0


def test_the_running_server_sends_the_reminder(settings, make_user, session_factory, tomsk, smtp_server) -> None:
    make_user("olesya")
    with TestClient(create_app(settings, send_mail=True), base_url=BASE_URL, follow_redirects=False) as client:
        log_in(client, "olesya")
        invite(client, role="expert", email=EMAIL, municipality_id=tomsk)
        wait_until(lambda: invitation_of(session_factory, EMAIL).sent_at is not None)
        with session_factory.begin() as session:  # eleven days later: the first letter went out long ago
            session.execute(
                update(Invitation).values(
                    sent_at=utcnow() - timedelta(days=11), expires_at=utcnow() + timedelta(days=REMINDER_DAYS - 1)
                )
            )
        client.app.state.mail_sender.wake()
        wait_until(lambda: len(smtp_server.messages) == 2)
        assert client.get(delivered_links(smtp_server)[-1]).status_code == 200

    assert smtp_server.messages[1]["Subject"].startswith("Напоминание")
    assert len(smtp_server.messages) == 2


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, "the running server did not get there in 15 s"
        time.sleep(0.05)


@pytest.fixture
def seversk_invitation(operator_client, session_factory) -> int:
    seversk = str(municipality_id(session_factory, "ЗАТО Северск"))
    sent = invite(operator_client, role="expert", email="far@example.ru", municipality_id=seversk)
    assert "поставлено в очередь" in operator_client.get(sent.headers["location"]).text
    return invitation_of(session_factory, "far@example.ru").id


@pytest.fixture
def coordinator(operator_client, invited, seversk_invitation, make_user, tomsk) -> TestClient:
    """The municipal coordinator of the Tomsk district, with one invitation in scope and one (Seversk) outside."""
    operator_client.cookies.clear()
    make_user("coord", role="municipal_coordinator", municipality_id=int(tomsk))
    log_in(operator_client, "coord")
    return operator_client


@pytest.mark.parametrize("slug", ["resend", "revoke"])
def test_a_coordinator_cannot_touch_another_municipalitys_invitation(
    slug, coordinator, invited, seversk_invitation, session_factory
) -> None:
    before = invitation_of(session_factory, "far@example.ru")

    page = act(coordinator, slug, f"{seversk_invitation},{invited}")

    after = invitation_of(session_factory, "far@example.ru")
    assert (after.key_hash, after.revoked_at, after.expires_at) == (before.key_hash, None, before.expires_at)
    assert "far@example.ru" not in page and "Пропущено: 1. Не найдено: 1." in page
    assert f"({EMAIL})" in page
    assert len(letters_of(session_factory, seversk_invitation)) == 1


@pytest.mark.parametrize(
    "pks",
    ["", ",", "abc", "-1", "0", "1.5", "99999999999999999999", "1;DROP TABLE invitations", "%00", "١", "1" * 5000],
)
def test_malformed_selections_change_nothing_and_never_fail(pks, coordinator, session_factory) -> None:
    before = [
        (i.key_hash, i.revoked_at) for i in (invitation_of(session_factory, e) for e in (EMAIL, "far@example.ru"))
    ]

    for slug in ("resend", "revoke"):
        page = act(coordinator, slug, pks)
        assert ("Выберите приглашения в списке." in page) or ("Не найдено: 1." in page), page[-2000:]

    after = [(i.key_hash, i.revoked_at) for i in (invitation_of(session_factory, e) for e in (EMAIL, "far@example.ru"))]
    assert after == before


def test_too_many_selected_ids_are_refused(coordinator, invited) -> None:
    page = act(coordinator, "revoke", ",".join(str(number) for number in range(1, 600)))
    assert "Выбрано слишком много приглашений: не больше 500 за раз." in page


def test_a_big_selection_is_summed_up_in_a_few_words_that_fit_the_session_cookie(
    operator_client, session_factory, settings, tomsk
) -> None:
    acting = operator(session_factory)
    with session_factory.begin() as session:
        invitations = [
            create_invitation(
                session,
                acting,
                role="expert",
                email=f"teacher{number}@example.ru",
                municipality_id=int(tomsk),
                organization_id=None,
                settings=settings,
                now=utcnow(),
            )
            for number in range(40)
        ]
        pks = ",".join(str(invitation.id) for invitation in invitations)
    listed = "teacher0@example.ru, teacher1@example.ru, teacher2@example.ru и ещё 37"

    for expected in (f"Отозвано: 40 ({listed}).", f"Отозвано: 0. Пропущено: 40. {listed} — Приглашение уже отозвано."):
        response = operator_client.get("/admin/invitation/action/revoke", params={"pks": pks})
        assert len(response.headers["set-cookie"]) < 4096, "a browser would drop the session cookie"
        assert expected in html.unescape(operator_client.get(LIST).text)


@pytest.mark.parametrize(
    "referer", [None, f"{BASE_URL}/Application/Submit", f"{BASE_URL}/admin/invitation/action/revoke"]
)
def test_an_action_comes_back_to_the_list_unless_it_came_from_a_panel_page(referer, coordinator, invited) -> None:
    headers = {"Referer": referer} if referer else {}
    response = coordinator.get("/admin/invitation/action/revoke", params={"pks": str(invited)}, headers=headers)
    assert response.status_code == 302
    assert response.headers["location"] == BASE_URL + LIST
    assert f"Отозвано: 1 ({EMAIL})." in html.unescape(coordinator.get(LIST).text)


@pytest.mark.parametrize("attempt", range(3))
def test_two_resends_at_the_same_moment_leave_exactly_one_valid_key(
    attempt, invited, invitee, session_factory, settings, smtp_server
) -> None:
    deliver(session_factory, settings)
    [first_link] = delivered_links(smtp_server)
    acting = operator(session_factory)
    both_ready = threading.Barrier(2)

    def resend() -> None:
        both_ready.wait()
        with session_factory.begin() as session:
            resend_invitation(session, acting, invited, settings=settings, now=utcnow())

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(resend) for _ in range(2)]:
            done.result(timeout=30)

    assert deliver(session_factory, settings) == 1
    [_, link] = delivered_links(smtp_server)
    key = link.split("k=")[1].split("&")[0]
    assert token_hash(key) == invitation_of(session_factory, EMAIL).key_hash
    statuses = [status for status, _ in letters_of(session_factory, invited)]
    assert statuses == [OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.SENT]
    assert letters_of(session_factory, invited)[1] == (OutboxStatus.DEAD, SUPERSEDED)
    assert_refused(invitee, first_link, 404, "Ссылка для регистрации неверна")
    assert_registers_once(invitee, link, "petrov")


def test_a_resend_waits_for_a_revocation_in_progress_and_then_revives_the_invitation(
    invited, invitee, session_factory, settings, smtp_server
) -> None:
    acting = operator(session_factory)

    def resend() -> None:
        with session_factory.begin() as session:
            resend_invitation(session, acting, invited, settings=settings, now=utcnow())

    with ThreadPoolExecutor(1) as pool, session_factory() as revoking:
        revoke_invitation(revoking, acting, invited, now=utcnow())
        revoking.flush()
        resent = pool.submit(resend)
        time.sleep(0.5)
        assert not resent.done(), "the resend did not wait for the revocation to commit"
        revoking.commit()
        resent.result(timeout=30)

    assert invitation_of(session_factory, EMAIL).revoked_at is None
    assert deliver(session_factory, settings) == 1
    [link] = delivered_links(smtp_server)
    assert_registers_once(invitee, link, "petrov")


@pytest.mark.browser
def test_resend_from_the_list_and_revoke_from_the_details_in_a_browser(
    browser: Browser, database_url: str, smtp_server: SmtpServer, tmp_path
) -> None:
    """The buttons, their confirmations and the messages as a browser shows them, against `serve`."""
    from playwright.sync_api import expect

    smtp = {"MAIL_BACKEND": "smtp", "SMTP_HOST": smtp_server.host, "SMTP_PORT": str(smtp_server.port)}
    env = server_env(database_url, tmp_path / "var", **smtp)
    create_operator(env, "centre.operator", "centre.operator@example.ru", PASSWORD)
    serve = ServeProcess(env, tmp_path / "server.log")
    serve.start()
    try:
        page = new_page(browser)
        page.goto(f"{serve.base_url}/admin/login")
        page.fill("#username", "centre.operator")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(f"{serve.base_url}/admin/mailing/invite")
        page.select_option("#role", value="expert")
        page.fill("#email", EMAIL)
        page.select_option("#municipality_id", label="Томский район")
        with page.expect_navigation():
            page.get_by_role("button", name="Отправить", exact=True).click()
        wait_until(lambda: len(smtp_server.messages) == 1)

        page.goto(f"{serve.base_url}{LIST}")
        row = page.locator("tbody tr", has_text=EMAIL)
        row.locator("input.select-box").check()
        page.click("#dropdownMenuButton")
        page.click("#action-customconfirm-resend")
        confirmation = page.locator("#modal-confirmation-resend")
        expect(confirmation).to_contain_text("Ссылка из прежнего письма перестанет работать")
        with page.expect_navigation():
            confirmation.get_by_text("Да", exact=True).click()
        assert page.url == f"{serve.base_url}{LIST}"
        expect(page.locator(".toast-body")).to_contain_text(f"Отправлено повторно с новой ссылкой: 1 ({EMAIL}).")
        wait_until(lambda: len(smtp_server.messages) == 2)
        first_link, second_link = letter_links(smtp_server)

        row.locator("a[href*='/details/']").first.click()
        page.wait_for_url("**/admin/invitation/details/**")
        details = page.url
        page.get_by_text("Отозвать", exact=True).click()
        confirmation = page.locator("#modal-confirmation-revoke")
        expect(confirmation).to_contain_text("Отозвать приглашение?")
        with page.expect_navigation():
            confirmation.get_by_text("Да", exact=True).click()
        assert page.url == details
        expect(page.locator(".toast-body")).to_contain_text(f"Отозвано: 1 ({EMAIL}).")
        assert "отозвано" in body(page)

        invitee = new_page(browser)
        invitee.goto(first_link)
        assert "Ссылка для регистрации неверна" in body(invitee)
        invitee.goto(second_link)
        assert "Приглашение отозвано" in body(invitee)
        assert invitee.locator("#password").count() == 0
    finally:
        serve.stop()
