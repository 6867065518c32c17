"""The landing page at `/`: the centre's name, what the system is for, «Войти», the teacher's application,
«Забыли пароль?» and where to get help (HELP_PHONES, HELP_EMAIL) — over HTTP, then in headless Chromium
against a real `python -m admin_app serve`, on a 360-pixel phone and a 1280-pixel screen, with the keyboard alone.

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the browser test instead of skipping it.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from csp_watch import PROBE, prove_the_watcher_works, watch_violations
from live_server import ServeProcess, body, new_page, screenshot, server_env
from starlette.testclient import TestClient

from admin_app.app import create_app
from settings import load_settings
from tests.conftest import BASE_URL, env_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DEFAULT_PHONES = "8 (3822) 90-20-57, 90-20-58"
HELP_EMAIL = "attestation@toipkro.example.ru"
# What Tab reaches, in order, from the top of the page: the skip link, the centre's name, then the page itself.
TAB_ORDER = [
    "Перейти к содержанию",
    "ТОИПКРО",
    "Войти",
    "Забыли пароль?",
    "Забыли имя пользователя?",
    "Подать заявление на аттестацию",
    HELP_EMAIL,
]


class Links(HTMLParser):
    """Every <a> of a page as (its text, its href)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.found.append((" ".join("".join(self._text).split()), self._href))
            self._href = None


def links(html: str) -> dict[str, str]:
    return dict(Links(html).found)


def landing(tmp_path: Path, database_url: str, **env: str) -> str:
    settings = load_settings(env_for(database_url, tmp_path / "var", **env))
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        response = client.get("/")
    assert response.status_code == 200
    return response.text


def test_landing_page_names_the_centre_and_leads_to_the_login(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="ru">' in page
    assert "<title>Аттестация — ТОИПКРО</title>" in page
    assert "Электронная система центра аттестации педагогических работников ТОИПКРО." in page
    assert "Педагог может подать заявление на аттестацию без регистрации" in page
    found = links(page)
    assert found["Войти"] == "/admin/login"
    assert found["Забыли пароль?"] == "/Account/ForgotPassword"
    assert found["Подать заявление на аттестацию"] == "/Application/Submit"
    assert DEFAULT_PHONES in page
    assert "mailto:" not in page and "Электронная почта" not in page


def test_every_link_of_the_landing_page_leads_somewhere(client: TestClient) -> None:
    page = client.get("/").text

    for name, href in links(page).items():
        if href.startswith("#"):
            assert f'id="{href[1:]}"' in page, f"«{name}» leads to {href}, which is not on the page"
            continue
        response = client.get(href)
        assert response.status_code == 200, f"«{name}» → {href}: {response.status_code}"


def test_help_contacts_and_the_centre_come_from_the_settings(tmp_path: Path, database_url: str) -> None:
    page = landing(
        tmp_path,
        database_url,
        CENTRE_NAME="ЦОКО",
        HELP_PHONES="8 (3822) 11-22-33 (с 9:00 до 17:00)",
        HELP_EMAIL=HELP_EMAIL,
    )

    assert "Электронная система центра аттестации педагогических работников ЦОКО." in page
    assert "ТОИПКРО" not in page
    assert "8 (3822) 11-22-33 (с 9:00 до 17:00)" in page
    assert DEFAULT_PHONES not in page
    assert "Электронная почта" in page
    assert links(page)[HELP_EMAIL] == f"mailto:{HELP_EMAIL}"


def test_help_phones_are_shown_as_text_not_markup(tmp_path: Path, database_url: str) -> None:
    page = landing(tmp_path, database_url, HELP_PHONES='<a href="https://evil.example">позвоните</a>')

    assert "&lt;a href=&#34;https://evil.example&#34;&gt;позвоните&lt;/a&gt;" in page
    assert "https://evil.example" not in links(page).values()


# --- in the browser -------------------------------------------------------------------------------------------


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(server_env(database_url, tmp_path / "var", HELP_EMAIL=HELP_EMAIL), tmp_path / "server.log")
    try:
        process.start()
        yield process
    finally:
        process.stop()


def open_landing(browser: Browser, base_url: str, width: int, height: int) -> tuple[Page, list[str]]:
    page = new_page(browser)
    page.set_viewport_size({"width": width, "height": height})
    violations = watch_violations(page)
    page.goto(f"{base_url}/")
    return page, violations


def settle(page: Page) -> None:
    """Wait for the smooth scrolling that brings a newly focused element into view to stop."""
    position = page.evaluate("scrollY")
    for _ in range(40):
        page.wait_for_timeout(50)
        position, before = page.evaluate("scrollY"), position
        if position == before:
            return


def focused(page: Page) -> dict[str, object]:
    """The focused element once its transitions are over: its text, whether a focus ring (an outline, or a
    shadow with a spread) is drawn around it, and whether it is on the screen and not covered by anything."""
    return page.evaluate(
        """() => {
          const element = document.activeElement;
          element.getAnimations().forEach((animation) => animation.finish());
          const style = getComputedStyle(element);
          const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
          const spreads = [...style.boxShadow.matchAll(/(-?[\\d.]+)px (-?[\\d.]+)px (-?[\\d.]+)px (-?[\\d.]+)px/g)];
          const box = element.getBoundingClientRect();
          const onTop = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
          return {
            name: element.innerText.trim(),
            ring: outline || spreads.some((shadow) => parseFloat(shadow[4]) > 0),
            seen: box.width > 0 && box.left >= 0 && box.right <= window.innerWidth && element.contains(onTop),
          };
        }"""
    )


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(360, 740), (1280, 800)], ids=["phone", "desktop"])
def test_landing_page_in_the_browser_with_the_keyboard_alone(
    browser: Browser, serve: ServeProcess, width: int, height: int
) -> None:
    """Requests `browser` before `serve`, so a missing Chromium is reported before the server starts."""
    page, violations = open_landing(browser, serve.base_url, width, height)
    text = body(page)
    assert "Аттестация педагогических работников" in text and DEFAULT_PHONES in text, text
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways at {width} px: {scroll_width} px wide"
    screenshot(page, f"landing-{width}.png")

    reached = []
    for _ in TAB_ORDER:
        page.keyboard.press("Tab")
        settle(page)
        element = focused(page)
        assert element["ring"], f"«{element['name']}» has no visible focus"
        assert element["seen"], f"«{element['name']}» is focused off the screen or under something"
        reached.append(element["name"])
        if element["name"] == "Войти":
            screenshot(page, f"landing-{width}-focus.png")
    assert reached == TAB_ORDER

    prove_the_watcher_works(page, violations)
    page.reload()
    page.keyboard.press("Tab")
    settle(page)
    screenshot(page, f"landing-{width}-skip-link.png")
    page.keyboard.press("Enter")  # «Перейти к содержанию»: the next Tab is inside the page, past the header
    page.keyboard.press("Tab")
    settle(page)
    assert focused(page)["name"] == "Войти"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{serve.base_url}/admin/login"
    assert page.get_by_label("Имя пользователя").count() == 1, body(page)
    broken = [text for text in violations if PROBE not in text]
    assert broken == [], f"the landing page broke the policy: {broken}"
