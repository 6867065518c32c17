"""The panel and the public pages work in headless Chromium under the Content-Security-Policy
(checklist item 27), against a real `python -m admin_app serve`.

Chromium reports every blocked script, style, image or font as a `securitypolicyviolation`
event and a "Refused to …" console message; both are collected from the first page on, and
any one of them fails the test. The collector is proven live first: an image from another
site, added to the login page, must be reported.

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from csp_watch import PROBE, prove_the_watcher_works, watch_violations
from live_server import ServeProcess, body, create_operator, new_page, run_cli, screenshot, server_env
from panel_steps import add_organization, log_in, open_menu

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

OPERATOR = ("centre.operator", "centre.operator@example.ru", "зелёныйчай-2026")
COORDINATOR = ("tomsk.coordinator", "coordinator.tomsk@example.ru", "синийкит-2026")
MUNICIPALITY = "Томский район"
SCHOOL = "МБОУ «Корниловская СОШ»"
TEACHER = "Петрова Анна Ивановна"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    env = server_env(database_url, tmp_path / "var", DOCUMENT_MAX_MB="1")
    create_operator(env, *OPERATOR)
    username, email, password = COORDINATOR
    run_cli(
        {**env, "ADMIN_PASSWORD": password},
        "create-user",
        "--role",
        "municipal_coordinator",
        "--username",
        username,
        "--email",
        email,
        "--municipality",
        MUNICIPALITY,
    )
    serve = ServeProcess(env, tmp_path / "server.log")
    try:
        serve.start()
        yield serve
    finally:
        serve.stop()


def log_in_after_a_wrong_password(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login")
    page.fill("#username", username)
    page.fill("#password", "не-тот-пароль-вовсе")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Неверное имя пользователя или пароль." in body(page)
    log_in(page, base_url, username, password)


def search_and_deactivate(page: Page) -> None:
    """«Пользователи»: the search box, then «Действия» → «Отключить» with its confirmation and the toast."""
    open_menu(page, "Пользователи")
    page.fill("#search-input", "tomsk")
    with page.expect_navigation():
        page.press("#search-input", "Enter")  # main.js turns the box into ?search=
    assert "search=tomsk" in page.url
    row = page.locator("tbody tr", has_text=COORDINATOR[0])
    assert page.locator("tbody tr").count() == 1 and row.count() == 1, body(page)
    row.locator("input.select-box").check()
    page.locator(".dropdown-toggle", has_text="Действия").click()
    page.get_by_role("link", name="Отключить").first.click()
    modal = page.locator("#modal-confirmation-deactivate")
    modal.wait_for(state="visible")
    with page.expect_navigation():
        modal.get_by_role("link", name="Да").click()
    page.locator(".toast.show", has_text="Отключены").wait_for()  # shown by SQLAdmin's inline script
    with page.expect_navigation():
        page.locator("tbody tr", has_text=COORDINATOR[0]).locator("a[href*='/admin/user/details/']").first.click()
    assert COORDINATOR[1] in body(page)
    with page.expect_navigation():
        page.locator("a[href*='/admin/user/edit/']").first.click()
    assert page.locator("select#role").count() == 1, body(page)


def invite_by_list(page: Page) -> None:
    """«Рассылка» → «Пригласить списком»: the form and its preview."""
    open_menu(page, "Рассылка")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Пригласить списком")).click()
    page.fill("textarea[name=addresses]", "expert.one@example.ru, expert.two@example.ru")
    with page.expect_navigation():
        page.locator("form").get_by_role("button", name=re.compile("Проверить")).click()
    assert "expert.two@example.ru" in body(page)


def submit_as_teacher(browser: Browser, base_url: str) -> None:
    """The public pages: «Забыли пароль?», a missing page, and the teacher's application form."""
    page = new_page(browser)
    violations = watch_violations(page)
    page.goto(f"{base_url}/Account/ForgotPassword")
    page.goto(f"{base_url}/no/such/page")
    assert "Страница не найдена." in body(page)
    page.goto(f"{base_url}/Application/Submit")
    page.fill("#full_name", TEACHER)
    page.fill("#email", "petrova@example.ru")
    page.fill("#phone", "+7 913 000-00-00")
    page.fill("#position", "учитель математики")
    page.select_option("#organization_id", label=SCHOOL)
    page.select_option("#requested_category", label="Первая")
    page.get_by_role("checkbox", name=re.compile("Я даю согласие на обработку")).check()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Отправить")).click()
    assert "petrova@example.ru" in body(page), body(page)
    page.context.close()
    assert violations == [], f"the public pages broke the policy: {violations}"


def work_on_the_application(page: Page, tmp_path: Path) -> None:
    """«Заявления на аттестацию»: a filter, the details page and each of its forms, an oversized file."""
    open_menu(page, "Заявления на аттестацию")
    with page.expect_navigation():
        page.locator("#filter-sidebar a", has_text="Новое").first.click()
    assert TEACHER in body(page)
    with page.expect_navigation():
        page.locator("tbody tr", has_text=TEACHER).locator("a[href*='/admin/application/details/']").first.click()
    with page.expect_navigation():
        page.locator("form[action*='/status']").get_by_role("button", name="Зарегистрировано").click()
    assert "Статус заявления: «Зарегистрировано»." in body(page)
    page.fill("input[name=deadline]", (date.today() + timedelta(days=30)).isoformat())
    with page.expect_navigation():
        page.get_by_role("button", name="Установить").click()
    small, large = tmp_path / "заявление.pdf", tmp_path / "скан.pdf"
    small.write_bytes(PDF)
    large.write_bytes(PDF + b"0" * (2 * 1024 * 1024))
    attach(page, small)
    assert "заявление.pdf" in body(page)
    details = page.url
    attach(page, large)
    assert "Файл больше 1 МБ" in body(page), body(page)
    page.goto(details)


def attach(page: Page, path: Path) -> None:
    form = page.locator("form[enctype='multipart/form-data']").first
    form.locator("input[type=file]").set_input_files(str(path))
    with page.expect_navigation():
        form.get_by_role("button", name="Прикрепить").click()


def test_csp_panel_and_public_pages_work_without_violations(browser: Browser, serve: ServeProcess, tmp_path) -> None:
    """Requests `browser` before the server, so a missing Chromium is reported before the server starts."""
    page = new_page(browser)
    violations = watch_violations(page)
    page.goto(f"{serve.base_url}/admin/login")
    prove_the_watcher_works(page, violations)

    log_in_after_a_wrong_password(page, serve.base_url, OPERATOR[0], OPERATOR[2])
    add_organization(page, SCHOOL, MUNICIPALITY)
    search_and_deactivate(page)
    invite_by_list(page)
    submit_as_teacher(browser, serve.base_url)
    work_on_the_application(page, tmp_path)
    open_menu(page, OPERATOR[0])  # «Профиль»
    with page.expect_navigation():
        page.get_by_role("button", name="Выход").click()
    screenshot(page, "csp-logged-out.png")
    broken = [text for text in violations if PROBE not in text]
    assert broken == [], f"the panel broke the policy: {broken}"
