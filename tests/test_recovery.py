"""«Забыли пароль?» and «Забыли имя пользователя?»: the pages, the letters through a real SMTP server, the link."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from functools import partial
from urllib.parse import urlencode

import anyio
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.csrf import STALE_FORM
from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import MailTransport, SmtpTransport
from admin_app.recovery import ResetRefused, minutes_text, reset_password
from admin_app.throttle import PASSWORD_LINKS_PER_ACCOUNT, USERNAME_LETTERS_PER_MAILBOX
from models import OutboxMessage, PasswordReset, User, utcnow
from settings import Settings, load_settings
from tests.conftest import BASE_URL, PASSWORD, csrf_from, env_for, log_in
from tests.smtp_server import SmtpServer

FORGOT_PASSWORD = "/Account/ForgotPassword"
FORGOT_USERNAME = "/Account/ForgotUsername"
NEW_PASSWORD = "новый-пароль-для-входа"
RESET_LINK = re.compile(re.escape(BASE_URL) + r"(/Account/ResetPassword\?k=[\w-]+)")
PASSWORD_ANSWER = "Если такая учётная запись есть, на её адрес электронной почты отправлено письмо"
USERNAME_ANSWER = "Если с этим адресом зарегистрированы учётные записи"
RESET_SUBJECT = "Смена пароля в системе «Аттестация»"
USERNAMES_SUBJECT = "Ваше имя пользователя в системе «Аттестация»"
CHANGED_SUBJECT = "Ваш пароль изменён"


@pytest.fixture
def anonymous(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as other:
        yield other


@pytest.fixture
def transport(smtp_server: SmtpServer, settings: Settings) -> MailTransport:
    return SmtpTransport(
        host=smtp_server.host,
        port=smtp_server.port,
        username="",
        password="",
        starttls=False,
        mail_from=settings.mail_from,
    )


@pytest.fixture
def deliver(session_factory: sessionmaker[Session], transport: MailTransport) -> Callable[[], int]:
    """Send the outbox to the SMTP server on loopback, as the running application's sender does."""
    return lambda: anyio.run(partial(deliver_due, session_factory, transport))


def ask_for_link(client: TestClient, login: str):
    token = csrf_from(client.get(FORGOT_PASSWORD).text)
    return client.post(FORGOT_PASSWORD, data={"login": login, "csrf_token": token})


def ask_for_usernames(client: TestClient, email: str):
    token = csrf_from(client.get(FORGOT_USERNAME).text)
    return client.post(FORGOT_USERNAME, data={"email": email, "csrf_token": token})


def letters_to(smtp_server: SmtpServer, address: str, subject: str) -> list[EmailMessage]:
    return [m for m in smtp_server.messages if m["To"] == address and m["Subject"] == subject]


def plain_text(letter: EmailMessage) -> str:
    part = letter.get_body(preferencelist=("plain",))
    assert part is not None, "the letter has no plain-text part"
    return part.get_content().replace("\r\n", "\n")


def link_in(letter: EmailMessage) -> str:
    """The reset link of the letter, as a path for the test client."""
    found = RESET_LINK.search(plain_text(letter))
    assert found, f"no reset link in the letter:\n{plain_text(letter)}"
    return found.group(1)


def set_new_password(client: TestClient, link: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    token = csrf_from(client.get(link).text)
    data = {"csrf_token": token, "password": password, "password_confirm": password if confirm is None else confirm}
    return client.post(link, data=data)


def deactivate(session_factory: sessionmaker[Session], username: str) -> None:
    with session_factory.begin() as session:
        session.execute(update(User).where(User.username == username).values(is_active=False))


def outbox_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_login_page_offers_both_recoveries(client) -> None:
    page = client.get("/admin/login").text
    assert '<a href="/Account/ForgotPassword">Забыли пароль?</a>' in page
    assert '<a href="/Account/ForgotUsername">Забыли имя пользователя?</a>' in page


def test_forms_have_labelled_fields_a_token_and_no_referrer(anonymous) -> None:
    for path, field, label, autocomplete in (
        (FORGOT_PASSWORD, "login", "Имя пользователя или адрес электронной почты", "username"),
        (FORGOT_USERNAME, "email", "Адрес электронной почты", "email"),
    ):
        page = anonymous.get(path)
        assert page.status_code == 200
        assert f'<label class="form-label" for="{field}">{label}</label>' in page.text
        assert re.search(rf'<input id="{field}" name="{field}"[^>]*autocomplete="{autocomplete}"', page.text)
        assert csrf_from(page.text)
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"


def test_link_from_the_letter_sets_a_new_password_once(
    client, anonymous, make_user, smtp_server, deliver, session_factory
) -> None:
    make_user("ivan.petrov", email="ivan@example.ru")
    log_in(client, "ivan.petrov")  # a session opened before the reset
    assert client.get("/admin/").status_code == 200

    answer = ask_for_link(anonymous, "Ivan.Petrov")
    assert answer.status_code == 200 and PASSWORD_ANSWER in answer.text
    assert "Ссылка действует 60 минут и только один раз." in answer.text
    deliver()
    [letter] = letters_to(smtp_server, "ivan@example.ru", RESET_SUBJECT)
    assert "пароль пользователя ivan.petrov" in plain_text(letter)
    assert "Ссылка действует 60 минут и только один раз." in plain_text(letter)
    link = link_in(letter)
    with session_factory() as session:
        assert link.split("k=")[1] not in str(session.scalars(select(PasswordReset.key_hash)).all())

    for _ in range(2):  # a GET (a mail scanner) never consumes the link
        form = anonymous.get(link)
        assert form.status_code == 200
        for text in ("Новый пароль", "Подтверждение пароля", "не должен содержать имя пользователя", "ivan.petrov"):
            assert text in form.text
        assert form.text.count('autocomplete="new-password"') == 2
        assert form.headers["referrer-policy"] == "no-referrer"
    done = set_new_password(anonymous, link)
    assert done.status_code == 200
    assert "Пароль изменён" in done.text and 'href="/admin/login"' in done.text

    assert client.get("/admin/").status_code == 302  # the old session has ended
    assert log_in(anonymous, "ivan.petrov", PASSWORD).status_code == 400
    assert log_in(anonymous, "ivan.petrov", NEW_PASSWORD).status_code == 302
    deliver()
    [changed] = letters_to(smtp_server, "ivan@example.ru", CHANGED_SUBJECT)
    assert "Пароль пользователя ivan.petrov изменён" in plain_text(changed)

    for again in (anonymous.get(link), set_new_password_without_form(anonymous, link)):
        assert again.status_code == 410
        assert "Ссылка больше не действует: пароль уже изменён" in again.text
        assert 'href="/Account/ForgotPassword"' in again.text
        assert 'name="password"' not in again.text
    assert log_in(anonymous, "ivan.petrov", "другой-пароль-2026").status_code == 400


def set_new_password_without_form(client: TestClient, link: str):
    return client.post(link, data={"password": "другой-пароль-2026", "password_confirm": "другой-пароль-2026"})


def test_letters_are_queued_only_after_the_answer_is_sent(app, anonymous, make_user, session_factory) -> None:
    """The lookup runs after the last byte of the answer: its time cannot tell whether the account exists."""
    make_user("ivan")
    form = anonymous.get(FORGOT_PASSWORD)
    body = urlencode({"login": "ivan", "csrf_token": csrf_from(form.text)}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": FORGOT_PASSWORD,
        "raw_path": FORGOT_PASSWORD.encode(),
        "root_path": "",
        "query_string": b"",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", f"recovery_form={form.cookies['recovery_form']}".encode()),
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    outbox_when_answered: list[int] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            outbox_when_answered.append(outbox_count(session_factory))

    anyio.run(app, scope, receive, send)
    assert outbox_when_answered == [0]
    assert outbox_count(session_factory) == 1


@pytest.mark.parametrize("typed", ["ivan", "IVAN", "ivan@example.ru", "Ivan@Example.RU"])
def test_known_and_unknown_accounts_get_the_same_answer(anonymous, make_user, session_factory, typed) -> None:
    make_user("ivan", email="ivan@example.ru")
    make_user("sleeper", email="sleeper@example.ru")
    deactivate(session_factory, "sleeper")
    known = ask_for_link(anonymous, typed)
    assert outbox_count(session_factory) == 1
    for other in ("nobody", "nobody@example.ru", "sleeper", "sleeper@example.ru", "not an @ address"):
        unknown = ask_for_link(anonymous, other)
        assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
        assert dict(unknown.headers) == dict(known.headers)
    assert outbox_count(session_factory) == 1  # nothing for the unknown, nothing for the inactive


def test_forgot_username_answers_the_same_for_any_address(anonymous, make_user, session_factory) -> None:
    make_user("ivan", email="ivan@example.ru")
    make_user("sleeper", email="sleeper@example.ru")
    deactivate(session_factory, "sleeper")
    known = ask_for_usernames(anonymous, "ivan@example.ru")
    assert known.status_code == 200 and USERNAME_ANSWER in known.text
    for other in ("nobody@example.ru", "sleeper@example.ru"):
        unknown = ask_for_usernames(anonymous, other)
        assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
    assert outbox_count(session_factory) == 1


def test_inactive_user_gets_no_letter(anonymous, make_user, session_factory, smtp_server, deliver) -> None:
    make_user("sleeper", email="sleeper@example.ru")
    deactivate(session_factory, "sleeper")
    ask_for_link(anonymous, "sleeper")
    ask_for_link(anonymous, "sleeper@example.ru")
    ask_for_usernames(anonymous, "sleeper@example.ru")
    assert deliver() == 0
    assert smtp_server.messages == []


def test_an_address_with_several_accounts_gets_a_link_for_each_active_one(
    anonymous, make_user, session_factory, smtp_server, deliver
) -> None:
    for username in ("school.ivanova", "expert.ivanova", "old.ivanova"):
        make_user(username, email="ivanova@example.ru")
    deactivate(session_factory, "old.ivanova")
    ask_for_link(anonymous, "ivanova@example.ru")
    deliver()
    letters = letters_to(smtp_server, "ivanova@example.ru", RESET_SUBJECT)
    named = sorted(re.search(r"пароль пользователя (\S+)\.", plain_text(letter)).group(1) for letter in letters)
    assert named == ["expert.ivanova", "school.ivanova"]
    expert_link = next(link_in(letter) for letter in letters if "expert.ivanova" in plain_text(letter))
    assert set_new_password(anonymous, expert_link).status_code == 200
    assert log_in(anonymous, "expert.ivanova", NEW_PASSWORD).status_code == 302
    assert log_in(anonymous, "school.ivanova", PASSWORD).status_code == 302  # the other account is untouched


def test_forgot_username_lists_exactly_the_logins_of_that_address(
    anonymous, make_user, session_factory, smtp_server, deliver
) -> None:
    make_user("petrova.school", email="petrova@example.ru")
    make_user("petrova.expert", email="Petrova@example.ru")
    make_user("petrova.old", email="petrova@example.ru")
    make_user("sidorova", email="sidorova@example.ru")
    deactivate(session_factory, "petrova.old")
    answer = ask_for_usernames(anonymous, "PETROVA@example.ru")
    assert answer.status_code == 200 and USERNAME_ANSWER in answer.text
    deliver()
    [letter] = smtp_server.messages
    assert letter["Subject"] == USERNAMES_SUBJECT
    assert letter["To"] in ("petrova@example.ru", "Petrova@example.ru")
    text = plain_text(letter)
    assert "зарегистрированы пользователи:\npetrova.expert\npetrova.school\n" in text
    assert "petrova.old" not in text and "sidorova" not in text
    assert f"{BASE_URL}/admin/login" in text and f"{BASE_URL}{FORGOT_PASSWORD}" in text


def test_expired_link_is_refused(anonymous, make_user, session_factory) -> None:
    make_user("ivan")
    ask_for_link(anonymous, "ivan")
    link = link_in_outbox(session_factory)
    with session_factory.begin() as session:
        session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    for response in (anonymous.get(link), set_new_password_without_form(anonymous, link)):
        assert response.status_code == 410
        assert "Срок действия ссылки истёк. Запросите новую ссылку" in response.text
        assert 'href="/Account/ForgotPassword"' in response.text
    assert log_in(anonymous, "ivan", PASSWORD).status_code == 302


def link_in_outbox(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        body = session.scalar(select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc()).limit(1))
    found = RESET_LINK.search(body or "")
    assert found, f"no reset link in the last letter: {body!r}"
    return found.group(1)


@pytest.mark.parametrize("key", ["", "nonsense", "x" * 5000, "%00"])
def test_unknown_link_is_a_clear_404(anonymous, key) -> None:
    response = anonymous.get("/Account/ResetPassword", params={"k": key})
    assert response.status_code == 404
    assert "Ссылка для смены пароля неверна" in response.text
    assert 'href="/Account/ForgotPassword"' in response.text


def test_link_of_an_account_deactivated_since_is_refused(anonymous, make_user, session_factory) -> None:
    make_user("ivan")
    ask_for_link(anonymous, "ivan")
    link = link_in_outbox(session_factory)
    token = csrf_from(anonymous.get(link).text)
    deactivate(session_factory, "ivan")
    data = {"csrf_token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert anonymous.post(link, data=data).status_code == 404
    with session_factory() as session:
        assert session.scalar(select(PasswordReset.used_at)) is None


def test_a_newer_password_kills_the_older_links(anonymous, make_user, session_factory) -> None:
    make_user("ivan")
    ask_for_link(anonymous, "ivan")
    first = link_in_outbox(session_factory)
    ask_for_link(anonymous, "ivan")
    second = link_in_outbox(session_factory)
    assert first != second
    assert set_new_password(anonymous, second).status_code == 200
    assert anonymous.get(first).status_code == 410


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("пароль-9ы", "пароль-9ы", "Пароль слишком короткий: нужно не меньше 10 символов."),
        ("ivan-петров-2026", "ivan-петров-2026", "Пароль не должен содержать имя пользователя."),
        (NEW_PASSWORD, "другое-подтверждение", "Пароль и подтверждение не совпадают."),
    ],
)
def test_password_breaking_the_rules_keeps_the_form(anonymous, make_user, session_factory, password, confirm, message):
    make_user("ivan")
    ask_for_link(anonymous, "ivan")
    link = link_in_outbox(session_factory)
    response = set_new_password(anonymous, link, password, confirm)
    assert response.status_code == 400
    assert message in response.text
    assert 'name="password"' in response.text and 'name="password_confirm"' in response.text
    assert password not in response.text and confirm not in response.text
    assert log_in(anonymous, "ivan", PASSWORD).status_code == 302
    assert set_new_password(anonymous, link).status_code == 200  # the link still works


def test_reset_form_without_its_token_is_refused(anonymous, make_user, session_factory) -> None:
    make_user("ivan")
    ask_for_link(anonymous, "ivan")
    link = link_in_outbox(session_factory)
    response = anonymous.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert "Форма устарела" in response.text
    assert log_in(anonymous, "ivan", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("path", "field", "typed", "message"),
    [
        (FORGOT_PASSWORD, "login", "", "Введите имя пользователя или адрес электронной почты."),
        (FORGOT_USERNAME, "email", "", "Введите адрес электронной почты."),
        (FORGOT_USERNAME, "email", "ivan.example.ru", "Неверный адрес электронной почты «ivan.example.ru»."),
    ],
)
def test_empty_or_malformed_field_is_explained(anonymous, session_factory, path, field, typed, message) -> None:
    token = csrf_from(anonymous.get(path).text)
    response = anonymous.post(path, data={field: typed, "csrf_token": token})
    assert response.status_code == 400
    assert message in response.text
    assert outbox_count(session_factory) == 0


@pytest.mark.parametrize(
    ("path", "field", "typed"), [(FORGOT_PASSWORD, "login", "ivan"), (FORGOT_USERNAME, "email", "ivan@example.ru")]
)
def test_form_without_its_cookie_is_stale_and_keeps_what_was_typed(app, make_user, session_factory, path, field, typed):
    make_user("ivan", email="ivan@example.ru")
    with TestClient(app, base_url=BASE_URL) as other:
        token = csrf_from(other.get(path).text)
    with TestClient(app, base_url=BASE_URL) as stranger:  # no cookie: the token was not minted for this browser
        response = stranger.post(path, data={field: typed, "csrf_token": token})
    assert response.status_code == 400
    assert STALE_FORM in response.text
    assert f'value="{typed}"' in response.text
    assert outbox_count(session_factory) == 0


def test_one_link_submitted_twice_at_once_sets_exactly_one_password(
    anonymous, make_user, session_factory, settings
) -> None:
    make_user("ivan")
    ask_for_link(anonymous, "ivan")
    key = link_in_outbox(session_factory).split("k=")[1]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(password_hash: str) -> None:
        barrier.wait()
        try:
            with session_factory.begin() as session:
                reset_password(session, key, password_hash, settings=settings, now=utcnow())
            outcomes.append(password_hash)
        except ResetRefused as refused:
            outcomes.append(str(refused))

    threads = [threading.Thread(target=submit, args=(name,)) for name in ("first-hash", "second-hash")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [winner] = [outcome for outcome in outcomes if outcome.endswith("-hash")]
    [refusal] = [outcome for outcome in outcomes if not outcome.endswith("-hash")]
    assert "пароль уже изменён" in refusal
    with session_factory() as session:
        assert session.scalar(select(User.password_hash).where(User.username == "ivan")) == winner
        changed = select(func.count()).where(OutboxMessage.subject == CHANGED_SUBJECT)
        assert session.scalar(changed) == 1


def test_requests_beyond_the_hourly_limit_are_dropped_silently(anonymous, make_user, session_factory) -> None:
    make_user("ivan")
    links, letters = PASSWORD_LINKS_PER_ACCOUNT.attempts, USERNAME_LETTERS_PER_MAILBOX.attempts
    answers = {ask_for_link(anonymous, "ivan").content for _ in range(links + 2)}
    answers |= {ask_for_usernames(anonymous, "ivan@example.com").content for _ in range(letters + 2)}
    assert len(answers) == 2  # one answer per form, however many requests
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(PasswordReset)) == links
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == links + letters


def test_the_link_works_as_long_as_the_setting_says(database_url, tmp_path, make_user, session_factory) -> None:
    settings = load_settings(env_for(database_url, tmp_path / "var", PASSWORD_RESET_MINUTES="21"))
    make_user("ivan")
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        before = utcnow()
        answer = ask_for_link(client, "ivan")
    assert "Ссылка действует 21 минуту и только один раз." in answer.text
    assert "Ссылка действует 21 минуту" in link_letter_text(session_factory)
    with session_factory() as session:
        expires_at = session.scalar(select(PasswordReset.expires_at))
    assert timedelta(minutes=21) <= expires_at - before <= timedelta(minutes=21, seconds=10)


def link_letter_text(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        return session.scalar(select(OutboxMessage.body_text))


@pytest.mark.parametrize(
    ("count", "text"),
    [(1, "1 минуту"), (21, "21 минуту"), (3, "3 минуты"), (11, "11 минут"), (12, "12 минут"), (60, "60 минут")],
)
def test_minutes_read_as_russian(count, text) -> None:
    assert minutes_text(count) == text
