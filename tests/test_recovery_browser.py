"""«Забыли имя пользователя?» and «Забыли пароль?» in headless Chromium, against a real `python -m admin_app serve`
whose mail goes over SMTP to a real aiosmtpd server: from the login page's links to the letters, the new password,
and the end of a session opened before the change.

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from live_server import ServeProcess, assert_no_english, body, create_operator, new_page, screenshot, server_env

from tests.smtp_server import SmtpServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

USERNAME = "centre.operator"
EMAIL = "centre.operator@example.ru"
OLD_PASSWORD = "пароль-оператора-центра"
NEW_PASSWORD = "новый-пароль-оператора"
RESET_LINK = re.compile(r"http://127\.0\.0\.1:\d+/Account/ResetPassword\?k=[\w-]+")
MAIL_TIMEOUT = 15.0


@pytest.fixture
def serve(database_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[ServeProcess]:
    """`serve` with one operator, sending its mail to the aiosmtpd server."""
    env = server_env(
        database_url,
        tmp_path / "var",
        MAIL_BACKEND="smtp",
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=str(smtp_server.port),
    )
    create_operator(env, USERNAME, EMAIL, OLD_PASSWORD)
    process = ServeProcess(env, tmp_path / "server.log")
    try:
        process.start()
        yield process
    finally:
        process.stop()


def wait_for_letter(smtp: SmtpServer, subject: str) -> str:
    """The plain text of the one letter to EMAIL with `subject`, once it has arrived."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        letters = [m for m in list(smtp.messages) if m["To"] == EMAIL and m["Subject"] == subject]
        if letters:
            assert len(letters) == 1, f"{len(letters)} letters «{subject}»"
            return plain_text(letters[0])
        time.sleep(0.1)
    pytest.fail(f"no letter «{subject}» within {MAIL_TIMEOUT:.0f} s; arrived: {[m['Subject'] for m in smtp.messages]}")


def plain_text(letter: EmailMessage) -> str:
    part = letter.get_body(preferencelist=("plain",))
    assert part is not None, "the letter has no plain-text part"
    return part.get_content()


def log_in(page: Page, base_url: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login")
    page.get_by_label("Имя пользователя").fill(USERNAME)
    page.get_by_label("Пароль").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Войти").click()


def submit(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def set_password(page: Page, password: str, confirm: str) -> None:
    page.get_by_label("Новый пароль", exact=True).fill(password)
    page.get_by_label("Подтверждение пароля").fill(confirm)
    submit(page, "Сменить пароль")


def test_forgotten_username_and_password_by_email(browser: Browser, serve: ServeProcess, smtp_server: SmtpServer):
    """Requests `browser` before `serve`, so a missing Chromium is reported before the server starts."""
    base_url = serve.base_url
    earlier = new_page(browser)  # a session opened before the reset, in a browser of its own
    log_in(earlier, base_url, OLD_PASSWORD)
    assert earlier.url.rstrip("/").endswith("/admin"), body(earlier)

    page = new_page(browser)
    page.goto(f"{base_url}/admin/login")
    page.get_by_role("link", name="Забыли имя пользователя?").click()
    page.wait_for_url("**/Account/ForgotUsername")
    assert_no_english(body(page), "«Забыли имя пользователя?»")
    page.get_by_label("Адрес электронной почты").fill(EMAIL)
    submit(page, "Отправить")
    assert "Если с этим адресом зарегистрированы учётные записи" in body(page)
    letter = wait_for_letter(smtp_server, "Ваше имя пользователя в системе «Аттестация»")
    assert f"зарегистрирован пользователь:\r\n{USERNAME}\r\n" in letter

    page.get_by_role("link", name="Забыли пароль?").click()
    page.wait_for_url("**/Account/ForgotPassword")
    page.get_by_label("Имя пользователя или адрес электронной почты").fill(USERNAME)
    screenshot(page, "recovery-1-forgot-password.png")
    submit(page, "Отправить ссылку")
    text = body(page)
    assert "Если такая учётная запись есть" in text and "Ссылка действует 60 минут" in text, text
    letter = wait_for_letter(smtp_server, "Смена пароля в системе «Аттестация»")
    assert f"пароль пользователя {USERNAME}" in letter
    found = RESET_LINK.search(letter)
    assert found, letter
    link = found.group(0)

    page.goto(link)
    assert page.input_value("#username") == USERNAME
    set_password(page, "коротко-1", "коротко-1")
    assert "Пароль слишком короткий: нужно не меньше 10 символов." in body(page)
    assert page.input_value("#password") == "" and page.input_value("#password_confirm") == ""
    screenshot(page, "recovery-2-password-too-short.png")
    set_password(page, NEW_PASSWORD, NEW_PASSWORD)
    assert "Пароль изменён" in body(page), body(page)
    screenshot(page, "recovery-3-password-changed.png")

    page.get_by_role("link", name="Войти в систему").click()
    page.wait_for_url("**/admin/login")
    log_in(page, base_url, NEW_PASSWORD)
    assert page.url.rstrip("/").endswith("/admin"), body(page)
    earlier.reload()
    assert "/admin/login" in earlier.url, "the session opened before the reset still works"
    log_in(earlier, base_url, OLD_PASSWORD)
    assert "Неверное имя пользователя или пароль." in body(earlier)

    assert f"Пароль пользователя {USERNAME} изменён" in wait_for_letter(smtp_server, "Ваш пароль изменён")
    page.goto(link)
    assert "Ссылка больше не действует: пароль уже изменён" in body(page)
    assert page.locator("#password").count() == 0
    page.get_by_role("link", name="Запросить новую ссылку").click()
    page.wait_for_url("**/Account/ForgotPassword")
