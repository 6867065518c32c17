"""The login, registration, recovery and application forms with a screen reader, a keyboard and a phone.

A refused form summarises its errors at the top (role="alert", «Исправьте, пожалуйста:», each error a link to
its field), marks each field (aria-invalid, aria-describedby → the message next to it), focuses the first field
with an error (server-rendered autofocus) and keeps what was typed, never a password. Then in headless Chromium
against a real `python -m admin_app serve`: 360 px wide with no sideways scrolling, the registration form sent
empty with the keyboard alone, and no Content-Security-Policy violation.

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the browser test instead of skipping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from csp_watch import PROBE, prove_the_watcher_works, watch_violations
from live_server import ServeProcess, new_page, screenshot, server_env
from sqlalchemy import select
from starlette.testclient import TestClient

from admin_app.auth import BAD_CREDENTIALS
from models import OutboxMessage
from tests.application_helpers import TEACHER
from tests.conftest import BASE_URL, csrf_from
from tests.invitation_helpers import add_organization, invite, last_link, municipality_id
from tests.test_accessibility import AXE_JS, BLOCKING, describe, run_axe

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

HEADING = "Исправьте, пожалуйста:"
LOGIN = "/admin/login"
FORGOT_PASSWORD = "/Account/ForgotPassword"
FORGOT_USERNAME = "/Account/ForgotUsername"
SUBMIT = "/Application/Submit"
SHORT_PASSWORD = "кор0ткий1"  # nine characters: one short of the rule
GOOD_PASSWORD = "надёжный-пароль-2026"
OTHER_PASSWORD = "другой-пароль-1"
RESET_LINK = re.compile(re.escape(BASE_URL) + r"(/Account/ResetPassword\?k=[\w-]+)")
FIELDS = ("input", "select", "textarea")


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)


class Markup(HTMLParser):
    """The elements of a page by id (with their text), the labels' targets and the error summary's links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, Element] = {}
        self.fields: list[Element] = []
        self.labelled: set[str] = set()
        self.autofocused: list[str] = []
        self.summary_links: list[str] = []
        self.summary_text: list[str] = []
        self._open: list[Element] = []  # the elements with an id whose text is being collected
        self._label_depth = 0
        self._in_summary = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        element = Element(tag, found)
        if "id" in found:
            self.by_id[found["id"]] = element
            if tag not in FIELDS:
                self._open.append(element)
        if tag == "label":
            self._label_depth += 1
            if found.get("for"):
                self.labelled.add(found["for"])
        if tag in FIELDS and found.get("type") != "hidden":
            self.fields.append(element)
            if self._label_depth and found.get("id"):
                self.labelled.add(found["id"])
        if "autofocus" in found:
            self.autofocused.append(found.get("id", tag))
        if self._in_summary:
            self._in_summary += tag == "div"
            if tag == "a":
                self.summary_links.append(found.get("href", ""))
        elif found.get("id") == "error-summary":
            assert tag == "div" and found.get("role") == "alert", f"the summary is not an alert: {found}"
            self._in_summary = 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        if self._in_summary and tag == "div":
            self._in_summary -= 1
        if self._open and self._open[-1].tag == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)
        if self._in_summary:
            self.summary_text.append(data)

    def text_of(self, element_id: str) -> str:
        return " ".join("".join(self.by_id[element_id].text).split())


def check_labels(html: str) -> Markup:
    """Every visible field of the page has a label."""
    page = Markup(html)
    assert page.fields, "no fields on the page"
    for element in page.fields:
        assert element.attrs.get("id") in page.labelled, f"a field without a label: {element.attrs}"
    return page


def check_refused(html: str, invalid: dict[str, str], first: str) -> Markup:
    """The summary links to each invalid field in order; each is marked and described by its message; the
    first has autofocus; no other field is marked."""
    page = check_labels(html)
    summary = " ".join("".join(page.summary_text).split())
    assert HEADING in summary, f"no error summary: {summary!r}"
    assert page.summary_links == [f"#{name}" for name in invalid], summary
    for name, message in invalid.items():
        attrs = page.by_id[name].attrs
        assert attrs.get("aria-invalid") == "true", f"{name} is not marked invalid: {attrs}"
        described = attrs.get("aria-describedby", "").split()
        assert f"{name}-error" in described, f"{name} is not described by its message: {attrs}"
        for hint in described:
            assert hint in page.by_id, f"{name} is described by the missing #{hint}"
        assert message in page.text_of(f"{name}-error"), f"{name}: {page.text_of(f'{name}-error')!r}"
        assert message in summary
    marked = [element.attrs["id"] for element in page.fields if element.attrs.get("aria-invalid")]
    assert marked == list(invalid), marked
    assert page.autofocused == [first], f"autofocus on {page.autofocused}, not on the first invalid field"
    return page


def check_untouched(html: str, autofocus: list[str]) -> Markup:
    """A page not refused: no summary, nothing marked, the page's own autofocus."""
    page = check_labels(html)
    assert "error-summary" not in page.by_id and HEADING not in html
    assert not [element for element in page.fields if "aria-invalid" in element.attrs]
    assert page.autofocused == autofocus
    return page


def value_of(page: Markup, name: str) -> str:
    element = page.by_id[name]
    return element.attrs.get("value", "")


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
        yield other


@pytest.fixture
def culture_link(operator_client, session_factory) -> str:
    """An expert's invitation without a municipality: the form asks for one."""
    assert invite(operator_client, role="expert", email="culture@example.ru").status_code == 302
    return last_link(session_factory, "culture@example.ru")


def reset_link(client: TestClient, session_factory, login: str) -> str:
    token = csrf_from(client.get(FORGOT_PASSWORD).text)
    assert client.post(FORGOT_PASSWORD, data={"login": login, "csrf_token": token}).status_code == 200
    with session_factory() as session:
        body = session.scalar(select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc()).limit(1))
    found = RESET_LINK.search(body or "")
    assert found, f"no reset link in the last letter: {body!r}"
    return found.group(1)


# --- refused forms over HTTP ----------------------------------------------------------------------------------


def test_registration_refused_summarises_marks_and_focuses_the_first_error(anonymous, culture_link) -> None:
    check_untouched(anonymous.get(culture_link).text, ["username"])
    token = csrf_from(anonymous.get(culture_link).text)
    data = {"csrf_token": token, "username": "Петров", "password": SHORT_PASSWORD, "password_confirm": SHORT_PASSWORD}
    response = anonymous.post(culture_link, data=data)
    assert response.status_code == 400
    page = check_refused(
        response.text,
        {
            "username": "латинск",
            "password": "Пароль слишком короткий",
            "municipality_id": "Выберите муниципалитет из списка.",
            "consent": "Отметьте согласие",
        },
        first="username",
    )
    assert value_of(page, "username") == "Петров"
    assert SHORT_PASSWORD not in response.text
    # the username's rules and the error both describe it
    assert page.by_id["username"].attrs["aria-describedby"].split() == ["username-rules", "username-error"]


def test_registration_focuses_a_later_field_when_the_first_ones_are_right(anonymous, culture_link, session_factory):
    token = csrf_from(anonymous.get(culture_link).text)
    district = str(municipality_id(session_factory, "Томский район"))
    data = {"csrf_token": token, "username": "petrov.a", "password": GOOD_PASSWORD, "password_confirm": OTHER_PASSWORD}
    response = anonymous.post(culture_link, data={**data, "municipality_id": district, "consent": "on"})
    assert response.status_code == 400
    page = check_refused(response.text, {"password_confirm": "не совпадают"}, first="password_confirm")
    assert value_of(page, "username") == "petrov.a"
    assert "checked" in page.by_id["consent"].attrs
    assert page.by_id["municipality_id"].tag == "select" and f'<option value="{district}" selected>' in response.text
    assert GOOD_PASSWORD not in response.text and OTHER_PASSWORD not in response.text


def test_a_stale_registration_form_names_no_field_and_keeps_the_usual_focus(anonymous, culture_link, session_factory):
    district = str(municipality_id(session_factory, "Томский район"))
    data = {"csrf_token": "подделка", "username": "petrov.a", "password": GOOD_PASSWORD, "municipality_id": district}
    response = anonymous.post(culture_link, data={**data, "password_confirm": GOOD_PASSWORD, "consent": "on"})
    assert response.status_code == 400
    page = check_labels(response.text)
    assert HEADING in "".join(page.summary_text) and "Форма устарела" in "".join(page.summary_text)
    assert page.summary_links == []
    assert page.autofocused == ["username"]
    assert value_of(page, "username") == "petrov.a"


@pytest.mark.parametrize(("typed", "invalid"), [("olesya", "password"), ("", "username")])
def test_login_refused_summarises_marks_and_focuses(anonymous, make_user, typed, invalid) -> None:
    make_user("olesya")
    check_untouched(anonymous.get(LOGIN).text, ["username"])
    token = csrf_from(anonymous.get(LOGIN).text)
    response = anonymous.post(LOGIN, data={"username": typed, "password": "неверный-пароль", "csrf_token": token})
    assert response.status_code == 400
    page = check_refused(response.text, {invalid: BAD_CREDENTIALS}, first=invalid)
    assert value_of(page, "username") == typed
    assert "неверный-пароль" not in response.text
    assert "value" not in page.by_id["password"].attrs


@pytest.mark.parametrize(
    ("path", "name", "typed", "message"),
    [
        (FORGOT_PASSWORD, "login", "", "Введите имя пользователя или адрес электронной почты."),
        (FORGOT_USERNAME, "email", "ivan.example.ru", "Неверный адрес электронной почты «ivan.example.ru»."),
    ],
)
def test_recovery_request_refused_summarises_marks_and_focuses(anonymous, path, name, typed, message) -> None:
    check_untouched(anonymous.get(path).text, [])
    token = csrf_from(anonymous.get(path).text)
    response = anonymous.post(path, data={name: typed, "csrf_token": token})
    assert response.status_code == 400
    page = check_refused(response.text, {name: message}, first=name)
    assert value_of(page, name) == typed


def test_new_password_refused_summarises_marks_and_focuses(anonymous, make_user, session_factory) -> None:
    make_user("ivan")
    link = reset_link(anonymous, session_factory, "ivan")
    check_untouched(anonymous.get(link).text, ["password"])
    token = csrf_from(anonymous.get(link).text)
    data = {"csrf_token": token, "password": SHORT_PASSWORD, "password_confirm": SHORT_PASSWORD}
    response = anonymous.post(link, data=data)
    assert response.status_code == 400
    check_refused(response.text, {"password": "Пароль слишком короткий"}, first="password")
    assert SHORT_PASSWORD not in response.text


def test_application_refused_summarises_marks_and_focuses(anonymous, session_factory) -> None:
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    check_untouched(anonymous.get(SUBMIT).text, [])
    token = csrf_from(anonymous.get(SUBMIT).text)
    data = {**TEACHER, "csrf_token": token, "organization_id": str(school), "current_category_date": "31.02.2020"}
    response = anonymous.post(SUBMIT, data={**data, "consent": "on"})
    assert response.status_code == 400
    page = check_refused(
        response.text, {"current_category_date": "Укажите дату в формате ДД.ММ.ГГГГ."}, first="current_category_date"
    )
    assert "checked" in page.by_id["consent"].attrs
    for name in ("full_name", "email", "phone", "position"):
        assert value_of(page, name) == TEACHER[name].strip(), name
    assert value_of(page, "current_category_date") == "31.02.2020"
    assert f'<option value="{school}" selected>' in response.text


# --- in the browser -------------------------------------------------------------------------------------------


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(server_env(database_url, tmp_path / "serve-var"), tmp_path / "server.log")
    try:
        process.start()
        yield process
    finally:
        process.stop()


def scroll_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def form_pages(anonymous, culture_link: str, make_user, session_factory) -> dict[str, str]:
    make_user("ivan")
    return {
        "login": LOGIN,
        "register": culture_link,
        "forgot-password": FORGOT_PASSWORD,
        "forgot-username": FORGOT_USERNAME,
        "reset-password": reset_link(anonymous, session_factory, "ivan"),
        "application": SUBMIT,
    }


def send_empty(page: Page) -> None:
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert page.locator("#error-summary").is_visible(), f"{page.url}: an empty form was not refused"


@pytest.mark.browser
def test_forms_on_a_phone_with_the_keyboard_alone(
    browser: Browser, serve: ServeProcess, anonymous, culture_link, make_user, session_factory
) -> None:
    """Requests `browser` before `serve`, so a missing Chromium is reported before the server starts."""
    pages = form_pages(anonymous, culture_link, make_user, session_factory)
    page = new_page(browser)
    page.set_viewport_size({"width": 360, "height": 740})
    violations = watch_violations(page)
    for name, path in pages.items():
        page.goto(f"{serve.base_url}{path}")
        assert page.locator("form button[type=submit]").count() == 1, name
        assert scroll_width(page) <= 360, f"{name} scrolls sideways at 360 px: {scroll_width(page)} px wide"
        send_empty(page)
        assert scroll_width(page) <= 360, f"refused {name} scrolls sideways at 360 px: {scroll_width(page)} px wide"
        screenshot(page, f"form-{name}-360.png")

    # The registration form sent empty with the keyboard alone: Tab to the button, Enter.
    page.goto(f"{serve.base_url}{culture_link}")
    assert focused_id(page) == "username"  # the page's own autofocus
    for _ in range(40):
        if page.evaluate("document.activeElement.type") == "submit":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Зарегистрироваться"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#error-summary").get_by_role("link").count() >= 3
    # The form came with a suggested username, so the password is the first field in error.
    first_invalid = page.evaluate("document.querySelector('[aria-invalid=true]').id")
    assert first_invalid == "password" and focused_id(page) == first_invalid
    # A link of the summary, followed with the keyboard, takes the focus to its field.
    page.locator('#error-summary a[href="#municipality_id"]').focus()
    page.keyboard.press("Enter")
    assert focused_id(page) == "municipality_id"
    assert page.get_by_role("alert").filter(has_text=HEADING).is_visible()

    prove_the_watcher_works(page, violations)
    broken = [text for text in violations if PROBE not in text]
    assert not broken, f"Content-Security-Policy violations: {broken}"


@pytest.mark.browser
def test_refused_forms_have_no_serious_accessibility_violations(
    browser: Browser, serve: ServeProcess, anonymous, culture_link, make_user, session_factory
) -> None:
    """axe-core (tests/test_accessibility.py) on each form refused, summary and marked fields included."""
    assert AXE_JS.is_file(), f"no axe-core: {AXE_JS} (`make axe` fetches it)"
    context = browser.new_context(bypass_csp=True, locale="ru-RU")  # for axe's injected script only
    page = context.new_page()
    page.set_default_timeout(15_000)
    found = {}
    for name, path in form_pages(anonymous, culture_link, make_user, session_factory).items():
        page.goto(f"{serve.base_url}{path}")
        send_empty(page)
        found[name] = [v for v in run_axe(page, AXE_JS) if v["impact"] in BLOCKING]
    context.close()
    assert not any(found.values()), "\n".join(f"{name}:\n" + "\n".join(map(describe, v)) for name, v in found.items())
