"""/Application/Submit and /Application/Status: a teacher applies without an account and follows the status."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import anyio
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from starlette.testclient import TestClient

from admin_app.applications import centre_today, change_status
from admin_app.auth import CurrentUser
from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import transport_for
from admin_app.public_applications import FORM_COOKIE
from admin_app.public_form_tokens import FORM_TTL_SECONDS, new_form_token
from admin_app.tokens import token_hash
from models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    Base,
    OutboxMessage,
    OutboxStatus,
    User,
    utcnow,
)
from tests.application_helpers import TEACHER
from tests.conftest import BASE_URL, csrf_from
from tests.invitation_helpers import add_organization, municipality_id

SUBMIT = "/Application/Submit"
STATUS_LINK = re.compile(r"https?://\S+/Application/Status\?k=[\w-]+")


@pytest.fixture
def schools(session_factory) -> dict[str, int]:
    return {
        "kornilovo": add_organization(session_factory, "Корниловская СОШ", "Томский район"),
        "gymnasium": add_organization(session_factory, "Гимназия № 6", "Город Томск"),
    }


def submit(client: TestClient, organization_id: int, **changes: str):
    token = csrf_from(client.get(SUBMIT).text)
    data = {"csrf_token": token, **TEACHER, "consent": "on", "organization_id": str(organization_id), **changes}
    return client.post(SUBMIT, data=data)


def counts(session_factory) -> tuple[int, int, int]:
    """Applications, status history rows and letters in the database."""
    with session_factory() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Application, ApplicationStatusChange, OutboxMessage)
        )


def status_link(session_factory, email: str = TEACHER["email"]) -> str:
    """The status link of the newest letter to `email`, as a path for the test client."""
    with session_factory() as session:
        body = session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.recipient == email).order_by(OutboxMessage.id.desc())
        )
    found = STATUS_LINK.search(body or "")
    assert found, f"no status link in the letter to {email}: {body!r}"
    return found.group(0).removeprefix(BASE_URL)


def test_form_has_the_teachers_fields_and_organizations_by_municipality(client, schools) -> None:
    page = client.get(SUBMIT)
    assert page.status_code == 200
    for label in (
        "Заявление на аттестацию",
        "Фамилия, имя, отчество",
        "Электронная почта",
        "Телефон",
        "Должность",
        "Образовательная организация",
        "Категория, на которую вы претендуете",
        "Имеющаяся категория",
        "Дата присвоения имеющейся категории",
        "Отправить заявление",
        "Педагог-методист",
    ):
        assert label in page.text, label
    district = page.text.index('<optgroup label="Томский район">')
    city = page.text.index('<optgroup label="Город Томск">')
    assert city < page.text.index("Гимназия № 6") < district < page.text.index("Корниловская СОШ")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert cookie.startswith(f"{FORM_COOKIE}=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/application/submit" in cookie


def test_submission_creates_the_application_and_a_letter_whose_link_shows_its_status(
    client, schools, session_factory
) -> None:
    response = submit(client, schools["kornilovo"])
    assert response.status_code == 200
    assert "Заявление отправлено" in response.text and "Спасибо" in response.text
    assert "На адрес <strong>petrova@example.ru</strong> отправлено письмо" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert counts(session_factory) == (1, 1, 1)
    with session_factory() as session:
        application = session.scalar(select(Application))
        [change] = session.scalars(select(ApplicationStatusChange)).all()
        letter = session.scalar(select(OutboxMessage))
    assert application.status == ApplicationStatus.NEW and application.created_by_id is None
    assert application.municipality_id == municipality_id(session_factory, "Томский район")
    assert (change.actor_id, change.from_status, change.to_status) == (None, None, ApplicationStatus.NEW)
    assert letter.recipient == "petrova@example.ru" and letter.status == OutboxStatus.PENDING
    assert letter.subject == "Ваше заявление на аттестацию получено"
    assert "Петрова Анна Ивановна, Корниловская СОШ, квалификационная категория «Первая»" in letter.body_text

    link = status_link(session_factory)
    assert f'href="{BASE_URL}{link}"' in letter.body_html
    page = client.get(link)
    assert page.status_code == 200
    assert "Петрова Анна Ивановна" in page.text and "Первая" in page.text
    assert "Новое (не зарегистрировано)" in page.text
    assert "Регистрационный номер" not in page.text and "Срок проведения аттестации" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_status_page_follows_the_registration_without_naming_staff(
    client, schools, session_factory, settings, make_user
) -> None:
    submit(client, schools["kornilovo"])
    link = status_link(session_factory)
    coordinator = make_user(
        "sidorova",
        role="municipal_coordinator",
        full_name="Сидорова Мария Петровна",
        municipality_id=municipality_id(session_factory, "Томский район"),
    )
    now = utcnow()
    with session_factory.begin() as session:
        actor = CurrentUser.of(session.get(User, coordinator.id, options=[joinedload(User.role)]))
        application = session.scalar(select(Application))
        change_status(
            session, application, ApplicationStatus.REGISTERED, actor=actor, comment="", settings=settings, now=now
        )
    today = centre_today(now)
    deadline = today + timedelta(days=settings.application_deadline_days)

    page = client.get(link)
    assert page.status_code == 200
    assert f"<strong>Зарегистрировано</strong> с {today:%d.%m.%Y}" in page.text
    assert f"1/{today.year}" in page.text
    assert f"до {deadline:%d.%m.%Y}" in page.text
    history = page.text[page.text.index("История заявления") :]
    assert history.index("Новое (не зарегистрировано)") < history.index("Зарегистрировано")
    assert "Сидорова" not in page.text and "sidorova" not in page.text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "petrova@@example"}, "email", "Неверный адрес электронной почты «petrova@@example»."),
        (
            {"requested_category": "methodist", "current_category": "first"},
            "requested_category",
            "может претендовать только педагог с высшей квалификационной категорией",
        ),
        ({"organization_id": "999999"}, "organization_id", "Выберите образовательную организацию из списка."),
        ({"organization_id": "99999999999999999999"}, "organization_id", "Выберите образовательную организацию"),
        ({"full_name": "   "}, "full_name", "Заполните поле «ФИО педагога»."),
        ({"phone": "8" * 41}, "phone", "Не больше 40 символов."),
        ({"current_category_date": "31.02.2020"}, "current_category_date", "Укажите дату в формате ДД.ММ.ГГГГ."),
        ({"csrf_token": ""}, "form", "Форма устарела"),
        ({"csrf_token": "подделка"}, "form", "Форма устарела"),
    ],
)
def test_bad_input_is_refused_with_the_typed_values_kept(
    client, schools, session_factory, changes, field, message
) -> None:
    response = submit(client, changes.pop("organization_id", schools["kornilovo"]), **changes)
    assert response.status_code == 400
    assert message in response.text
    assert response.text.count('role="alert"') == 1  # the summary at the top
    assert response.text.count("invalid-feedback") == (field != "form")  # and the message next to its field
    if field != "form":
        assert re.search(rf'<(input|select) id="{field}"[^>]*is-invalid', response.text), "the field is not marked"
    for name in ("full_name", "email", "phone", "position"):
        assert f'value="{changes.get(name, TEACHER[name]).strip()}"' in response.text
    if "requested_category" in changes:
        assert '<option value="methodist" selected>' in response.text
    assert counts(session_factory) == (0, 0, 0)
    data = {
        **TEACHER,
        "consent": "on",
        "organization_id": str(schools["kornilovo"]),
        "csrf_token": csrf_from(response.text),
    }
    again = client.post(SUBMIT, data=data)
    assert again.status_code == 200  # the refused form carries a fresh token
    assert counts(session_factory) == (1, 1, 1)


def test_a_typed_date_is_kept_as_the_date_input_shows_it(client, schools, session_factory) -> None:
    typed = {"email": "", "current_category": "first", "current_category_date": "01.09.2021"}
    response = submit(client, schools["kornilovo"], **typed)
    assert response.status_code == 400
    assert 'type="date" maxlength="10" autocomplete="off"' in response.text
    assert 'value="2021-09-01"' in response.text
    assert counts(session_factory) == (0, 0, 0)


def test_methodist_with_the_highest_category_is_accepted(client, schools, session_factory) -> None:
    changes = {"requested_category": "methodist", "current_category": "highest", "current_category_date": "01.09.2021"}
    assert submit(client, schools["gymnasium"], **changes).status_code == 200
    with session_factory() as session:
        application = session.scalar(select(Application))
    assert (application.requested_category, application.current_category) == ("methodist", "highest")
    assert application.current_category_date.isoformat() == "2021-09-01"


def test_the_token_only_works_with_the_cookie_of_the_same_browser(client, app, schools, session_factory) -> None:
    token = csrf_from(client.get(SUBMIT).text)
    data = {**TEACHER, "consent": "on", "organization_id": str(schools["kornilovo"]), "csrf_token": token}
    with TestClient(app, base_url=BASE_URL) as other_browser:
        refused = other_browser.post(SUBMIT, data=data)
    assert refused.status_code == 400 and "Форма устарела" in refused.text
    assert counts(session_factory) == (0, 0, 0)


def test_an_expired_form_is_refused(client, schools, session_factory, settings) -> None:
    cookie, token = new_form_token(settings, time.time() - FORM_TTL_SECONDS - 1)
    client.cookies.set(FORM_COOKIE, cookie, path=SUBMIT)
    response = client.post(
        SUBMIT, data={**TEACHER, "consent": "on", "organization_id": str(schools["kornilovo"]), "csrf_token": token}
    )
    assert response.status_code == 400 and "Форма устарела" in response.text
    assert counts(session_factory) == (0, 0, 0)


def test_posting_the_same_form_again_does_not_submit_twice(client, schools, session_factory) -> None:
    token = csrf_from(client.get(SUBMIT).text)
    data = {**TEACHER, "consent": "on", "organization_id": str(schools["kornilovo"]), "csrf_token": token}
    assert client.post(SUBMIT, data=data).status_code == 200
    again = client.post(SUBMIT, data=data)
    assert again.status_code == 400 and "Форма устарела" in again.text
    assert counts(session_factory) == (1, 1, 1)


@pytest.mark.parametrize("key", [None, "", "nonsense", "x" * 5000, "%00", "../../etc/passwd", "Ы" * 40])
def test_unknown_key_is_a_clear_404(client, key) -> None:
    response = client.get("/Application/Status", params={} if key is None else {"k": key})
    assert response.status_code == 404
    assert "Заявление не найдено" in response.text and "Ссылка для просмотра статуса заявления неверна" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_stored_hash_does_not_open_the_status_page(client, schools, session_factory) -> None:
    submit(client, schools["kornilovo"])
    with session_factory() as session:
        stored = session.scalar(select(Application.status_key_hash))
    assert client.get("/Application/Status", params={"k": stored}).status_code == 404


def test_the_key_is_not_kept_in_clear_once_the_letter_is_sent(client, schools, session_factory, settings) -> None:
    submit(client, schools["kornilovo"])
    key = status_link(session_factory).split("k=")[1]
    assert len(key) >= 32
    assert holders_of(session_factory, key) == {("outbox_messages", "body_text"), ("outbox_messages", "body_html")}
    with session_factory() as session:
        assert session.scalar(select(Application.status_key_hash)) == token_hash(key)

    assert anyio.run(deliver_due, session_factory, transport_for(settings)) == 1

    assert holders_of(session_factory, key) == set()
    assert any(key in path.read_text() for path in settings.mail_dir.glob("*.eml"))  # the letter itself had it
    assert client.get(f"/Application/Status?k={key}").status_code == 200


def holders_of(session_factory, secret: str) -> set[tuple[str, str]]:
    """Every (table, column) of the database whose value contains `secret`."""
    found = set()
    with session_factory() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                found.update((table.name, column) for column, value in row.items() if secret in str(value))
    return found
