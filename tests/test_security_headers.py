"""Security headers, the host check, body limits, error pages and exports (checklist items 10, 21, 27, 29, 33, 35).

Each test drives the real application: TestClient for what a response carries, and the real
`python -m admin_app serve` where only a real socket shows it (a body refused while it is
still being sent, the temporary file the server spooled it to).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http.client
import io
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import sqladmin
from live_server import ServeProcess, server_env
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.security_headers import CONTENT_SECURITY_POLICY, INLINE_SCRIPT_HASHES
from admin_app.template_patches import PATCHES
from models import Application, Document, Invitation, OutboxMessage, User
from settings import PROJECT_DIR, load_settings
from tests.application_helpers import TEACHER
from tests.conftest import BASE_URL, PASSWORD, csrf_from, env_for, log_in
from tests.invitation_helpers import add_organization, invite, municipality_id

DEAD_DATABASE = "postgresql://nobody@127.0.0.1:1/none"
COMMON = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
SERVER_ERROR = "Внутренняя ошибка сервера. Попробуйте позже."
WRONG_HOST = f"Неверное имя сервера в запросе. Откройте систему по адресу {BASE_URL}/ (настройка BASE_URL)."
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
MB = 1024 * 1024
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


@contextmanager
def client_without_database(tmp_path: Path) -> Iterator[TestClient]:
    """The application whose database does not answer: every query fails inside."""
    settings = load_settings(env_for(DEAD_DATABASE, tmp_path / "dead"))
    app = create_app(settings)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def panel_failure(tmp_path: Path):
    with client_without_database(tmp_path) as client:
        token = csrf_from(client.get("/admin/login").text)
        return client.post("/admin/login", data={"username": "olesya", "password": PASSWORD, "csrf_token": token})


def public_failure(tmp_path: Path):
    with client_without_database(tmp_path) as client:
        return client.get("/Application/Status", params={"k": "a-key-from-a-letter"})


@dataclass
class Visitor:
    client: TestClient
    make_user: Callable[..., User]
    tmp_path: Path

    def logged_in(self) -> TestClient:
        self.make_user("olesya")
        log_in(self.client, "olesya")
        return self.client


RESPONSES: dict[str, Callable[[Visitor], object]] = {
    "public page": lambda v: v.client.get("/Account/ForgotPassword"),
    "healthz": lambda v: v.client.get("/healthz"),
    "404": lambda v: v.client.get("/no/such/page"),
    "405": lambda v: v.client.put("/Application/Submit"),
    "static file": lambda v: v.client.get("/admin/statics/css/tabler.min.css"),
    "login page": lambda v: v.client.get("/admin/login"),
    "panel page": lambda v: v.logged_in().get("/admin/user/list"),
    "panel 404": lambda v: v.logged_in().get("/admin/user/details/999999"),
    "redirect": lambda v: v.client.get("/admin/"),
    "wrong host": lambda v: v.client.get("/admin/login", headers={"host": "evil.example"}),
    "413": lambda v: v.client.post("/Application/Submit", content=b"x" * (MB + 1), headers=URLENCODED),
    "panel 500": lambda v: panel_failure(v.tmp_path),
    "public 500": lambda v: public_failure(v.tmp_path),
}
OWN_HEADERS = {"public page": {"referrer-policy": "no-referrer"}}  # its own, stricter: kept
EXPECTED_STATUS = {"404": 404, "panel 404": 404, "405": 405, "redirect": 302, "wrong host": 400, "413": 413}


@pytest.mark.parametrize("case", list(RESPONSES))
def test_security_headers_on_every_response(case: str, client, make_user, tmp_path) -> None:
    response = RESPONSES[case](Visitor(client, make_user, tmp_path))
    assert response.status_code == EXPECTED_STATUS.get(case, 500 if "500" in case else 200)
    expected = COMMON | OWN_HEADERS.get(case, {})
    assert {name: response.headers.get(name) for name in expected} == expected
    assert "strict-transport-security" not in response.headers  # BASE_URL is http here


def test_security_headers_hsts_when_base_url_is_https(database_url, tmp_path) -> None:
    https = "https://attestation.example.ru"
    settings = load_settings(env_for(database_url, tmp_path / "var", BASE_URL=https))
    with TestClient(create_app(settings), base_url=https, follow_redirects=False) as client:
        for path in ("/admin/login", "/admin/statics/js/main.js", "/no/such/page", "/healthz"):
            assert client.get(path).headers["strict-transport-security"] == HSTS, path


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
SQLADMIN_TEMPLATES = Path(sqladmin.__file__).parent / "templates"


def served_templates() -> Iterator[tuple[str, str]]:
    """The source of every template a page is built from (SQLAdmin's with our patches), but letters and the
    rich-text editors SQLAdmin offers, which load their scripts from other sites and which no view uses."""
    for path in sorted(SQLADMIN_TEMPLATES.rglob("*.html")):
        if "editors" not in path.parts:
            source = path.read_text()
            for original, replacement in PATCHES.items():
                source = source.replace(original, replacement)
            yield str(path.relative_to(SQLADMIN_TEMPLATES)), source
    for path in sorted((PROJECT_DIR / "templates").rglob("*.html")):
        if "mail" not in path.relative_to(PROJECT_DIR / "templates").parts:
            yield str(path.relative_to(PROJECT_DIR)), path.read_text()


def test_security_headers_csp_allows_exactly_the_inline_scripts_of_the_templates() -> None:
    hashes = set()
    for name, source in served_templates():
        assert not re.search(r"\son[a-z]+=", source), f"{name} has an inline event handler"
        for script in INLINE_SCRIPT.findall(source):
            assert "{{" not in script and "{%" not in script, f"{name}: an inline script that varies has no hash"
            hashes.add("sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode())
    assert hashes == set(INLINE_SCRIPT_HASHES)


def test_authenticated_pages_are_not_cached(operator_client, session_factory) -> None:
    with session_factory() as session:
        olesya = session.scalars(select(User).where(User.username == "olesya")).one()
    for path in (
        "/admin/",
        "/admin/user/list",
        f"/admin/user/details/{olesya.id}",
        f"/admin/user/edit/{olesya.id}",
        "/admin/profile",
        "/admin/mailing",
        "/admin/invitation/export/csv",
    ):
        response = operator_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    static = operator_client.get("/admin/statics/js/main.js")
    assert "no-store" not in static.headers.get("cache-control", "")
    assert static.headers["etag"]


def ask_for_reset_link(client: TestClient, login: str) -> None:
    token = csrf_from(client.get("/Account/ForgotPassword").text)
    response = client.post("/Account/ForgotPassword", data={"login": login, "csrf_token": token})
    assert response.status_code == 200


def test_links_come_from_base_url_never_the_host_header(app: Starlette, make_user, session_factory) -> None:
    make_user("olesya", email="olesya@example.ru")
    with TestClient(app, base_url="http://evil.example", follow_redirects=False) as forged:
        for response in (forged.get("/admin/login"), forged.post("/Account/ForgotPassword", data={"login": "olesya"})):
            assert response.status_code == 400
            assert response.text == WRONG_HOST
    with TestClient(app, base_url="http://localhost:8000", follow_redirects=False) as local:
        ask_for_reset_link(local, "olesya")  # 127.0.0.1's other name, on the same machine
    with session_factory() as session:
        letters = session.scalars(select(OutboxMessage.body_text)).all()
    assert len(letters) == 1
    assert f"{BASE_URL}/Account/ResetPassword?k=" in letters[0]
    assert "localhost" not in letters[0] and "evil" not in letters[0]


@pytest.mark.parametrize(
    ("host", "status"),
    [("attestation.example.ru", 200), ("ATTESTATION.example.ru:443", 200), ("localhost", 400), ("10.0.0.5", 400)],
)
def test_links_come_from_base_url_only_its_host_is_answered(database_url, tmp_path, host, status) -> None:
    https = "https://attestation.example.ru"
    settings = load_settings(env_for(database_url, tmp_path / "var", BASE_URL=https))
    with TestClient(create_app(settings), base_url=https, follow_redirects=False) as client:
        assert client.get("/admin/login", headers={"host": host}).status_code == status
        assert client.get("/healthz", headers={"host": host}).status_code == 200  # probes use the address


BOUNDARY = "attestation-test-boundary"
FORM_DATA = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
FORM_END = f"\r\n--{BOUNDARY}--\r\n".encode()


def form_head(fields: dict[str, str], filename: str) -> bytes:
    """A multipart form up to the content of its file: the fields, then the headers of the file part."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n')
    return "".join(parts).encode()


@dataclass
class Uploader:
    client: TestClient
    application_id: int

    def post(self, path: str, fields: dict[str, str], content: bytes, *, chunked: bool):
        token = csrf_from(self.client.get("/admin/").text)
        payload = form_head({"csrf_token": token, **fields}, "скан.pdf") + content + FORM_END
        sent = iter([payload]) if chunked else payload  # an iterator goes out chunked, with no Content-Length
        return self.client.post(path, content=sent, headers=FORM_DATA)


@pytest.fixture
def small_limits(database_url, tmp_path, make_user, session_factory) -> Iterator[Uploader]:
    """The operator, on a server taking documents up to 1 MB and lists up to 16 KB, and a school's application."""
    settings = load_settings(env_for(database_url, tmp_path / "var", DOCUMENT_MAX_MB="1", BULK_MAX_KB="16"))
    app = create_app(settings)
    school = add_organization(session_factory, "МБОУ «Корниловская СОШ»", "Томский район")
    make_user("school", role="organization_coordinator", organization_id=school)
    make_user("operator")
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as coordinator:
        log_in(coordinator, "school")
        token = csrf_from(coordinator.get("/admin/application/new").text)
        fields = {"csrf_token": token, "organization_id": school, **TEACHER}
        assert coordinator.post("/admin/application/new", data=fields).status_code == 302
    with session_factory() as session:
        application_id = session.scalars(select(Application.id)).one()
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as operator:
        log_in(operator, "operator")
        yield Uploader(operator, application_id)


DOCUMENT_LIMIT = "Файл больше 1 МБ: уменьшите его или разделите на части."
LIST_LIMIT = "Файл или список слишком большой: можно загрузить не больше 16 КБ. Разделите его на части."


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_upload_size_limits_enforced_while_streaming(small_limits: Uploader, session_factory, chunked) -> None:
    documents = f"/admin/application/{small_limits.application_id}/documents"
    too_big = PDF + b"0" * (MB + 64 * 1024)
    response = small_limits.post(documents, {"kind": "application"}, too_big, chunked=chunked)
    assert response.status_code == 413
    assert DOCUMENT_LIMIT in response.text
    with session_factory() as session:
        assert session.scalars(select(Document)).all() == []

    listed = small_limits.post("/admin/mailing/bulk", {"role": "expert"}, b"a@example.ru\n" * 7000, chunked=chunked)
    assert listed.status_code == 413
    assert LIST_LIMIT in listed.text
    if not chunked:  # the declared length is refused by the page itself, on the form, before anything is read
        assert 'name="addresses"' in listed.text

    too_long = b"full_name=" + b"x" * MB
    public = small_limits.client.post(
        "/Application/Submit", content=iter([too_long]) if chunked else too_long, headers=URLENCODED
    )
    assert public.status_code == 413
    assert "Слишком большой запрос: можно отправить не больше 1 МБ." in public.text


def test_upload_size_limits_leave_a_file_within_them_to_the_page(small_limits: Uploader, session_factory) -> None:
    documents = f"/admin/application/{small_limits.application_id}/documents"
    just_over = PDF + b"0" * MB  # over the document limit, within the form's overhead
    response = small_limits.post(documents, {"kind": "application"}, just_over, chunked=True)
    assert response.status_code == 302  # back to the application, with the page's own message
    assert DOCUMENT_LIMIT in small_limits.client.get(response.headers["location"].removeprefix(BASE_URL)).text


def open_temporary_files(directory: Path) -> list[str]:
    """Files under `directory` that a process of ours holds open (Starlette's spooled parts are unlinked at once)."""
    found = []
    for descriptor in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def logged_in_cookies(base_url: str, username: str) -> tuple[str, str]:
    """The Cookie header of `username`'s session on the real server, and a CSRF token of that session."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    token = csrf_from(opener.open(f"{base_url}/admin/login").read().decode())
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(f"{base_url}/admin/login", data=form)
    token = csrf_from(opener.open(f"{base_url}/admin/").read().decode())
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar), token


def send_chunk(connection: http.client.HTTPConnection, data: bytes) -> None:
    connection.send(b"%X\r\n" % len(data) + data + b"\r\n")


def test_upload_size_limits_enforced_while_streaming_leave_no_temp_file(
    small_limits: Uploader, database_url, tmp_path, session_factory
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    serve = ServeProcess(
        server_env(database_url, tmp_path / "var", DOCUMENT_MAX_MB="1", TMPDIR=str(spool)), tmp_path / "serve.log"
    )
    serve.start()
    try:
        cookies, token = logged_in_cookies(serve.base_url, "operator")
        connection = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=10)
        connection.putrequest("POST", f"/admin/application/{small_limits.application_id}/documents")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Content-Type", FORM_DATA["content-type"])
        connection.putheader("Cookie", cookies)
        connection.endheaders()
        send_chunk(connection, form_head({"csrf_token": token, "kind": "application"}, "скан.pdf") + PDF)
        for _ in range(16):  # 1 MB: past what Starlette keeps in memory, within the limit
            send_chunk(connection, b"0" * (64 * 1024))
        assert wait_until(lambda: len(open_temporary_files(spool)) == 1), "the part was never spooled to disk"

        for _ in range(2):  # past the limit; the last chunk that would end the body is never sent
            send_chunk(connection, b"0" * (64 * 1024))
        response = connection.getresponse()
        assert response.status == 413
        assert DOCUMENT_LIMIT in response.read().decode()
        connection.close()
        assert wait_until(lambda: open_temporary_files(spool) == []), open_temporary_files(spool)
        assert list(spool.iterdir()) == []
    finally:
        serve.stop()
    with session_factory() as session:
        assert session.scalars(select(Document)).all() == []


@pytest.mark.parametrize("failure", [panel_failure, public_failure], ids=["panel", "public page"])
def test_500_pages_show_no_traceback(failure, tmp_path) -> None:
    response = failure(tmp_path)
    assert response.status_code == 500
    assert SERVER_ERROR in response.text
    for leak in ("Traceback", 'File "', "psycopg", "OperationalError", "sqlalchemy", "127.0.0.1:1"):
        assert leak not in response.text, leak


FORMULAS = {
    "teacher_full_name": '=HYPERLINK("http://evil.example","Открыть")',
    "teacher_email": "@SUM(A1:A9)",
    "teacher_phone": "+7 913 000-00-00",
    "position": "-2+3",
}


def test_csv_exports_neutralize_formulas(small_limits: Uploader, session_factory) -> None:
    operator = small_limits.client
    tomsk = municipality_id(session_factory, "Томский район")
    invite(operator, role="expert", email="expert@example.ru", municipality_id=str(tomsk))
    with session_factory.begin() as session:
        session.execute(update(Application).values(**FORMULAS))
        session.execute(update(Invitation).values(email="\t=cmd|' /C calc'!A0"))
    exported = {}
    for view in ("application", "invitation"):
        response = operator.get(f"/admin/{view}/export/csv")
        assert response.status_code == 200, view
        exported[view] = [
            cell for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";") for cell in row
        ]
    for formula in FORMULAS.values():
        assert "'" + formula in exported["application"] and formula not in exported["application"]
    assert "'\t=cmd|' /C calc'!A0" in exported["invitation"]
