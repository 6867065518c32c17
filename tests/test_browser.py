"""The panel in a real browser: the server started as `python -m admin_app serve`, driven by
headless Chromium through Playwright (the system's /usr/bin/chromium, never a downloaded one).

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_server import (
    ARTIFACTS_DIR,
    ServeProcess,
    assert_no_english,
    create_operator,
    launch_chromium,
    server_env,
)

pytestmark = pytest.mark.browser

USERNAME = "browser.operator"
EMAIL = "browser.operator@example.com"
# 80 Cyrillic letters: far past bcrypt's 72 bytes, so the pre-hash must do its job.
PASSWORD = ("съешьжеещёэтихмягкихфранцузскихбулокдавыпейчаю" * 2)[:80]
WRONG_PASSWORD = "совсем-не-тот-пароль"
MENU = ("Пользователи", "Приглашения", "Муниципалитеты", "Образовательные организации", "Роли")


@dataclass(frozen=True)
class Server:
    base_url: str
    username: str
    password: str


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="attestation-browser-") as tmp:
        tmp_dir = Path(tmp)
        env = server_env(database_url, tmp_dir / "var")
        create_operator(env, USERNAME, EMAIL, PASSWORD)
        process = ServeProcess(env, tmp_dir / "server.log")
        try:
            process.start()
            yield Server(base_url=process.base_url, username=USERNAME, password=PASSWORD)
        finally:
            process.stop()


def test_login_and_russian_panel(chromium: Path, server: Server) -> None:
    """Requests `chromium` before `server`, so a missing browser is reported before the server starts."""
    from playwright.sync_api import sync_playwright

    assert len(PASSWORD) == 80

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, chromium)
        try:
            context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en-US"})
            page = context.new_page()
            page.set_default_timeout(15_000)

            page.goto(f"{server.base_url}/admin/")
            assert "/admin/login" in page.url
            body = page.inner_text("body")
            for text in ("Войти", "Используйте учетную запись для входа.", "Имя пользователя", "Пароль"):
                assert text in body, f"the login page lacks «{text}»"
            assert "Запомнить меня" in body
            assert_no_english(body, "the login page")

            page.fill("#username", server.username)
            page.fill("#password", WRONG_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert "Неверное имя пользователя или пароль." in page.inner_text("body")
            assert page.input_value("#username") == server.username
            assert page.input_value("#password") == ""

            page.fill("#password", server.password)
            with page.expect_navigation():
                page.click("button[type=submit]")
            assert page.url.rstrip("/").endswith("/admin"), page.url
            body = page.inner_text("body")
            for text in (*MENU, "Выход"):
                assert text in body, f"the panel lacks «{text}»"
            assert_no_english(body, "the panel's start page")

            page.get_by_role("link", name="Муниципалитеты", exact=True).click()
            page.wait_for_url("**/admin/municipality/list**")
            body = page.inner_text("body")
            assert "Культура и искусство" in body
            assert_no_english(body, "«Муниципалитеты»")

            page.get_by_role("link", name="Пользователи", exact=True).click()
            page.wait_for_url("**/admin/user/list**")
            body = page.inner_text("body")
            assert server.username in body
            assert EMAIL in body

            ARTIFACTS_DIR.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS_DIR / "panel.png"), full_page=True)
            assert_no_english(body, "«Пользователи»")
        finally:
            browser.close()
