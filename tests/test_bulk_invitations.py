"""«Пригласить списком»: a table (CSV, XLSX) or a pasted list is previewed row by row, and only what the user
confirms is sent, by the rules of a single invitation."""

from __future__ import annotations

import html
import io
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from openpyxl import Workbook
from sqlalchemy import select
from starlette.testclient import TestClient

from admin_app.app import create_app
from models import Invitation, OutboxMessage, User
from settings import load_settings
from tests.conftest import BASE_URL, TEST_SECRET_KEY, csrf_from, env_for, log_in, log_out
from tests.invitation_helpers import LINK, add_organization, invite, municipality_id, register
from tests.smtp_server import SmtpServer

TOMSK = "Томский район"
SEVERSK = "ЗАТО Северск"
SCHOOL = "МБОУ «Корниловская СОШ»"
FOREIGN_SCHOOL = "Гимназия № 1"
SIGNED_ROWS = re.compile(r'<input type="hidden" name="rows" value="([^"]+)"')
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The coordinator's mixed file: two good rows, then one of each problem.
MIXED_CSV = """Электронная почта;Роль;Образовательная организация;ФИО
ivanova@example.ru;эксперт;;Иванова  Анна Петровна
school@example.ru;координатор ОО;мбоу  «корниловская сош»;
not-an-address;эксперт;;
x@example.ru;директор;;
op@example.ru;оператор;;
g@example.ru;координатор ОО;Гимназия № 1;
s2@example.ru;координатор ОО;;
active.user@example.ru;эксперт;;
pending@example.ru;Специалист по аттестации (эксперт);;
IVANOVA@example.ru;эксперт;;
"""
MIXED_PROBLEMS = {
    "4": "Неверный адрес электронной почты «not-an-address».",
    "5": "Неизвестная роль «директор». Роли, которые вы можете указать: «эксперт», «координатор ОО».",
    "6": "Выберите роль из списка: приглашать пользователей с другими ролями вы не можете.",
    "7": f"Образовательная организация «{FOREIGN_SCHOOL}» не найдена среди доступных вам.",
    "8": "Выберите образовательную организацию.",
    "9": "Пользователь с адресом active.user@example.ru уже зарегистрирован в системе. Приглашение не отправлено.",
    "10": "На адрес pending@example.ru уже отправлено приглашение с этой ролью, и оно ещё действует.",
    "11": "Повтор строки 2: этот адрес с этой ролью уже есть в списке.",
}
READY = "готово к отправке"


# ---------------------------------------------------------------------------------------------------
# Helpers: what the user does and sees


def upload(client: TestClient, content: bytes, filename: str = "список.csv", **fields: str):
    token = csrf_from(client.get("/admin/mailing/bulk").text)
    kind = XLSX_TYPE if filename.endswith(".xlsx") else "text/csv"
    return client.post(
        "/admin/mailing/bulk", data={"csrf_token": token, **fields}, files={"file": (filename, content, kind)}
    )


def paste(client: TestClient, addresses: str, **fields: str):
    token = csrf_from(client.get("/admin/mailing/bulk").text)
    return client.post("/admin/mailing/bulk", data={"csrf_token": token, "addresses": addresses, **fields})


def confirm(client: TestClient, preview: str, mode: str, **overrides: str):
    data = {"csrf_token": csrf_from(preview), "rows": html.unescape(signed_rows(preview)), "mode": mode, **overrides}
    return client.post("/admin/mailing/bulk/confirm", data=data)


def signed_rows(page: str) -> str:
    found = SIGNED_ROWS.search(page)
    assert found, "the preview has no signed rows"
    return found.group(1)


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def table(page: str) -> dict[str, list[str]]:
    """The preview's rows as the user reads them: row number → [address, role, place, full name, result]."""
    body = re.search(r'<table[^>]*id="bulk-rows".*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, "the page has no table of rows"
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S):
        cells = [text_of(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def result_of(page: str, line: str) -> str:
    return table(page)[line][4]


def counts(page: str) -> str:
    return text_of(re.search(r'<p id="bulk-counts">(.*?)</p>', page, re.S).group(1))


def message(page: str) -> str:
    found = re.search(r'<div class="alert alert-\w+" role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert found, "the page shows no message"
    return text_of(found.group(1))


def invitations(session_factory) -> list[Invitation]:
    with session_factory() as session:
        return list(session.scalars(select(Invitation).order_by(Invitation.id)))


def invited(session_factory) -> dict[str, tuple[str, int | None, int | None, str]]:
    """Address → (role, municipality, organization, full name) of every invitation."""
    with session_factory() as session:
        return {
            invitation.email: (
                invitation.role.code,
                invitation.municipality_id,
                invitation.organization_id,
                invitation.full_name,
            )
            for invitation in session.scalars(select(Invitation))
        }


def letters(session_factory) -> list[str]:
    with session_factory() as session:
        return sorted(session.scalars(select(OutboxMessage.recipient)))


def csv_file(lines: list[str], encoding: str = "utf-8", separator: str = ";") -> bytes:
    return "\r\n".join(separator.join(cells) for cells in (line.split("|") for line in lines)).encode(encoding)


def xlsx_file(rows: list[list[str | None]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def tomsk(session_factory) -> int:
    return municipality_id(session_factory, TOMSK)


@pytest.fixture
def seversk(session_factory) -> int:
    return municipality_id(session_factory, SEVERSK)


@pytest.fixture
def school(session_factory) -> int:
    return add_organization(session_factory, SCHOOL, TOMSK)


@pytest.fixture
def foreign_school(session_factory) -> int:
    return add_organization(session_factory, FOREIGN_SCHOOL, SEVERSK)


@pytest.fixture
def coordinator(client, make_user, tomsk, school, foreign_school) -> TestClient:
    """The municipal coordinator of Томский район, logged in."""
    make_user("coord", role="municipal_coordinator", municipality_id=tomsk)
    log_in(client, "coord")
    return client


@pytest.fixture
def mixed_preview(coordinator, make_user, session_factory, tomsk) -> str:
    """The coordinator's mixed file, previewed, after an active user and a pending invitation appeared."""
    make_user("active", role="expert", email="active.user@example.ru", municipality_id=tomsk)
    assert invite(coordinator, role="expert", email="pending@example.ru").status_code == 302
    response = upload(coordinator, ("\ufeff" + MIXED_CSV).encode())
    assert response.status_code == 200, message(response.text)
    return response.text


# ---------------------------------------------------------------------------------------------------
# The pages


def test_mailing_offers_bulk_invitations_with_the_columns_and_limits(coordinator) -> None:
    page = coordinator.get("/admin/mailing").text
    assert 'href="http://127.0.0.1:8000/admin/mailing/bulk"' in page
    assert "Пригласить списком" in page
    form = text_of(coordinator.get("/admin/mailing/bulk").text)
    for expected in (
        "Файл CSV или XLSX",
        "«Электронная почта», «Роль», «Образовательная организация»",
        "«ФИО»",
        "«эксперт», «координатор ОО»",
        "UTF-8 или Windows-1251, разделитель «;» или «,»",
        "Не больше 1000 строк и 1024 КБ",
        "Адреса электронной почты",
        "Роль для всех адресов списка",
    ):
        assert expected in form, f"the bulk form lacks «{expected}»"
    assert "«Муниципалитет»" not in form, "a coordinator's municipality is their own"


@pytest.mark.parametrize("role", ["expert", "organization_coordinator"])
def test_roles_that_invite_nobody_have_no_bulk_invitations(client, make_user, tomsk, school, role) -> None:
    make_user("nobody", role=role, municipality_id=tomsk, organization_id=school)
    log_in(client, "nobody")
    assert client.get("/admin/mailing/bulk").status_code == 403
    assert client.post("/admin/mailing/bulk/confirm", data={"mode": "all"}).status_code == 403


# ---------------------------------------------------------------------------------------------------
# The preview: every row with its problem, nothing written


def test_the_preview_shows_each_rows_problem_and_writes_nothing(mixed_preview, session_factory) -> None:
    rows = table(mixed_preview)
    assert list(rows) == [str(line) for line in range(2, 12)]
    assert rows["2"] == [
        "ivanova@example.ru",
        "Специалист по аттестации (эксперт)",
        TOMSK,
        "Иванова Анна Петровна",
        READY,
    ]
    assert rows["3"] == [
        "school@example.ru",
        "Координатор по аттестации в образовательной организации",
        SCHOOL,
        "—",
        READY,
    ]
    for line, problem in MIXED_PROBLEMS.items():
        assert result_of(mixed_preview, line).startswith(problem), (line, result_of(mixed_preview, line))
    assert counts(mixed_preview) == "Всего строк: 10. Готово к отправке: 2. С ошибками: 8."
    assert "Отправить только готовые (2)" in mixed_preview
    assert 'value="all"' not in mixed_preview
    # Only the invitation sent before the upload, and its letter.
    assert [invitation.email for invitation in invitations(session_factory)] == ["pending@example.ru"]
    assert letters(session_factory) == ["pending@example.ru"]


def test_confirming_the_valid_rows_sends_exactly_those(coordinator, mixed_preview, session_factory, tomsk, school):
    response = confirm(coordinator, mixed_preview, "valid")
    assert response.status_code == 200
    assert message(response.text) == "Отправлено приглашений: 2, пропущено строк: 8."
    assert result_of(response.text, "2") == "приглашение отправлено"
    assert result_of(response.text, "4") == MIXED_PROBLEMS["4"]
    assert invited(session_factory) == {
        "pending@example.ru": ("expert", tomsk, None, ""),
        "ivanova@example.ru": ("expert", tomsk, None, "Иванова Анна Петровна"),
        "school@example.ru": ("organization_coordinator", tomsk, school, ""),
    }
    assert letters(session_factory) == ["ivanova@example.ru", "pending@example.ru", "school@example.ru"]


def test_sending_all_is_refused_while_a_row_is_bad_and_nothing_is_sent(coordinator, mixed_preview, session_factory):
    response = confirm(coordinator, mixed_preview, "all")
    assert response.status_code == 409
    assert message(response.text) == (
        "Не все строки готовы к отправке, поэтому ничего не отправлено. Отправьте только готовые строки."
    )
    assert result_of(response.text, "2") == READY
    assert [invitation.email for invitation in invitations(session_factory)] == ["pending@example.ru"]
    assert letters(session_factory) == ["pending@example.ru"]


def test_a_row_that_went_bad_after_the_preview_is_reported_not_sent(coordinator, make_user, session_factory, tomsk):
    preview = paste(coordinator, "first@example.ru\nlate@example.ru", role="expert").text
    assert counts(preview) == "Всего строк: 2. Готово к отправке: 2. С ошибками: 0."
    make_user(
        "late", role="expert", email="late@example.ru", municipality_id=tomsk
    )  # registered meanwhile by another way

    response = confirm(coordinator, preview, "valid")
    assert message(response.text) == "Отправлено приглашений: 1, пропущено строк: 1."
    assert result_of(response.text, "2").startswith("Пользователь с адресом late@example.ru уже зарегистрирован")
    assert letters(session_factory) == ["first@example.ru"]


def test_all_rows_ready_are_sent_with_send_all(coordinator, session_factory, tomsk) -> None:
    preview = paste(coordinator, "a@example.ru, b@example.ru;c@example.ru  d@example.ru\n\n", role="expert").text
    assert [row[0] for row in table(preview).values()] == [f"{name}@example.ru" for name in "abcd"]
    assert "Отправить все приглашения (4)" in preview
    response = confirm(coordinator, preview, "all")
    assert message(response.text) == "Отправлено приглашений: 4, пропущено строк: 0."
    assert set(invited(session_factory).values()) == {("expert", tomsk, None, "")}
    assert letters(session_factory) == [f"{name}@example.ru" for name in "abcd"]


# ---------------------------------------------------------------------------------------------------
# Letters through a real SMTP server, with links that register


@pytest.fixture
def sending_client(database_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[TestClient]:
    """The application delivering its outbox to the SMTP server while it runs, as `serve` does."""
    settings = load_settings(
        env_for(
            database_url,
            tmp_path / "var",
            MAIL_BACKEND="smtp",
            SMTP_HOST=smtp_server.host,
            SMTP_PORT=str(smtp_server.port),
        )
    )
    with TestClient(create_app(settings, send_mail=True), base_url=BASE_URL, follow_redirects=False) as client:
        yield client


def wait_for_letters(smtp_server: SmtpServer, count: int, timeout: float = 15.0) -> list:
    deadline = time.monotonic() + timeout
    while len(smtp_server.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(smtp_server.messages)


def test_the_letters_arrive_by_smtp_with_links_that_register(
    sending_client, make_user, session_factory, smtp_server, tomsk, school
) -> None:
    make_user("coord", role="municipal_coordinator", municipality_id=tomsk)
    log_in(sending_client, "coord")
    content = csv_file(
        [
            "E-mail|Роль|Организация|ФИО",
            "new.expert@example.ru|эксперт||Петров Пётр",
            f"new.school@example.ru|школьный координатор|{SCHOOL}|",
            "broken@|эксперт||",
        ]
    )
    preview = upload(sending_client, content).text
    assert counts(preview) == "Всего строк: 3. Готово к отправке: 2. С ошибками: 1."
    response = confirm(sending_client, preview, "valid")
    assert message(response.text) == "Отправлено приглашений: 2, пропущено строк: 1."

    arrived = wait_for_letters(smtp_server, 2)
    assert sorted(str(letter["To"]) for letter in arrived) == ["new.expert@example.ru", "new.school@example.ru"]
    log_out(sending_client)
    usernames = ("petrov", "school.head")
    for letter, username in zip(sorted(arrived, key=lambda letter: str(letter["To"])), usernames, strict=True):
        link = LINK.search(letter.get_body(preferencelist=("plain",)).get_content())
        assert link, "no registration link in the letter"
        page = register(sending_client, link.group(0).removeprefix(BASE_URL), username, "надёжный-пароль-2026")
        assert "Регистрация завершена" in page.text, text_of(page.text)
    time.sleep(0.2)
    assert len(smtp_server.messages) == 2, "a letter to the broken address or a second letter went out"
    with session_factory() as session:
        names = {row.username: row.full_name for row in session.execute(select(User.username, User.full_name))}
    assert names["petrov"] == "Петров Пётр", "the full name from the file is the new user's"
    assert names["school.head"] == ""


# ---------------------------------------------------------------------------------------------------
# The formats: CSV in UTF-8 with or without BOM and in Windows-1251, `;` or `,`; XLSX; a pasted list


def test_csv_in_utf8_without_bom_separated_by_commas(operator_client, session_factory, seversk) -> None:
    content = csv_file(
        ["E-mail|Роль|Муниципалитет|ФИО", "north@example.ru|Эксперт|зато  северск|Сидорова Ольга"], separator=","
    )
    assert not content.startswith(b"\xef\xbb\xbf")
    preview = upload(operator_client, content).text
    assert table(preview) == {
        "2": ["north@example.ru", "Специалист по аттестации (эксперт)", SEVERSK, "Сидорова Ольга", READY]
    }
    confirm(operator_client, preview, "all")
    assert invited(session_factory) == {"north@example.ru": ("expert", seversk, None, "Сидорова Ольга")}


def test_csv_in_windows_1251(coordinator, session_factory, school) -> None:
    content = csv_file(
        ["Почта|Роль|ОО|Ф.И.О.", f"head@example.ru|Координатор в ОО|{SCHOOL}|Ёлкина Жанна Юрьевна"], "cp1251"
    )
    preview = upload(coordinator, content).text
    assert table(preview)["2"] == [
        "head@example.ru",
        "Координатор по аттестации в образовательной организации",
        SCHOOL,
        "Ёлкина Жанна Юрьевна",
        READY,
    ]


def test_xlsx_with_a_title_above_the_header(coordinator, session_factory, tomsk, school) -> None:
    content = xlsx_file(
        [
            ["Список на приглашение", None, None],
            ["Электронная почта", "Роль", "Образовательная организация", "ФИО"],
            ["teacher@example.ru", "специалист по аттестации", None, "Кузнецова Мария"],
            [None, None, None],
            ["head@example.ru", "Координатор по аттестации в образовательной организации", SCHOOL, None],
        ]
    )
    preview = upload(coordinator, content, "список.xlsx").text
    assert {line: (row[0], row[4]) for line, row in table(preview).items()} == {
        "3": ("teacher@example.ru", READY),
        "5": ("head@example.ru", READY),
    }
    confirm(coordinator, preview, "all")
    assert invited(session_factory) == {
        "teacher@example.ru": ("expert", tomsk, None, "Кузнецова Мария"),
        "head@example.ru": ("organization_coordinator", tomsk, school, ""),
    }


def test_a_pasted_list_takes_the_role_and_organization_chosen_in_the_form(coordinator, session_factory, school):
    preview = paste(
        coordinator, "one@example.ru two@example.ru", role="organization_coordinator", organization_id=str(school)
    ).text
    assert [row[2] for row in table(preview).values()] == [SCHOOL, SCHOOL]
    confirm(coordinator, preview, "all")
    assert {row[2] for row in invited(session_factory).values()} == {school}


def test_operator_names_a_school_whose_name_two_municipalities_share(operator_client, session_factory, seversk):
    add_organization(session_factory, "СОШ № 1", TOMSK)
    theirs = add_organization(session_factory, "СОШ № 1", SEVERSK)
    content = csv_file(
        [
            "Электронная почта|Роль|Муниципалитет|Образовательная организация",
            "a@example.ru|координатор ОО||СОШ № 1",
            f"b@example.ru|координатор ОО|{SEVERSK}|сош № 1",
        ]
    )
    preview = upload(operator_client, content).text
    assert result_of(preview, "2") == "Организаций с названием «СОШ № 1» несколько: укажите муниципалитет."
    assert table(preview)["3"][2:] == ["СОШ № 1", "—", READY]
    confirm(operator_client, preview, "valid")
    assert invited(session_factory) == {"b@example.ru": ("organization_coordinator", seversk, theirs, "")}


# ---------------------------------------------------------------------------------------------------
# The same list twice


def test_the_same_file_twice_or_the_same_confirmation_twice_creates_no_duplicates(coordinator, session_factory):
    content = csv_file(["Почта|Роль", "one@example.ru|эксперт", "two@example.ru|эксперт"])
    preview = upload(coordinator, content).text
    assert message(confirm(coordinator, preview, "all").text) == "Отправлено приглашений: 2, пропущено строк: 0."

    again = confirm(coordinator, preview, "valid")
    assert message(again.text) == "Отправлено приглашений: 0, пропущено строк: 2."
    assert result_of(again.text, "2").startswith("На адрес one@example.ru уже отправлено приглашение с этой ролью")

    second = upload(coordinator, content).text
    assert counts(second) == "Всего строк: 2. Готово к отправке: 0. С ошибками: 2."
    assert result_of(second, "3").startswith("На адрес two@example.ru уже отправлено приглашение с этой ролью")
    assert "Ни одна строка не готова к отправке" in second
    assert 'name="mode"' not in second
    assert letters(session_factory) == ["one@example.ru", "two@example.ru"]


# ---------------------------------------------------------------------------------------------------
# Bad input: a Russian message for the whole file, and nothing written


def assert_refused(response, expected: str, session_factory, status_code: int = 400) -> None:
    assert response.status_code == status_code
    assert expected in message(response.text), message(response.text)
    assert invitations(session_factory) == []
    assert letters(session_factory) == []


def test_ten_thousand_rows_are_refused_naming_the_limit(coordinator, session_factory) -> None:
    content = csv_file(["Почта|Роль", *(f"teacher{number}@example.ru|эксперт" for number in range(10_000))])
    limit = "Строк с адресами больше 1000: за один раз можно пригласить не больше 1000 человек."
    assert_refused(upload(coordinator, content), limit, session_factory)
    addresses = " ".join(f"teacher{number}@example.ru" for number in range(1001))
    assert_refused(paste(coordinator, addresses, role="expert"), limit, session_factory)


def test_exactly_the_row_limit_is_read_below_a_title(coordinator, session_factory) -> None:
    rows = (f"teacher{number}@example.ru|эксперт" for number in range(1000))
    content = csv_file(["Приглашения на сентябрь", "Почта|Роль", *rows])
    assert counts(upload(coordinator, content).text).startswith("Всего строк: 1000.")
    assert invitations(session_factory) == []


@pytest.mark.parametrize("size_kb", [1025, 2048])
def test_a_file_over_the_size_limit_is_refused(coordinator, session_factory, size_kb) -> None:
    content = csv_file(["Почта|Роль|ФИО", *(f"t{n}@example.ru|эксперт|{'Я' * 500}" for n in range(size_kb))])
    content = content[: size_kb * 1024]
    limit = "Файл или список слишком большой: можно загрузить не больше 1024 КБ."
    assert_refused(upload(coordinator, content), limit, session_factory, 400 if size_kb == 1025 else 413)


def macro_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_file([["Почта", "Роль"]]))) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/vbaProject.bin", b"\x00macro")
    return buffer.getvalue()


NOT_A_TABLE = "Не удалось прочитать файл: это не таблица CSV и не книга Excel XLSX."


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(bytes(range(256)) * 8, NOT_A_TABLE, id="garbage"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(100), NOT_A_TABLE, id="png"),
        pytest.param("Почта;Роль\r\na@example.ru;эксперт".encode("utf-16"), NOT_A_TABLE, id="utf-16"),
        pytest.param(b"PK\x03\x04 not really a zip", NOT_A_TABLE, id="broken-zip"),
        pytest.param(macro_workbook(), "Файлы с макросами не принимаются", id="xlsm"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "Формат XLS (Excel 97–2003)", id="xls"),
        pytest.param(b"", "Файл пустой", id="empty"),
        pytest.param(b"\xef\xbb\xbfPochta;Rol'\r\na@example.ru;expert\r\n", "В файле нет столбцов", id="latin-headers"),
    ],
)
def test_a_file_that_is_not_a_table_is_refused(coordinator, session_factory, content, expected) -> None:
    assert_refused(upload(coordinator, content), expected, session_factory)


def test_missing_columns_are_named_with_the_expected_ones(coordinator, session_factory) -> None:
    response = upload(coordinator, csv_file(["Фамилия|Телефон", "Иванов|123"]))
    assert_refused(response, "В файле нет столбцов «Электронная почта» и «Роль».", session_factory)
    assert "«Образовательная организация»" in message(response.text)
    assert "проверьте кодировку файла: нужна UTF-8 или Windows-1251" in message(response.text)
    response = upload(coordinator, csv_file(["Почта|ФИО", "a@example.ru|Иванов"]))
    assert_refused(response, "В файле нет столбца «Роль».", session_factory)


def test_a_file_in_another_cyrillic_encoding_asks_to_check_the_encoding(coordinator, session_factory) -> None:
    response = upload(coordinator, csv_file(["Почта|Роль", "a@example.ru|эксперт"], "koi8-r"))
    assert_refused(response, "проверьте кодировку файла", session_factory)


def test_a_file_and_a_list_at_once_or_neither(coordinator, session_factory) -> None:
    token = csrf_from(coordinator.get("/admin/mailing/bulk").text)
    both = coordinator.post(
        "/admin/mailing/bulk",
        data={"csrf_token": token, "addresses": "a@example.ru", "role": "expert"},
        files={"file": ("a.csv", csv_file(["Почта|Роль", "b@example.ru|эксперт"]), "text/csv")},
    )
    assert_refused(both, "Выберите что-то одно: файл или список адресов.", session_factory)
    assert_refused(paste(coordinator, "  \n ", role="expert"), "Выберите файл с таблицей", session_factory)


# ---------------------------------------------------------------------------------------------------
# Forged and stale forms


def test_a_forged_or_foreign_signed_field_is_refused(coordinator, make_user, session_factory) -> None:
    preview = paste(coordinator, "a@example.ru", role="expert").text
    signed = html.unescape(signed_rows(preview))
    forged = confirm(coordinator, preview, "all", rows=signed[:-2] + ("A" if signed[-2] != "A" else "B") + signed[-1])
    assert_refused(forged, "Данные проверки списка повреждены или относятся к другому пользователю.", session_factory)
    assert 'id="addresses"' in forged.text, "back to the upload form"

    make_user("other", role="municipal_coordinator", municipality_id=municipality_id(session_factory, TOMSK))
    log_out(coordinator)
    log_in(coordinator, "other")
    own_token = csrf_from(coordinator.get("/admin/mailing/bulk").text)
    foreign = confirm(coordinator, preview, "all", csrf_token=own_token)
    assert_refused(foreign, "относятся к другому пользователю", session_factory)


class TwoHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return super().get_timestamp() - 2 * 3600


def test_a_preview_older_than_an_hour_is_refused(coordinator, session_factory) -> None:
    preview = paste(coordinator, "a@example.ru", role="expert").text
    serializer = URLSafeTimedSerializer(TEST_SECRET_KEY, salt="bulk-invitations")
    payload = serializer.loads(html.unescape(signed_rows(preview)))
    old = URLSafeTimedSerializer(TEST_SECRET_KEY, salt="bulk-invitations", signer=TwoHoursAgo).dumps(payload)
    response = confirm(coordinator, preview, "all", rows=old)
    assert_refused(response, "Проверка списка устарела: с неё прошло больше часа.", session_factory)


def test_a_stale_upload_form_keeps_the_pasted_list(coordinator, session_factory) -> None:
    response = coordinator.post(
        "/admin/mailing/bulk", data={"csrf_token": "stale", "addresses": "kept@example.ru\nalso@example.ru"}
    )
    assert_refused(response, "Форма устарела", session_factory)
    assert "kept@example.ru\nalso@example.ru</textarea>" in response.text


def test_a_confirmation_without_a_mode_shows_the_preview_again(coordinator, session_factory) -> None:
    preview = paste(coordinator, "a@example.ru", role="expert").text
    response = confirm(coordinator, preview, "everything")
    assert_refused(response, "Выберите, какие строки отправить.", session_factory)
    assert result_of(response.text, "1") == READY


def test_a_stale_confirmation_shows_the_preview_again_and_sends_nothing(coordinator, session_factory) -> None:
    preview = paste(coordinator, "a@example.ru", role="expert").text
    response = confirm(coordinator, preview, "all", csrf_token="stale")
    assert_refused(response, "Форма устарела", session_factory)
    assert result_of(response.text, "1") == READY
    assert message(confirm(coordinator, response.text, "all").text) == "Отправлено приглашений: 1, пропущено строк: 0."


# ---------------------------------------------------------------------------------------------------
# A municipal coordinator stays in their municipality


def test_a_coordinator_cannot_invite_outside_their_municipality_by_file(
    coordinator, session_factory, tomsk, seversk, foreign_school
) -> None:
    content = csv_file(
        [
            "Почта|Роль|Муниципалитет|Организация",
            f"north@example.ru|эксперт|{SEVERSK}|",
            f"gym@example.ru|координатор ОО|{SEVERSK}|{FOREIGN_SCHOOL}",
            f"own@example.ru|эксперт|{TOMSK}|",
        ]
    )
    preview = upload(coordinator, content).text
    assert result_of(preview, "2") == f"Муниципалитет «{SEVERSK}» не найден среди доступных вам."
    assert result_of(preview, "3") == (
        f"Муниципалитет «{SEVERSK}» не найден среди доступных вам. "
        f"Образовательная организация «{FOREIGN_SCHOOL}» не найдена среди доступных вам."
    )
    confirm(coordinator, preview, "valid")
    assert invited(session_factory) == {"own@example.ru": ("expert", tomsk, None, "")}


def test_a_coordinator_cannot_invite_outside_their_municipality_by_a_pasted_list(
    coordinator, session_factory, tomsk, seversk, foreign_school
) -> None:
    preview = paste(coordinator, "north@example.ru", role="expert", municipality_id=str(seversk)).text
    assert table(preview)["1"][2] == TOMSK
    confirm(coordinator, preview, "all")
    school_preview = paste(
        coordinator, "gym@example.ru", role="organization_coordinator", organization_id=str(foreign_school)
    ).text
    assert result_of(school_preview, "1") == "Эта организация не относится к выбранному муниципалитету."
    assert invited(session_factory) == {"north@example.ru": ("expert", tomsk, None, "")}


@pytest.mark.parametrize("role", ["operator", "municipal_coordinator", "nonsense", ""])
def test_a_pasted_list_with_a_role_the_coordinator_may_not_invite(coordinator, session_factory, role) -> None:
    preview = paste(coordinator, "a@example.ru b@example.ru", role=role).text
    assert counts(preview) == "Всего строк: 2. Готово к отправке: 0. С ошибками: 2."
    assert result_of(preview, "1") == "Выберите роль из списка: приглашать пользователей с другими ролями вы не можете."
    assert invitations(session_factory) == []


def test_ids_that_cannot_exist_count_as_not_chosen(operator_client, session_factory) -> None:
    preview = paste(operator_client, "a@example.ru", role="expert", municipality_id="9" * 30).text
    assert table(preview)["1"][2:] == ["—", "—", READY]
