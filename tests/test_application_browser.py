"""The life of one application in headless Chromium, from submission to archive, against a real
`python -m admin_app serve`: each person works in a browser of their own.

The people come from `create-user` (an operator, the Tomsk district's coordinator, a school's coordinator and
an expert of the district working in another school); the operator adds both schools in the panel. The school's
coordinator enters the application, the district's coordinator registers it and assigns the expert, the expert
reviews it, the operator records the decision and archives it. The details page's history names who made each
step, and nobody is offered a step that is not theirs.

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from live_server import (
    ServeProcess,
    assert_no_english,
    body,
    create_operator,
    new_page,
    run_cli,
    screenshot,
    server_env,
)
from panel_steps import add_organization, log_in, open_menu

from admin_app.applications import centre_today
from models import utcnow

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

MUNICIPALITY = "Томский район"
SCHOOL = "МБОУ «Корниловская СОШ»"
GYMNASIUM = "МАОУ «Гимназия № 1 с. Итатка»"

TEACHER = "Петрова Анна Ивановна"
OTHER_TEACHER = "Сидоров Пётр Алексеевич"
EXPERT_NAME = "Иванова Мария Петровна"

NEW = "Новое (не зарегистрировано)"
REGISTERED = "Зарегистрировано"
EXPERTS_ASSIGNED = "Эксперты назначены"
UNDER_REVIEW = "На экспертизе"
REVIEW_DONE = "Экспертиза завершена"
GRANTED = "Решение принято: категория установлена"
REFUSED = "Решение принято: в установлении категории отказано"
ARCHIVED = "В архиве"
RETURNED = "Возвращено на доработку"
WITHDRAWN = "Отозвано"
DEADLINE_DAYS = 60  # the default term from registration to the deadline
NOTHING_TO_DO = "Сейчас вам здесь нечего делать."
HIGHEST_ONLY = (
    "На категорию «педагог-методист» или «педагог-наставник» может претендовать только педагог "
    "с высшей квалификационной категорией."
)


@dataclass(frozen=True)
class Person:
    username: str
    email: str
    password: str


OPERATOR = Person("centre.operator", "centre.operator@example.ru", "пароль-оператора-центра")
MUNICIPAL = Person("tomsk.coordinator", "coordinator.tomsk@example.ru", "пароль-координатора-района")
SCHOOL_COORDINATOR = Person("kornilovo.school", "school.kornilovo@example.ru", "школьныйкоординатор")
EXPERT = Person("itatka.expert", "expert.itatka@example.ru", "экспертпоаттестации")


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The server's environment, with the operator and the district's coordinator made by `create-user`."""
    env = server_env(database_url, tmp_path / "var", APPLICATION_DEADLINE_DAYS=str(DEADLINE_DAYS))
    create_operator(env, OPERATOR.username, OPERATOR.email, OPERATOR.password)
    create_user(env, MUNICIPAL, "municipal_coordinator", "--municipality", MUNICIPALITY)
    return env


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[ServeProcess]:
    serve = ServeProcess(env, tmp_path / "server.log")
    try:
        serve.start()
        yield serve
    finally:
        serve.stop()


def create_user(env: dict[str, str], person: Person, role: str, *options: str) -> None:
    run_cli(
        {**env, "ADMIN_PASSWORD": person.password},
        "create-user",
        "--role",
        role,
        "--username",
        person.username,
        "--email",
        person.email,
        *options,
    )


def open_applications(page: Page) -> None:
    open_menu(page, "Заявления на аттестацию")
    page.wait_for_url("**/admin/application/list**")


def open_new_application_form(page: Page) -> None:
    open_applications(page)
    page.get_by_role("link", name="+ Новое заявление", exact=True).click()
    page.wait_for_url("**/admin/application/new")


def fill_application(
    page: Page, full_name: str, email: str, requested: str, *, organization: str | None = None
) -> None:
    page.fill("#full_name", full_name)
    page.fill("#email", email)
    page.fill("#phone", "+7 913 000-00-00")
    page.fill("#position", "учитель математики")
    if organization is not None:
        page.select_option("#organization_id", label=organization)
    page.select_option("#requested_category", label=requested)
    page.select_option("#current_category", label="— нет —")


def save_application(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Сохранить заявление", exact=True).click()


def open_application(page: Page, teacher: str) -> None:
    """From the list, the eye of the teacher's row."""
    open_applications(page)
    row = page.locator("tbody tr", has_text=teacher)
    assert row.count() == 1, f"{row.count()} rows of {teacher}:\n{body(page)}"
    row.locator("a[href*='/admin/application/details/']").first.click()
    page.wait_for_url("**/admin/application/details/**")
    assert teacher in body(page)


def step_buttons(page: Page) -> list[str]:
    """The labels of the status buttons in «Действия»."""
    forms = page.locator("form[action*='/status']")
    return [text.strip() for text in forms.locator("button").all_inner_texts()]


def press(page: Page, label: str, message: str) -> None:
    with page.expect_navigation():
        page.locator("form[action*='/status']").get_by_role("button", name=label, exact=True).click()
    assert_alert(page, message)


def assert_alert(page: Page, message: str, kind: str = "success") -> None:
    alerts = [text.strip() for text in page.locator(f".alert-{kind}").all_inner_texts()]
    assert message in alerts, f"no «{message}» among {kind} alerts {alerts}:\n{body(page)}"


def field(page: Page, label: str) -> str:
    """The value next to `label` in the details table."""
    for cells in page.locator("table.card-table tbody tr").all():
        name, value = (text.strip() for text in cells.locator("td").all_inner_texts())
        if name == label:
            return value
    raise AssertionError(f"no «{label}» on the details page:\n{body(page)}")


def history(page: Page) -> list[tuple[str, str, str, str]]:
    """(who, from, to, comment) of each row of «История»."""
    card = page.locator(".card", has=page.get_by_role("heading", name="История", exact=True))
    rows = []
    for cells in card.locator("tbody tr").all():
        when, who, before, after, comment = (text.strip() for text in cells.locator("td").all_inner_texts())
        assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", when), f"odd time «{when}» in the history"
        rows.append((who, before, after, comment))
    return rows


def test_application_from_submission_to_archive(browser: Browser, env: dict[str, str], serve: ServeProcess) -> None:
    """Requests `browser` before the server, so a missing Chromium is reported before the server starts."""
    base_url = serve.base_url
    today = centre_today(utcnow())

    # The operator adds the two schools of the district; the command line adds the people working there.
    operator = new_page(browser)
    log_in(operator, base_url, OPERATOR.username, OPERATOR.password)
    add_organization(operator, SCHOOL, MUNICIPALITY)
    add_organization(operator, GYMNASIUM, MUNICIPALITY)
    create_user(env, SCHOOL_COORDINATOR, "organization_coordinator", "--organization", SCHOOL)
    create_user(
        env,
        EXPERT,
        "expert",
        "--municipality",
        MUNICIPALITY,
        "--organization",
        GYMNASIUM,
        "--full-name",
        EXPERT_NAME,
    )

    # The school's coordinator enters the application; «Педагог-методист» needs the highest category.
    school = new_page(browser)
    log_in(school, base_url, SCHOOL_COORDINATOR.username, SCHOOL_COORDINATOR.password)
    open_new_application_form(school)
    text = body(school)
    assert "Новое заявление на аттестацию" in text
    assert_no_english(text, "the new-application form")
    options = [option.strip() for option in school.locator("#organization_id option").all_inner_texts()]
    assert options == [SCHOOL], f"the school's coordinator may choose {options}"
    fill_application(school, TEACHER, "petrova@example.ru", "Педагог-методист")
    save_application(school)
    assert school.url.endswith("/admin/application/new"), school.url
    assert HIGHEST_ONLY in body(school)
    assert school.locator("#requested_category.is-invalid").count() == 1
    assert school.input_value("#full_name") == TEACHER
    assert school.input_value("#email") == "petrova@example.ru"
    screenshot(school, "application-1-new-form-refused.png")

    school.select_option("#requested_category", label="Первая")
    save_application(school)
    assert re.search(r"/admin/application/details/\d+$", school.url), f"{school.url}\n{body(school)}"
    assert_alert(school, "Заявление сохранено.")
    assert field(school, "Статус") == NEW
    assert field(school, "Категория") == "Первая"
    details_url = school.url

    # Registering is the coordinators' step: the school's coordinator may only withdraw, and a forged
    # «Зарегистрировано» is refused.
    assert step_buttons(school) == [WITHDRAWN], step_buttons(school)
    assert school.get_by_role("button", name="Назначить").count() == 0
    school.locator("form[action*='/status'] input[name=to]").evaluate("input => input.value = 'registered'")
    with school.expect_navigation():
        school.get_by_role("button", name=WITHDRAWN, exact=True).click()
    assert_alert(school, f"Нельзя перевести заявление из статуса «{NEW}» в статус «{REGISTERED}».", "danger")
    assert field(school, "Статус") == NEW

    # The district's coordinator: one new application in the cabinet; registers it, assigns the expert.
    municipal = new_page(browser)
    log_in(municipal, base_url, MUNICIPAL.username, MUNICIPAL.password)
    assert "Количество новых заявлений (не зарегистрированных) на аттестацию от педагогических работников = 1." in body(
        municipal
    ), body(municipal)
    open_application(municipal, TEACHER)
    assert municipal.url == details_url
    assert field(municipal, "Рег. номер") == ""
    assert step_buttons(municipal) == [REGISTERED, RETURNED, WITHDRAWN], step_buttons(municipal)
    press(municipal, REGISTERED, f"Статус заявления: «{REGISTERED}».")
    assert field(municipal, "Рег. номер") == f"1/{today.year}"
    assert field(municipal, "Статус") == REGISTERED
    default_deadline = today + timedelta(days=DEADLINE_DAYS)
    assert municipal.input_value("input[name=deadline]") == default_deadline.isoformat()
    assert_date(field(municipal, "Срок аттестации"), default_deadline)
    assert_date(field(municipal, "Зарегистрировано"), today)

    too_early = municipal.locator("form[action*='/status']").get_by_role("button", name=EXPERTS_ASSIGNED)
    with municipal.expect_navigation():
        too_early.click()
    assert_alert(municipal, "Сначала назначьте хотя бы одного специалиста по аттестации.", "danger")

    municipal.get_by_label(EXPERT_NAME).check()
    with municipal.expect_navigation():
        municipal.get_by_role("button", name="Назначить", exact=True).click()
    assert_alert(municipal, "Специалисты по аттестации назначены.")
    assert municipal.get_by_label(EXPERT_NAME).is_checked()
    deadline = today + timedelta(days=45)
    municipal.fill("input[name=deadline]", deadline.isoformat())
    with municipal.expect_navigation():
        municipal.get_by_role("button", name="Установить", exact=True).click()
    assert_alert(municipal, f"Срок проведения аттестации: {deadline:%d.%m.%Y}.")
    assert_date(field(municipal, "Срок аттестации"), deadline)
    press(municipal, EXPERTS_ASSIGNED, f"Статус заявления: «{EXPERTS_ASSIGNED}».")
    assert step_buttons(municipal) == [UNDER_REVIEW, WITHDRAWN], step_buttons(municipal)
    assert_no_english(body(municipal), "the application's page")
    screenshot(municipal, "application-2-details-coordinator.png")

    # A second application, of the other school, to which the expert is not assigned.
    open_new_application_form(municipal)
    fill_application(municipal, OTHER_TEACHER, "sidorov@example.ru", "Высшая", organization=GYMNASIUM)
    save_application(municipal)
    assert_alert(municipal, "Заявление сохранено.")
    other_url = municipal.url

    # The expert sees only the application assigned to them, and reviews it.
    expert = new_page(browser)
    log_in(expert, base_url, EXPERT.username, EXPERT.password)
    assert "Заявления, назначенные вам" in body(expert)
    open_applications(expert)
    rows = expert.locator("tbody tr")
    assert rows.count() == 1 and TEACHER in rows.inner_text(), body(expert)
    assert OTHER_TEACHER not in body(expert)
    assert expert.get_by_role("link", name="+ Новое заявление").count() == 0
    response = expert.goto(other_url)
    assert response is not None and response.status == 404
    text = body(expert)
    assert "Страница не найдена." in text and OTHER_TEACHER not in text, text
    with expert.expect_navigation():
        expert.get_by_role("link", name="Вернуться на главную", exact=True).click()
    open_application(expert, TEACHER)
    assert step_buttons(expert) == [UNDER_REVIEW], step_buttons(expert)
    assert expert.get_by_role("button", name="Назначить").count() == 0
    assert expert.locator("input[name=deadline]").count() == 0
    press(expert, UNDER_REVIEW, f"Статус заявления: «{UNDER_REVIEW}».")
    press(expert, REVIEW_DONE, f"Статус заявления: «{REVIEW_DONE}».")
    assert step_buttons(expert) == [], step_buttons(expert)
    assert NOTHING_TO_DO in body(expert)

    # Only the operator decides; the district's coordinator has nothing to do now.
    municipal.goto(details_url)
    assert step_buttons(municipal) == [], step_buttons(municipal)
    operator.goto(details_url)
    assert step_buttons(operator) == [GRANTED, REFUSED], step_buttons(operator)
    press(operator, GRANTED, f"Статус заявления: «{GRANTED}».")
    assert step_buttons(operator) == [ARCHIVED], step_buttons(operator)
    press(operator, ARCHIVED, f"Статус заявления: «{ARCHIVED}».")
    assert step_buttons(operator) == []
    assert field(operator, "Статус") == ARCHIVED
    assert history(operator) == [
        (SCHOOL_COORDINATOR.username, "—", NEW, ""),
        (MUNICIPAL.username, NEW, REGISTERED, ""),
        (MUNICIPAL.username, REGISTERED, EXPERTS_ASSIGNED, ""),
        (f"{EXPERT_NAME} ({EXPERT.username})", EXPERTS_ASSIGNED, UNDER_REVIEW, ""),
        (f"{EXPERT_NAME} ({EXPERT.username})", UNDER_REVIEW, REVIEW_DONE, ""),
        (OPERATOR.username, REVIEW_DONE, GRANTED, ""),
        (OPERATOR.username, GRANTED, ARCHIVED, ""),
    ], history(operator)
    text = body(operator)
    assert EXPERT_NAME in text
    assert_no_english(text, "the application's page")
    screenshot(operator, "application-3-details-history.png")

    open_applications(operator)
    text = body(operator)
    assert_no_english(text, "the list of applications")
    row = operator.locator("tbody tr", has_text=TEACHER).inner_text()
    for expected in (f"1/{today.year}", SCHOOL, "Первая", ARCHIVED):
        assert expected in row, f"the list's row lacks «{expected}»: {row}"
    assert_in_view(operator, TEACHER, f"1/{today.year}", ARCHIVED)
    row = operator.locator("tbody tr", has_text=OTHER_TEACHER).inner_text()
    assert NEW in row and GYMNASIUM in row, row
    screenshot(operator, "application-4-list.png")


def assert_in_view(page: Page, teacher: str, *texts: str) -> None:
    """Each text is a cell of the teacher's row that a user sees, scrolling the wide table if need be."""
    from playwright.sync_api import expect

    row = page.locator("tbody tr", has_text=teacher)
    for text in texts:
        cell = row.locator("td", has_text=text).first
        cell.scroll_into_view_if_needed()
        expect(cell).to_be_in_viewport()


def assert_date(shown: str, expected: date) -> None:
    assert shown in (f"{expected:%d.%m.%Y}", expected.isoformat()), f"«{shown}» is not {expected}"
