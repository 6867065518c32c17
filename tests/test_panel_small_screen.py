"""The panel's main pages fit a 360-pixel-wide phone screen: no sideways scrolling of the page (a wide table
scrolls inside its own box), the filters below the list rather than squeezing it (admin_app.template_patches)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from live_server import ServeProcess, create_operator, screenshot, server_env
from panel_steps import log_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

OPERATOR = ("phone.operator", "phone.operator@example.ru", "зелёная-лампа-над-столом")
PAGES = {
    "cabinet": "/admin/",
    "invitations": "/admin/invitation/list",
    "users": "/admin/user/list",
    "applications": "/admin/application/list",
    "organizations": "/admin/organization/list",
    "invite": "/admin/mailing/invite",
    "profile": "/admin/profile",
}
# Whatever sticks out of the page, leaving out what scrolls inside a table's own box.
STICKING_OUT = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.table-responsive'))
  .slice(0, 3).map(e => `${e.tagName}.${e.className}`)"""


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    env = server_env(database_url, tmp_path / "var")
    create_operator(env, *OPERATOR)
    serve = ServeProcess(env, tmp_path / "server.log")
    try:
        serve.start()
        yield serve
    finally:
        serve.stop()


def test_the_panels_main_pages_fit_a_360_pixel_screen(browser: Browser, serve: ServeProcess) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    log_in(page, serve.base_url, OPERATOR[0], OPERATOR[2])
    overflowing = {}
    for name, path in PAGES.items():
        page.goto(f"{serve.base_url}{path}")
        screenshot(page, f"panel-{name}-360.png")
        if page.evaluate("document.documentElement.scrollWidth") > 360:
            overflowing[name] = page.evaluate(STICKING_OUT)
    context.close()
    assert overflowing == {}, f"pages wider than the screen: {overflowing}"
