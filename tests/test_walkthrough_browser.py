"""The seed's walk-through (steps 1–12 of the old system's instruction) end to end, in headless Chromium,
against a real `python -m admin_app serve` whose mail goes over SMTP to a real aiosmtpd server.

An operator invites a municipal coordinator; the coordinator registers from the link in the letter,
invites an expert and a school's coordinator, both register from their letters, and the coordinator
sees them as registered. A second test takes the SMTP server down while an invitation is sent.

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the tests instead of skipping them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from live_server import (
    ServeProcess,
    assert_no_english,
    body,
    create_operator,
    new_page,
    screenshot,
    server_env,
)
from panel_steps import log_in, open_menu
from sqlalchemy import update

from admin_app.db import make_engine
from models import OutboxMessage, OutboxStatus, utcnow
from tests.smtp_server import SmtpServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

OPERATOR = "centre.operator"
OPERATOR_EMAIL = "centre.operator@example.ru"
OPERATOR_PASSWORD = "пароль-оператора-центра"

MUNICIPALITY = "Томский район"
SCHOOL = "МБОУ «Корниловская СОШ»"

ROLE_COORDINATOR = "Муниципальный координатор по аттестации"
ROLE_EXPERT = "Специалист по аттестации (эксперт)"
ROLE_SCHOOL_COORDINATOR = "Координатор по аттестации в образовательной организации"

# The letter as the seed shows it (step 7); «Пожалуйста, не изменяйте тему и текст письма!»
SUBJECT = "Приглашаем Вас зарегистрироваться на сайте Центра аттестации педагогических работников ТОИПКРО"
GREETING = (
    "Добрый день. Вас приветствуют специалисты Центра аттестации педагогических работников ТОИПКРО. "
    'Приглашаем Вас зарегистрироваться на сайте Центра в целях активации электронной системы "Аттестация".'
)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/Account/RegisterByInvite\?k=[\w-]+&t=(\w+)")
MAIL_TIMEOUT = 15.0
QUEUED = "поставлено в очередь на отправку"


@dataclass(frozen=True)
class Person:
    email: str
    username: str
    password: str


COORDINATOR = Person("coordinator.tomsk@example.ru", "tomsk.coordinator", "пароль-координатора-района")
EXPERT = Person("expert.kornilovo@example.ru", "kornilovo.expert", "экспертпоаттестации")
SCHOOL_COORDINATOR = Person("school.kornilovo@example.ru", "kornilovo.school", "школьныйкоординатор")


@dataclass(frozen=True)
class Live:
    serve: ServeProcess
    smtp: SmtpServer
    database_url: str


@pytest.fixture
def live(database_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    """`serve` with an operator made by `create-user`, sending its mail to the aiosmtpd server."""
    env = server_env(
        database_url,
        tmp_path / "var",
        MAIL_BACKEND="smtp",
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=str(smtp_server.port),
    )
    create_operator(env, OPERATOR, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    serve = ServeProcess(env, tmp_path / "server.log")
    try:
        serve.start()
        yield Live(serve=serve, smtp=smtp_server, database_url=database_url)
    finally:
        serve.stop()


def open_invitation_form(page: Page) -> None:
    """Steps 3–4: the «Рассылка» menu item, then «Пригласить» in «Отправить приглашение»."""
    open_menu(page, "Рассылка")
    text = body(page)
    for expected in ("Отправить приглашение", "Список пользователей, зарегистрированных по приглашению"):
        assert expected in text, f"«Рассылка» lacks «{expected}»"
    page.get_by_role("link", name="Пригласить", exact=True).click()
    page.wait_for_url("**/admin/mailing/invite")
    text = body(page)
    for expected in ("Выбор роли пользователя", "Почта получателя", "Тема письма", "Не изменять!"):
        assert expected in text, f"the invitation form lacks «{expected}»"
    assert page.input_value("#subject") == SUBJECT
    assert page.input_value("#message") == GREETING


def role_options(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("#role option").all_inner_texts()]


def fill_invitation(
    page: Page, role: str, email: str, *, municipality: str | None = None, organization: str | None = None
) -> None:
    page.select_option("#role", label=role)
    page.fill("#email", email)
    if municipality is not None:
        page.select_option("#municipality_id", label=municipality)
    if organization is not None:
        page.select_option("#organization_id", label=organization)


def send_invitation(page: Page, email: str) -> None:
    """Step 6: «Отправить»; the page confirms the letter is on its way."""
    with page.expect_navigation():
        page.get_by_role("button", name="Отправить", exact=True).click()
    assert page.url.endswith("/admin/mailing"), f"the invitation was not accepted: {page.url}\n{body(page)}"
    assert f"Приглашение для {email} {QUEUED}." in body(page)


def letters_to(smtp: SmtpServer, address: str) -> list[EmailMessage]:
    return [message for message in list(smtp.messages) if address in str(message["To"])]


def wait_for_letter(smtp: SmtpServer, address: str, timeout: float = MAIL_TIMEOUT) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        letters = letters_to(smtp, address)
        if letters:
            assert len(letters) == 1, f"{len(letters)} letters to {address}"
            return letters[0]
        time.sleep(0.1)
    pytest.fail(f"no letter to {address} within {timeout:.0f} s; arrived: {[str(m['To']) for m in smtp.messages]}")


def registration_link(letter: EmailMessage, role_type: str) -> str:
    """Step 7: the seed's subject and text, and the link from the plain-text part."""
    assert letter["Subject"] == SUBJECT
    plain = letter.get_body(preferencelist=("plain",))
    assert plain is not None, "the letter has no plain-text part"
    text = plain.get_content()
    assert text.startswith(GREETING), text
    assert "Для регистрации перейдите по ссылке:" in text
    found = LINK.search(text)
    assert found, f"no registration link in the letter:\n{text}"
    assert found.group(1) == role_type
    return found.group(0)


def open_registration(page: Page, link: str, role: str, email: str) -> None:
    page.goto(link)
    text = body(page)
    for expected in ("Регистрация", "Создайте новую учетную запись.", "Имя пользователя", "Подтверждение пароля"):
        assert expected in text, f"the registration page lacks «{expected}»"
    assert f"Роль: {role}" in text
    assert email in text
    assert_no_english(text, "the registration page")


def submit_registration(page: Page, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.fill("#password_confirm", password)
    page.get_by_role("checkbox", name=re.compile("Я даю согласие на обработку")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Зарегистрироваться").click()


def register(page: Page, link: str, person: Person, role: str) -> None:
    """Step 9: a Latin login and a Cyrillic password."""
    open_registration(page, link, role, person.email)
    submit_registration(page, person.username, person.password)
    text = body(page)
    assert "Регистрация завершена" in text, text
    assert f"Учетная запись {person.username} создана." in text


def registrations_row(page: Page, email: str) -> str:
    """The text of the row of `email` in the registrations list."""
    rows = page.locator("tbody tr", has_text=email)
    assert rows.count() == 1, f"{rows.count()} rows for {email} in the registrations list:\n{body(page)}"
    return rows.inner_text()


def assert_in_view(page: Page, email: str, *texts: str) -> None:
    """Each text is a cell of the row of `email` that a user sees, scrolling the wide table if need be."""
    from playwright.sync_api import expect

    row = page.locator("tbody tr", has_text=email)
    for text in texts:
        cell = row.locator("td", has_text=text).first
        cell.scroll_into_view_if_needed()
        expect(cell).to_be_in_viewport()


def test_walkthrough(browser: Browser, live: Live) -> None:
    """Steps 1–12 of the seed by an operator, a municipal coordinator, an expert and a school's coordinator.

    Requests `browser` before `live`, so a missing Chromium is reported before the server starts.
    """
    base_url = live.serve.base_url

    # The operator adds a school of the Tomsk district through SQLAdmin's create form.
    operator = new_page(browser)
    log_in(operator, base_url, OPERATOR, OPERATOR_PASSWORD)
    assert "Личный кабинет оператора центра аттестации" in body(operator)
    open_menu(operator, "Образовательные организации")
    operator.get_by_role("link", name=re.compile("Создать")).click()
    operator.wait_for_url("**/admin/organization/create")
    assert_no_english(body(operator), "the organization form")
    operator.fill("#name", SCHOOL)
    operator.select_option("#municipality", label=MUNICIPALITY)
    with operator.expect_navigation():
        operator.get_by_role("button", name="Сохранить", exact=True).click()
    assert operator.url.endswith("/admin/organization/list"), f"{operator.url}\n{body(operator)}"
    school_row = operator.locator("tbody tr", has_text=SCHOOL).inner_text()
    assert MUNICIPALITY in school_row

    # Step 1: the operator invites the district's coordinator.
    open_invitation_form(operator)
    assert ROLE_COORDINATOR in role_options(operator)
    fill_invitation(operator, ROLE_COORDINATOR, COORDINATOR.email, municipality=MUNICIPALITY)
    screenshot(operator, "walkthrough-1-operator-invitation-form.png")
    send_invitation(operator, COORDINATOR.email)

    # Step 2 (the seed's 7): the letter arrives over SMTP.
    coordinator_link = registration_link(wait_for_letter(live.smtp, COORDINATOR.email), "MunicipalCoordinator")

    # Step 3 (the seed's 9): the coordinator registers in a browser of their own; the link is also open in a
    # second tab, whose form is sent after the registration (a second submission of a used link).
    coordinator = new_page(browser)
    second_tab = coordinator.context.new_page()
    open_registration(coordinator, coordinator_link, ROLE_COORDINATOR, COORDINATOR.email)
    open_registration(second_tab, coordinator_link, ROLE_COORDINATOR, COORDINATOR.email)
    assert coordinator.locator("#municipality_id").count() == 0, "the invitation already fixes the municipality"
    screenshot(coordinator, "walkthrough-2-registration.png")

    submit_registration(coordinator, "иван", COORDINATOR.password)
    text = body(coordinator)
    assert "Регистрация завершена" not in text
    assert "Недопустимое имя пользователя «иван»" in text, text
    assert "латинские буквы" in text
    assert coordinator.input_value("#username") == "иван"
    assert coordinator.input_value("#password") == ""
    screenshot(coordinator, "walkthrough-3-registration-cyrillic-login.png")

    submit_registration(coordinator, COORDINATOR.username, COORDINATOR.password)
    text = body(coordinator)
    assert "Регистрация завершена" in text, text
    assert f"Учетная запись {COORDINATOR.username} создана." in text

    submit_registration(second_tab, "tomsk.second", "другой-пароль-координатора")
    text = body(second_tab)
    assert "Регистрация невозможна" in text
    assert "По этой ссылке уже зарегистрировались." in text, text
    assert second_tab.locator("form").count() == 0
    second_tab.goto(coordinator_link)
    assert "По этой ссылке уже зарегистрировались." in body(second_tab)
    assert second_tab.locator("#username").count() == 0
    screenshot(second_tab, "walkthrough-4-used-link.png")
    second_tab.goto(f"{base_url}/Account/RegisterByInvite?k=no-such-key-0123456789&t=Expert")
    assert "Ссылка для регистрации неверна." in body(second_tab)
    assert second_tab.locator("form").count() == 0
    second_tab.close()

    # Step 2 of the seed: to the login page and into the coordinator's cabinet.
    coordinator.get_by_role("link", name="Войти в систему").click()
    coordinator.wait_for_url("**/admin/login**")
    log_in(coordinator, base_url, COORDINATOR.username, COORDINATOR.password)
    text = body(coordinator)
    assert coordinator.locator(".page-pretitle").text_content() == "Центр аттестации педагогических работников"
    for expected in (
        "Личный кабинет муниципального координатора по аттестации",
        "Количество новых заявлений",
        "Количество новых заявлений (не зарегистрированных) на аттестацию от педагогических работников = 0.",
        "Работа с документами по аттестации",
        "Работа с заявлениями аттестуемых",
        "Рассылка",
    ):
        assert expected in text, f"the coordinator's cabinet lacks «{expected}»"
    assert_no_english(text, "the coordinator's cabinet")
    screenshot(coordinator, "walkthrough-5-coordinator-cabinet.png")

    # Steps 3–6 and 11, by the coordinator: only experts and school coordinators, of their own district.
    open_invitation_form(coordinator)
    assert sorted(role_options(coordinator)) == sorted([ROLE_EXPERT, ROLE_SCHOOL_COORDINATOR])
    assert not [option for option in role_options(coordinator) if "Оператор" in option]
    assert coordinator.input_value("#municipality_id") == MUNICIPALITY
    assert SCHOOL in coordinator.locator("#organization_id").inner_text()
    fill_invitation(coordinator, ROLE_EXPERT, EXPERT.email)
    screenshot(coordinator, "walkthrough-6-coordinator-invitation-form.png")
    send_invitation(coordinator, EXPERT.email)
    open_invitation_form(coordinator)
    fill_invitation(coordinator, ROLE_SCHOOL_COORDINATOR, SCHOOL_COORDINATOR.email, organization=SCHOOL)
    send_invitation(coordinator, SCHOOL_COORDINATOR.email)

    # Both letters arrive; each invitee registers in a browser of their own.
    expert_link = registration_link(wait_for_letter(live.smtp, EXPERT.email), "Expert")
    school_link = registration_link(wait_for_letter(live.smtp, SCHOOL_COORDINATOR.email), "SchoolCoordinator")
    register(new_page(browser), expert_link, EXPERT, ROLE_EXPERT)
    register(new_page(browser), school_link, SCHOOL_COORDINATOR, ROLE_SCHOOL_COORDINATOR)

    # Step 10: «Список пользователей, зарегистрированных по приглашению» → «Посмотреть».
    open_menu(coordinator, "Рассылка")
    coordinator.get_by_role("link", name="Посмотреть", exact=True).click()
    coordinator.wait_for_url("**/admin/invitation/list**")
    screenshot(coordinator, "walkthrough-7-registrations-list.png")
    # The list shows the municipality, or the school where the invitation names one.
    for person, role, place in (
        (EXPERT, ROLE_EXPERT, MUNICIPALITY),
        (SCHOOL_COORDINATOR, ROLE_SCHOOL_COORDINATOR, SCHOOL),
    ):
        row = registrations_row(coordinator, person.email)
        for expected in ("зарегистрирован", person.username, role, place, "Отправлено"):
            assert expected in row, f"the row of {person.email} lacks «{expected}»: {row}"
        assert_in_view(coordinator, person.email, "зарегистрирован", person.username, "Отправлено")
    assert_no_english(body(coordinator), "the registrations list")
    screenshot(coordinator, "walkthrough-8-registrations-list-scrolled.png")

    # Exactly one letter each, nothing to anyone else.
    assert sorted(str(message["To"]) for message in live.smtp.messages) == sorted(
        [COORDINATOR.email, EXPERT.email, SCHOOL_COORDINATOR.email]
    )


def test_invitation_survives_smtp_outage(browser: Browser, live: Live) -> None:
    """The SMTP server is down when the operator sends an invitation: the letter waits in the queue and is
    delivered once, after the server is back.

    The sender retries a failed letter after about a minute (admin_app/mail/outbox.py), and neither a restart
    of `serve` nor `send-mail --once` sends it earlier. Rather than wait that minute, the test lets it pass
    while `serve` is stopped (the letter's next attempt is moved to now in the database) and starts `serve`
    again: its sender delivers the queued letter at start-up.
    """
    base_url = live.serve.base_url
    address = "outage.expert@example.ru"
    operator = new_page(browser)
    log_in(operator, base_url, OPERATOR, OPERATOR_PASSWORD)

    live.smtp.stop()
    open_invitation_form(operator)
    fill_invitation(operator, ROLE_EXPERT, address, municipality=MUNICIPALITY)
    send_invitation(operator, address)

    # The sender tried at once, failed, and says so in the server's log; the letter stays in the queue.
    failed = "не отправлено (попытка 1), повторим позже"
    deadline = time.monotonic() + MAIL_TIMEOUT
    while failed not in live.serve.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert failed in live.serve.log(), live.serve.log()
    open_menu(operator, "Приглашения и регистрации")
    row = registrations_row(operator, address)
    assert "Не отправлено, повторим" in row and "ожидает регистрации" in row, row
    assert_in_view(operator, address, "Не отправлено, повторим", "ожидает регистрации")
    screenshot(operator, "outage-1-list-queued.png")
    time.sleep(2)
    live.smtp.start()  # the same port

    live.serve.stop()
    engine = make_engine(live.database_url)
    try:
        with engine.begin() as connection:
            moved = connection.execute(
                update(OutboxMessage)
                .where(OutboxMessage.recipient == address, OutboxMessage.status == OutboxStatus.PENDING)
                .values(next_attempt_at=utcnow())
            ).rowcount
    finally:
        engine.dispose()
    assert moved == 1, "the letter is not waiting in the queue"
    live.serve.start()

    letter = wait_for_letter(live.smtp, address)
    link = registration_link(letter, "Expert")
    deadline = time.monotonic() + MAIL_TIMEOUT
    operator.reload()  # the session survives the restart
    while "Отправлено" not in registrations_row(operator, address) and time.monotonic() < deadline:
        time.sleep(0.3)
        operator.reload()
    row = registrations_row(operator, address)
    assert "Отправлено" in row and "Не отправлено" not in row, row
    assert_in_view(operator, address, "Отправлено")
    screenshot(operator, "outage-2-list-sent.png")
    assert len(letters_to(live.smtp, address)) == 1

    invitee = new_page(browser)
    open_registration(invitee, link, ROLE_EXPERT, address)
