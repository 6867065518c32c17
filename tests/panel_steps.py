"""Steps in the panel that the browser tests share: log in, open a menu item, add an organization."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from live_server import body

if TYPE_CHECKING:
    from playwright.sync_api import Page


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    """The login form, and the panel's cabinet after it."""
    page.goto(f"{base_url}/admin/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.rstrip("/").endswith("/admin"), f"{username} is not in the panel: {page.url}\n{body(page)}"


def open_menu(page: Page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=name, exact=True).click()


def add_organization(page: Page, name: str, municipality: str) -> None:
    """«Образовательные организации» → «Создать»: an edit form with its dropdown; the list shows the new row."""
    open_menu(page, "Образовательные организации")
    page.get_by_role("link", name=re.compile("Создать")).click()
    page.wait_for_url("**/admin/organization/create")
    page.fill("#name", name)
    page.select_option("#municipality", label=municipality)
    with page.expect_navigation():
        page.get_by_role("button", name="Сохранить", exact=True).click()
    assert page.url.endswith("/admin/organization/list"), f"{page.url}\n{body(page)}"
    assert municipality in page.locator("tbody tr", has_text=name).inner_text()
