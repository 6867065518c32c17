"""«Пригласить списком» in headless Chromium against a real `python -m admin_app serve` whose mail goes over
SMTP to a real aiosmtpd server: a municipal coordinator uploads a file with good and bad rows, reads the
preview, sends only the good rows, and the letters arrive with links that register.

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the test instead of skipping it.
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
from live_server import ServeProcess, assert_no_english, body, new_page, run_cli, screenshot, server_env
from panel_steps import log_in

from admin_app.db import make_engine, make_session_factory
from tests.invitation_helpers import add_organization
from tests.smtp_server import SmtpServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

MUNICIPALITY = "Томский район"
SCHOOL = "МБОУ «Корниловская СОШ»"
COORDINATOR = "tomsk.coordinator"
COORDINATOR_PASSWORD = "пароль-координатора-района"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/Account/RegisterByInvite\?k=[\w-]+&t=\w+")
MAIL_TIMEOUT = 15.0

# A file as a coordinator's spreadsheet saves it: Windows-1251, `;`, two good rows and two bad ones.
MIXED_FILE = (
    "Электронная почта;Роль;Образовательная организация;ФИО\r\n"
    "expert.one@example.ru;эксперт;;Смирнова Ольга Ивановна\r\n"
    f"school.head@example.ru;координатор ОО;{SCHOOL};Павлов Игорь\r\n"
    "not-an-address;эксперт;;\r\n"
    "EXPERT.ONE@example.ru;эксперт;;\r\n"
)


@dataclass(frozen=True)
class Live:
    serve: ServeProcess
    smtp: SmtpServer


@pytest.fixture
def live(database_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    """`serve` with a school in Томский район and that district's coordinator, sending mail to aiosmtpd."""
    engine = make_engine(database_url)
    try:
        add_organization(make_session_factory(engine), SCHOOL, MUNICIPALITY)
    finally:
        engine.dispose()
    env = server_env(
        database_url,
        tmp_path / "var",
        MAIL_BACKEND="smtp",
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=str(smtp_server.port),
    )
    run_cli(
        {**env, "ADMIN_PASSWORD": COORDINATOR_PASSWORD},
        *("create-user", "--role", "municipal_coordinator", "--username", COORDINATOR),
        *("--email", "tomsk.coordinator@example.ru", "--municipality", MUNICIPALITY),
    )
    serve = ServeProcess(env, tmp_path / "server.log")
    try:
        serve.start()
        yield Live(serve=serve, smtp=smtp_server)
    finally:
        serve.stop()


def row_text(page: Page, line: int) -> str:
    return page.locator("#bulk-rows tbody tr", has=page.locator(f"td:first-child:text-is('{line}')")).inner_text()


def wait_for_letters(smtp: SmtpServer, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while len(smtp.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(smtp.messages)


def test_a_coordinator_invites_a_list_from_a_file(browser: Browser, live: Live, tmp_path: Path) -> None:
    base_url = live.serve.base_url
    spreadsheet = tmp_path / "приглашения.csv"
    spreadsheet.write_bytes(MIXED_FILE.encode("cp1251"))

    coordinator = new_page(browser)
    log_in(coordinator, base_url, COORDINATOR, COORDINATOR_PASSWORD)
    coordinator.get_by_role("link", name="Рассылка", exact=True).click()
    coordinator.get_by_role("link", name="Пригласить списком", exact=True).click()
    coordinator.wait_for_url("**/admin/mailing/bulk")
    assert "«Электронная почта», «Роль», «Образовательная организация»" in body(coordinator)
    assert_no_english(body(coordinator), "the bulk invitation form")
    screenshot(coordinator, "bulk-0-form.png")

    coordinator.set_input_files("#file", str(spreadsheet))
    with coordinator.expect_navigation():
        coordinator.get_by_role("button", name="Проверить", exact=True).click()
    text = body(coordinator)
    assert "Приглашения ещё не отправлены." in text, text
    assert "Всего строк: 4. Готово к отправке: 2. С ошибками: 2." in text
    for line, expected in (
        (2, ("expert.one@example.ru", "Специалист по аттестации (эксперт)", MUNICIPALITY, "Смирнова Ольга Ивановна")),
        (3, ("school.head@example.ru", SCHOOL, "Павлов Игорь", "готово к отправке")),
        (4, ("not-an-address", "Неверный адрес электронной почты «not-an-address».")),
        (5, ("Повтор строки 2: этот адрес с этой ролью уже есть в списке.",)),
    ):
        row = row_text(coordinator, line)
        for part in expected:
            assert part in row, f"row {line} lacks «{part}»: {row}"
    assert coordinator.get_by_role("button", name=re.compile("Отправить все")).count() == 0
    assert_no_english(text, "the bulk preview")
    screenshot(coordinator, "bulk-1-preview.png")
    assert live.smtp.messages == [], "nothing is sent before the confirmation"

    with coordinator.expect_navigation():
        coordinator.get_by_role("button", name="Отправить только готовые (2)").click()
    text = body(coordinator)
    assert "Отправлено приглашений: 2, пропущено строк: 2." in text, text
    assert "приглашение отправлено" in row_text(coordinator, 2)
    screenshot(coordinator, "bulk-2-result.png")

    letters = wait_for_letters(live.smtp, 2)
    assert sorted(str(letter["To"]) for letter in letters) == ["expert.one@example.ru", "school.head@example.ru"]
    for letter, username in zip(letters, ("first.invitee", "second.invitee"), strict=True):
        plain = letter.get_body(preferencelist=("plain",))
        assert plain is not None
        link = LINK.search(plain.get_content())
        assert link, f"no registration link in the letter to {letter['To']}"
        invitee = new_page(browser)
        invitee.goto(link.group(0))
        assert str(letter["To"]) in body(invitee)
        invitee.fill("#username", username)
        invitee.fill("#password", "надёжный-пароль-2026")
        invitee.fill("#password_confirm", "надёжный-пароль-2026")
        invitee.get_by_role("checkbox", name=re.compile("Я даю согласие на обработку")).check()
        with invitee.expect_navigation():
            invitee.get_by_role("button", name="Зарегистрироваться").click()
        assert "Регистрация завершена" in body(invitee), body(invitee)
    assert len(live.smtp.messages) == 2, "a letter went to a bad row"
