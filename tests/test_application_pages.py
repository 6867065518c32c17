"""«Заявления на аттестацию» in the panel: entry, steps, experts, deadline, the cabinet's figures."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pytest
from docx import Document as WordDocument
from openpyxl import load_workbook
from sqlalchemy import select
from starlette.testclient import TestClient

from admin_app.applications import centre_today
from models import Application, ApplicationStatus, OutboxMessage, utcnow
from tests.application_helpers import TEACHER
from tests.conftest import BASE_URL, csrf_from, log_in
from tests.invitation_helpers import add_organization, municipality_id
from views.filters import CHOOSE_WITHIN_FIRST, WITHIN_LIMIT

ALERT = re.compile(r'alert-(\w+)" role="alert">([^<]*)')


@pytest.fixture
def people(app, make_user, session_factory):
    """Logged-in clients of a school coordinator, the district's coordinator, an expert and a far coordinator."""
    tomsk = municipality_id(session_factory, "Томский район")
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    gymnasium = add_organization(session_factory, "Гимназия в Итатке", "Томский район")
    make_user("school", role="organization_coordinator", organization_id=school)
    make_user("municipal", role="municipal_coordinator", municipality_id=tomsk)
    expert = make_user(
        "expert", role="expert", municipality_id=tomsk, organization_id=gymnasium, full_name="Иванов И. И."
    )
    make_user("far", role="municipal_coordinator", municipality_id=municipality_id(session_factory, "ЗАТО Северск"))
    clients = {}
    for name in ("school", "municipal", "expert", "far"):
        clients[name] = TestClient(app, base_url=BASE_URL, follow_redirects=False)
        log_in(clients[name], name)
    return {**clients, "school_id": school, "expert_id": expert.id}


def enter(client, **fields: str):
    token = csrf_from(client.get("/admin/application/new").text)
    return client.post("/admin/application/new", data={"csrf_token": token, **fields})


def post(client, path: str, **fields):
    token = csrf_from(client.get("/admin/").text)
    response = client.post(path, data={"csrf_token": token, **fields})
    return response, ALERT.findall(client.get(response.headers.get("location", "/admin/").removeprefix(BASE_URL)).text)


def only_application(session_factory) -> Application:
    with session_factory() as session:
        return session.scalars(select(Application)).one()


def test_school_coordinator_enters_an_application(people, session_factory) -> None:
    form = people["school"].get("/admin/application/new").text
    for label in ("ФИО педагога", "Должность", "Категория, на которую претендует педагог", "Сохранить заявление"):
        assert label in form
    response = enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    assert response.status_code == 302
    application = only_application(session_factory)
    assert application.status == ApplicationStatus.NEW
    details = people["school"].get(response.headers["location"].removeprefix(BASE_URL)).text
    assert "Заявление сохранено." in details and "Петрова Анна Ивановна" in details and "История" in details


def test_bad_entry_keeps_what_was_typed(people, session_factory) -> None:
    response = enter(
        people["school"], organization_id=str(people["school_id"]), **{**TEACHER, "requested_category": "methodist"}
    )
    assert response.status_code == 400
    assert "высшей квалификационной категорией" in response.text
    assert 'value="Петрова Анна Ивановна"' in response.text
    with session_factory() as session:
        assert session.scalars(select(Application)).all() == []


def test_expert_cannot_enter_applications(people, session_factory) -> None:
    assert people["expert"].get("/admin/application/new").status_code == 403
    token = csrf_from(people["expert"].get("/admin/").text)
    data = {"csrf_token": token, "organization_id": str(people["school_id"]), **TEACHER}
    assert people["expert"].post("/admin/application/new", data=data).status_code == 403
    with session_factory() as session:
        assert session.scalars(select(Application)).all() == []


def test_coordinator_registers_assigns_and_sets_the_deadline(people, session_factory) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    pk = only_application(session_factory).id
    municipal = people["municipal"]
    assert "педагогических работников = <strong>1</strong>" in municipal.get("/admin/").text
    assert "педагогических работников = <strong>0</strong>" in people["far"].get("/admin/").text

    _, alerts = post(municipal, f"/admin/application/{pk}/status", to="registered")
    assert alerts == [("success", "Статус заявления: «Зарегистрировано».")]
    _, alerts = post(municipal, f"/admin/application/{pk}/status", to="experts_assigned")
    assert alerts == [("danger", "Сначала назначьте хотя бы одного специалиста по аттестации.")]
    _, alerts = post(municipal, f"/admin/application/{pk}/experts", experts=str(people["expert_id"]))
    assert alerts == [("success", "Специалисты по аттестации назначены.")]
    _, alerts = post(municipal, f"/admin/application/{pk}/deadline", deadline="2000-01-01")
    assert "раньше даты регистрации" in alerts[0][1]
    _, alerts = post(municipal, f"/admin/application/{pk}/deadline", deadline="2099-01-15")
    assert alerts == [("success", "Срок проведения аттестации: 15.01.2099.")]
    application = only_application(session_factory)
    assert application.registration_number == 1 and str(application.deadline) == "2099-01-15"

    assert "Петрова Анна Ивановна" in people["expert"].get("/admin/application/list").text
    details = people["expert"].get(f"/admin/application/details/{pk}").text
    assert "Иванов И. И." in details


def test_refused_step_and_foreign_application(people, session_factory) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    pk = only_application(session_factory).id
    _, alerts = post(people["school"], f"/admin/application/{pk}/status", to="registered")
    assert alerts[0][0] == "danger" and "Нельзя перевести заявление" in alerts[0][1]
    response, _ = post(people["far"], f"/admin/application/{pk}/status", to="registered")
    assert response.status_code == 404
    assert people["far"].get(f"/admin/application/details/{pk}").status_code == 404
    assert people["expert"].get(f"/admin/application/details/{pk}").status_code == 404  # not assigned yet
    assert only_application(session_factory).status == ApplicationStatus.NEW


def test_list_filters_and_russian_csv(people) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    municipal = people["municipal"]
    assert "Петрова" in municipal.get("/admin/application/list", params={"status": "new"}).text
    assert "Петрова" not in municipal.get("/admin/application/list", params={"status": "registered"}).text
    exported = municipal.get("/admin/application/export/csv").content
    assert exported.startswith("\ufeff".encode())
    assert "Петрова Анна Ивановна;petrova@example.ru" in exported.decode("utf-8-sig")


def office_package(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name in ("[Content_Types].xml", *names):
            package.writestr(name, "<x/>")
    return buffer.getvalue()


ACCEPTED_FILES = {
    "заявление.pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
    "приказ.docx": (office_package("word/document.xml"), "wordprocessingml"),
    "реестр.xlsx": (office_package("xl/workbook.xml"), "spreadsheetml"),
    "скан.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    "скан.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
}


def upload(client, pk: int, name: str, content: bytes, kind: str = "application", **fields: str):
    token = csrf_from(client.get("/admin/").text)
    data = {"csrf_token": token, "kind": kind, **fields}
    response = client.post(f"/admin/application/{pk}/documents", data=data, files={"file": (name, content)})
    return ALERT.findall(client.get(response.headers["location"].removeprefix(BASE_URL)).text)


@pytest.fixture
def application_id(people, session_factory) -> int:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    return only_application(session_factory).id


@pytest.mark.parametrize("name", list(ACCEPTED_FILES))
def test_each_accepted_type_is_stored_and_downloaded_in_scope(people, application_id, settings, name) -> None:
    content, content_type = ACCEPTED_FILES[name]
    assert upload(people["school"], application_id, name, content) == [("success", f"Документ «{name}» прикреплён.")]
    details = people["municipal"].get(f"/admin/application/details/{application_id}").text
    link = re.search(rf'href="{BASE_URL}(/admin/application/{application_id}/documents/\d+)">{name}<', details).group(1)
    download = people["municipal"].get(link)
    assert download.status_code == 200 and download.content == content
    assert content_type in download.headers["content-type"]
    assert download.headers["x-content-type-options"] == "nosniff"
    assert people["far"].get(link).status_code == 404
    stored = list(settings.documents_dir.iterdir())
    assert len(stored) == 1 and name not in stored[0].name


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.pdf", b"MZ\x90\x00\x03\x00\x00\x00", "подходят только PDF, DOCX, XLSX, JPG или PNG"),
        ("macro.docx", office_package("word/document.xml", "word/vbaProject.bin"), "подходят только"),
        ("bomb.docx", office_package("word/document.xml", *(f"f{i}.xml" for i in range(1001))), "подходят только"),
        ("archive.docx", office_package("other.xml"), "подходят только"),
        ("empty.pdf", b"", "Файл пустой"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(people, application_id, settings, name, content, message) -> None:
    [(level, text)] = upload(people["school"], application_id, name, content)
    assert level == "danger" and message in text
    assert not settings.documents_dir.exists() or list(settings.documents_dir.iterdir()) == []


def test_oversized_file_is_refused(people, application_id, settings) -> None:
    too_big = b"%PDF-1.7\n" + b"0" * (settings.document_max_mb * 1024 * 1024)
    [(level, text)] = upload(people["school"], application_id, "big.pdf", too_big)
    assert level == "danger" and f"больше {settings.document_max_mb} МБ" in text


def test_expert_attaches_a_conclusion_only(people, application_id, session_factory) -> None:
    _, alerts = post(
        people["municipal"], f"/admin/application/{application_id}/experts", experts=str(people["expert_id"])
    )
    assert alerts[0][0] == "success"
    pdf = ACCEPTED_FILES["заявление.pdf"][0]
    assert upload(people["expert"], application_id, "чужое.pdf", pdf)[0][0] == "danger"
    [(level, text)] = upload(people["expert"], application_id, "заключение.pdf", pdf, kind="conclusion")
    assert level == "danger" and "Укажите рекомендацию эксперта" in text
    alerts = upload(people["expert"], application_id, "заключение.pdf", pdf, kind="conclusion", recommendation="grant")
    assert alerts[0][0] == "success"
    details = people["municipal"].get(f"/admin/application/details/{application_id}").text
    assert "Рекомендовано установить категорию" in details


def test_methodist_is_registered_only_with_a_petition(people, session_factory) -> None:
    enter(
        people["school"],
        organization_id=str(people["school_id"]),
        **{**TEACHER, "requested_category": "methodist", "current_category": "highest"},
    )
    pk = only_application(session_factory).id
    _, alerts = post(people["municipal"], f"/admin/application/{pk}/status", to="registered")
    assert alerts == [
        ("danger", "Для категории «Педагог-методист» приложите ходатайство, затем зарегистрируйте заявление.")
    ]
    upload(people["school"], pk, "ходатайство.pdf", ACCEPTED_FILES["заявление.pdf"][0], kind="petition")
    _, alerts = post(people["municipal"], f"/admin/application/{pk}/status", to="registered")
    assert alerts == [("success", "Статус заявления: «Зарегистрировано».")]


def test_assigned_expert_gets_a_letter_once(people, application_id, session_factory) -> None:
    for _ in range(2):
        post(people["municipal"], f"/admin/application/{application_id}/experts", experts=str(people["expert_id"]))
    with session_factory() as session:
        letters = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "expert@example.com")).all()
    assert len(letters) == 1
    assert letters[0].subject == "Вам назначено заявление на аттестацию: Петрова Анна Ивановна"
    assert f"{BASE_URL}/admin/application/details/{application_id}" in letters[0].body_text


def test_register_and_notice_are_formed_and_read_back(people, application_id) -> None:
    municipal = people["municipal"]
    _, alerts = post(municipal, f"/admin/application/{application_id}/status", to="registered")
    assert alerts[0][0] == "success"
    today = centre_today(utcnow())
    register = municipal.get(f"/admin/application/register.xlsx?first={today - timedelta(days=7)}&last={today}")
    assert register.status_code == 200
    assert "filename*=UTF-8''" in register.headers["content-disposition"]
    rows = [[cell.value for cell in row] for row in load_workbook(io.BytesIO(register.content)).active.iter_rows()]
    assert rows[2][:4] == ["№", "Рег. номер", "Дата регистрации", "ФИО педагога"]
    assert rows[3][1:4] == [f"1/{today.year}", f"{today:%d.%m.%Y}", TEACHER["full_name"]]
    notice = municipal.get(f"/admin/application/{application_id}/notice.docx")
    assert notice.status_code == 200
    text = "\n".join(paragraph.text for paragraph in WordDocument(io.BytesIO(notice.content)).paragraphs)
    assert "Уведомление о сроках проведения аттестации" in text and TEACHER["full_name"] in text
    assert upload(municipal, application_id, "уведомление.docx", notice.content)[0][0] == "success"


def test_register_keeps_formulas_as_text(people, session_factory) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **{**TEACHER, "full_name": '=HYPERLINK("x")'})
    pk = only_application(session_factory).id
    post(people["municipal"], f"/admin/application/{pk}/status", to="registered")
    today = centre_today(utcnow())
    register = people["municipal"].get(f"/admin/application/register.xlsx?first={today}&last={today}")
    sheet = load_workbook(io.BytesIO(register.content)).active
    assert sheet.cell(row=4, column=4).value == '\'=HYPERLINK("x")'
    assert sheet.cell(row=4, column=4).data_type == "s"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("first=2026-12-31&last=2026-01-01", "позже"),
        ("first=&last=", "Укажите"),
        ("first=2020-01-01&last=2026-01-01", "за год"),
    ],
)
def test_bad_period_is_explained(people, query, message) -> None:
    response = people["municipal"].get(f"/admin/application/register.xlsx?{query}")
    assert response.status_code == 302
    assert message in people["municipal"].get("/admin/application/list").text


def test_notice_needs_a_registered_application_and_a_coordinator(people, application_id) -> None:
    assert people["school"].get(f"/admin/application/{application_id}/notice.docx").status_code == 403
    response = people["municipal"].get(f"/admin/application/{application_id}/notice.docx")
    assert response.status_code == 302
    assert "после регистрации" in people["municipal"].get(response.headers["location"].removeprefix(BASE_URL)).text


def test_filters_by_municipality_and_organization_stay_in_scope(people, session_factory) -> None:
    enter(people["school"], organization_id=str(people["school_id"]), **TEACHER)
    municipal = people["municipal"]
    page = municipal.get("/admin/application/list").text
    assert "Корниловская СОШ" in page and "Гимназия в Итатке" in page
    assert "ЗАТО Северск" not in page  # another municipality is not even offered as a filter
    school = municipal.get("/admin/application/list", params={"organization": str(people["school_id"])}).text
    assert "Петрова Анна Ивановна" in school
    other = str(municipality_id(session_factory, "ЗАТО Северск"))
    assert "Петрова Анна Ивановна" not in municipal.get("/admin/application/list", params={"municipality": other}).text
    assert municipal.get("/admin/application/list", params={"organization": "abc"}).status_code == 200


def test_too_long_phone_is_a_form_error_not_a_server_error(people, session_factory) -> None:
    response = enter(people["school"], organization_id=str(people["school_id"]), **{**TEACHER, "phone": "1" * 41})
    assert response.status_code == 400
    assert "Не больше 40 символов." in response.text
    with session_factory() as session:
        assert session.scalars(select(Application)).all() == []


def test_upload_forms_cannot_be_sent_incomplete(people, application_id) -> None:
    post(people["municipal"], f"/admin/application/{application_id}/experts", experts=str(people["expert_id"]))
    expert_page = people["expert"].get(f"/admin/application/details/{application_id}").text
    assert re.search(r'<select id="recommendation" name="recommendation"[^>]*required', expert_page)
    assert re.search(r'<input type="file" name="file"[^>]*required', expert_page)
    school_page = people["school"].get(f"/admin/application/details/{application_id}").text
    assert 'value="conclusion"' not in school_page and 'name="recommendation"' not in school_page


def test_deadline_filters_and_cabinet_agree(people, application_id, session_factory) -> None:
    post(people["municipal"], f"/admin/application/{application_id}/status", to="registered")
    with session_factory.begin() as session:
        session.get(Application, application_id).deadline = centre_today(utcnow()) - timedelta(days=1)
    municipal = people["municipal"]
    assert "Петрова Анна Ивановна" in municipal.get("/admin/application/list", params={"deadline": "overdue"}).text
    assert "Петрова Анна Ивановна" not in municipal.get("/admin/application/list", params={"deadline": "due_soon"}).text
    assert "Просрочено: <strong>1</strong>" in municipal.get("/admin/").text


def test_a_regions_organizations_are_offered_once_a_municipality_is_chosen(operator_client, session_factory) -> None:
    """Two thousand organizations as links on every page would make the list slow and useless: past
    WITHIN_LIMIT the organization filter asks for a municipality first, then offers its organizations."""
    for number in range(WITHIN_LIMIT + 1):
        add_organization(session_factory, f"Школа № {number} Северска", "ЗАТО Северск")
    add_organization(session_factory, "Гимназия Томского района", "Томский район")

    page = operator_client.get("/admin/application/list").text
    assert CHOOSE_WITHIN_FIRST in page and "Школа № 7 Северска" not in page

    tomsk = municipality_id(session_factory, "Томский район")
    page = operator_client.get("/admin/application/list", params={"municipality": tomsk}).text
    assert "Гимназия Томского района" in page and "Школа № 7 Северска" not in page
    assert CHOOSE_WITHIN_FIRST not in page
