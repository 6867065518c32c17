"""Switching accounts off and on: «Отключить» and «Включить» on the users' list and details page.

Operators act on anyone but themselves; a municipal coordinator on the experts and school coordinators
of their municipality. A switched-off user's open session ends at their next request; switched on again,
they log in as before. Ids outside the actor's reach, their own id and malformed ids change nothing.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_server import ServeProcess, new_page, server_env
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models import Municipality, User
from tests.conftest import BASE_URL, PASSWORD, csrf_from, log_in

TOMSK = "Томский район"
SEVERSK = "ЗАТО Северск"


@dataclass(frozen=True)
class People:
    operator: int
    coordinator: int
    tomsk_expert: int
    seversk_expert: int


@pytest.fixture
def people(make_user, session_factory) -> People:
    with session_factory() as session:
        tomsk, seversk = (
            session.scalar(select(Municipality.id).where(Municipality.name == name)) for name in (TOMSK, SEVERSK)
        )
    return People(
        operator=make_user("olesya").id,
        coordinator=make_user("coordinator", role="municipal_coordinator", municipality_id=tomsk).id,
        tomsk_expert=make_user("tomsk.expert", role="expert", municipality_id=tomsk).id,
        seversk_expert=make_user("seversk.expert", role="expert", municipality_id=seversk).id,
    )


@pytest.fixture
def other_browser(app: Starlette) -> Iterator[TestClient]:
    """The browser of the user being switched off or on."""
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
        yield other


def run_action(client: TestClient, slug: str, pks: str, referer: str = "/admin/user/list"):
    return client.get(f"/admin/user/action/{slug}", params={"pks": pks}, headers={"Referer": BASE_URL + referer})


def activity(session_factory) -> dict[str, bool]:
    with session_factory() as session:
        return {row.username: row.is_active for row in session.execute(select(User.username, User.is_active))}


def flash_after(client: TestClient, response) -> str:
    """The page the action went back to, with its message."""
    assert response.status_code == 302, response.text
    return html.unescape(client.get(response.headers["location"]).text)


def test_the_list_and_details_offer_both_actions_with_a_confirmation(client, people) -> None:
    log_in(client, "olesya")
    for page in (client.get("/admin/user/list"), client.get(f"/admin/user/details/{people.tomsk_expert}")):
        text = html.unescape(page.text)
        assert "Отключить" in text and "Включить" in text
        assert "Отключить выбранных пользователей? Они сразу выйдут из системы и не смогут войти." in text
        assert "Включить выбранных пользователей? Они снова смогут входить в систему." in text


def test_an_operator_switches_off_a_coordinator_whose_open_session_ends(
    client, people, other_browser, session_factory
) -> None:
    coordinator = other_browser
    assert log_in(coordinator, "coordinator").status_code == 302
    assert coordinator.get("/admin/user/list").status_code == 200
    log_in(client, "olesya")

    response = run_action(client, "deactivate", str(people.coordinator), referer="/admin/user/list?search=coord")

    assert response.headers["location"] == f"{BASE_URL}/admin/user/list?search=coord"
    assert "Отключены: coordinator." in flash_after(client, response)
    assert activity(session_factory)["coordinator"] is False
    refused = coordinator.get("/admin/user/list")
    assert refused.status_code == 302
    assert refused.headers["location"].startswith(f"{BASE_URL}/admin/login")
    assert coordinator.get("/admin/").headers["location"].startswith(f"{BASE_URL}/admin/login")
    assert "Неверное имя пользователя или пароль." in html.unescape(log_in(coordinator, "coordinator").text)


def test_an_operator_cannot_switch_themselves_off(client, people, session_factory) -> None:
    log_in(client, "olesya")

    response = run_action(client, "deactivate", str(people.operator))

    assert "olesya: Свою учётную запись нельзя отключить или включить." in flash_after(client, response)
    assert activity(session_factory)["olesya"] is True
    assert client.get("/admin/user/list").status_code == 200


def test_a_coordinator_switches_off_an_expert_of_their_municipality(
    client, people, other_browser, session_factory
) -> None:
    expert = other_browser
    assert log_in(expert, "tomsk.expert").status_code == 302
    log_in(client, "coordinator")

    response = run_action(client, "deactivate", str(people.tomsk_expert), f"/admin/user/details/{people.tomsk_expert}")

    assert response.headers["location"] == f"{BASE_URL}/admin/user/details/{people.tomsk_expert}"
    assert "Отключены: tomsk.expert." in flash_after(client, response)
    assert activity(session_factory)["tomsk.expert"] is False
    assert expert.get("/admin/application/list").status_code == 302


def test_a_coordinator_reaches_nobody_else(client, people, session_factory) -> None:
    log_in(client, "coordinator")
    before = activity(session_factory)
    others = (people.seversk_expert, people.operator, people.coordinator)

    response = run_action(client, "deactivate", ",".join(map(str, others)))

    assert "Не найдено среди ваших пользователей: 3." in flash_after(client, response)
    assert activity(session_factory) == before
    for user_id in others:
        assert "Не найдено среди ваших пользователей: 1." in flash_after(
            client, run_action(client, "deactivate", str(user_id))
        )
    assert activity(session_factory) == before
    assert client.get("/admin/user/list").status_code == 200


NOTHING_CHOSEN = "Не выбран ни один пользователь."
NOT_FOUND_ONE = "Не найдено среди ваших пользователей: 1."


@pytest.mark.parametrize(
    ("pks", "message"),
    [
        ("", NOTHING_CHOSEN),
        (",,", NOTHING_CHOSEN),
        *((pks, NOT_FOUND_ONE) for pks in ("abc", "-1", str(2**31), "1.5", "1e3", "٣", "0x1", "9" * 5000)),
    ],
)
def test_malformed_ids_change_nothing(client, people, session_factory, pks, message) -> None:
    log_in(client, "olesya")
    before = activity(session_factory)

    response = run_action(client, "deactivate", pks)

    assert message in flash_after(client, response)
    assert activity(session_factory) == before


def test_malformed_ids_beside_a_good_one_leave_only_it_changed(client, people, session_factory) -> None:
    log_in(client, "olesya")

    response = run_action(client, "deactivate", f"abc,{people.tomsk_expert},-1,{2**31}")

    assert "Отключены: tomsk.expert." in flash_after(client, response)
    assert activity(session_factory) == {
        "olesya": True,
        "coordinator": True,
        "tomsk.expert": False,
        "seversk.expert": True,
    }


def test_a_user_switched_on_again_logs_in(client, people, other_browser, session_factory) -> None:
    log_in(client, "olesya")
    flash_after(client, run_action(client, "deactivate", f"{people.tomsk_expert},{people.seversk_expert}"))
    assert log_in(other_browser, "tomsk.expert").status_code == 400

    response = run_action(client, "activate", f"{people.tomsk_expert},{people.coordinator}")

    message = flash_after(client, response)
    assert "Включены: tomsk.expert." in message and "Уже были включены: coordinator." in message
    assert activity(session_factory)["tomsk.expert"] is True
    assert activity(session_factory)["seversk.expert"] is False
    assert log_in(other_browser, "tomsk.expert").status_code == 302
    assert other_browser.get("/admin/application/list").status_code == 200


def test_switching_on_is_refused_when_another_active_user_has_the_address(
    client, people, make_user, session_factory
) -> None:
    log_in(client, "olesya")
    flash_after(client, run_action(client, "deactivate", str(people.tomsk_expert)))
    make_user("successor", role="expert", email="TOMSK.expert@example.com", municipality_id=_tomsk(session_factory))

    response = run_action(client, "activate", str(people.tomsk_expert))

    message = flash_after(client, response)
    assert "tomsk.expert: Адрес tomsk.expert@example.com уже указан у другого активного пользователя." in message
    assert activity(session_factory)["tomsk.expert"] is False


def test_the_edit_form_keeps_the_same_address_rule(client, people, make_user, session_factory) -> None:
    log_in(client, "olesya")
    flash_after(client, run_action(client, "deactivate", str(people.tomsk_expert)))
    make_user("successor", role="expert", email="tomsk.expert@example.com", municipality_id=_tomsk(session_factory))
    form = client.get(f"/admin/user/edit/{people.tomsk_expert}")
    fields = {"full_name": "", "email": "tomsk.expert@example.com", "role": "4", "save": "Save"}

    response = client.post(
        f"/admin/user/edit/{people.tomsk_expert}",
        data={
            **fields,
            "municipality": str(_tomsk(session_factory)),
            "is_active": "y",
            "csrf_token": csrf_from(form.text),
        },
    )

    assert response.status_code == 400
    assert "Адрес tomsk.expert@example.com уже указан у другого активного пользователя." in html.unescape(response.text)
    assert activity(session_factory)["tomsk.expert"] is False


def test_roles_without_the_grant_cannot_switch_anyone(client, people, make_user, session_factory) -> None:
    log_in(client, "tomsk.expert")
    before = activity(session_factory)

    assert run_action(client, "deactivate", str(people.seversk_expert)).status_code == 403
    assert run_action(client, "activate", str(people.seversk_expert)).status_code == 403
    assert activity(session_factory) == before


def test_a_request_from_another_site_is_refused(client, people, session_factory) -> None:
    log_in(client, "olesya")

    response = client.get(
        "/admin/user/action/deactivate",
        params={"pks": str(people.tomsk_expert)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert activity(session_factory)["tomsk.expert"] is True


def _tomsk(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(Municipality.id).where(Municipality.name == TOMSK))


@pytest.mark.browser
def test_switching_off_from_the_list_in_a_browser(chromium, browser, database_url, tmp_path: Path, people) -> None:
    """The list's checkbox, the actions menu and the confirmation build the request a browser really sends."""
    serve = ServeProcess(server_env(database_url, tmp_path / "var"), tmp_path / "server.log")
    serve.start()
    try:
        page = new_page(browser)
        page.goto(f"{serve.base_url}/admin/login")
        page.fill("#username", "olesya")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(f"{serve.base_url}/admin/user/list")
        page.locator("tr", has_text="tomsk.expert").locator("input.select-box").check()
        page.get_by_role("button", name="Действия").click()
        page.get_by_text("Отключить", exact=True).click()
        with page.expect_navigation():
            page.locator("#action-custom-modal-deactivate").click()
        assert page.url == f"{serve.base_url}/admin/user/list"
        assert "Отключены: tomsk.expert." in page.locator(".toast-body").text_content()
        cells = page.locator("tr", has_text="tomsk.expert").inner_text().split("\t")
        assert "Нет" in cells and "Да" not in cells  # the «Активен» column
    finally:
        serve.stop()
