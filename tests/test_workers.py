"""Several processes, one system: `serve --workers 2` answers a signed-in user from either worker, and
a document uploaded through one instance is kept in DOCUMENTS_DIR and served by another."""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from conftest import BASE_URL, PASSWORD, csrf_from, env_for, log_in
from live_server import ServeProcess, create_operator, run_cli, server_env
from starlette.testclient import TestClient

from admin_app.app import create_app
from settings import load_settings
from tests.application_helpers import TEACHER
from tests.invitation_helpers import add_organization

WORKERS = 2
REQUESTS = 40
STARTED = "Application startup complete."


class Answer:
    """One HTTP exchange on a connection of its own, and the worker process that answered it."""

    def __init__(self, status: int, location: str, cookies: SimpleCookie, text: str, worker: int) -> None:
        self.status = status
        self.location = location
        self.cookies = cookies
        self.text = text
        self.worker = worker


class Browser:
    """A cookie jar that speaks HTTP/1.1 to `serve` over a new TCP connection for every request."""

    def __init__(self, serve: ServeProcess) -> None:
        self.serve = serve
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.serve.port, timeout=10)
        try:
            headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            # The connection is still open (keep-alive): find the worker holding its other end.
            worker = worker_of(self.serve, client_port=connection.sock.getsockname()[1])
        finally:
            connection.close()
        cookies = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        return Answer(response.status, response.getheader("Location", ""), cookies, text, worker)

    def keep(self, cookies: SimpleCookie) -> None:
        self.cookies.update({name: morsel.value for name, morsel in cookies.items() if morsel.value})


def worker_of(serve: ServeProcess, *, client_port: int) -> int:
    """The process (a child of `serve`) holding the server's end of the TCP connection from `client_port`."""
    inodes = {
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())
        and int(fields[1].rsplit(":", 1)[1], 16) == serve.port
        and int(fields[2].rsplit(":", 1)[1], 16) == client_port
    }
    for pid in children(serve.pid):
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return pid
    raise AssertionError(f"no child of {serve.pid} holds the connection from port {client_port}")


def children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.append(int(entry))
    return found


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    env = server_env(database_url, tmp_path / "var")
    create_operator(env, "olesya", "olesya@example.ru", PASSWORD)
    process = ServeProcess(env, tmp_path / "server.log", args=("--workers", str(WORKERS)))
    process.start()
    deadline = time.monotonic() + 20
    while process.log().count(STARTED) < WORKERS:  # /healthz answered: one worker is up, maybe not both
        assert time.monotonic() < deadline, process.log()
        time.sleep(0.1)
    yield process
    process.stop()


def test_any_worker_serves_a_signed_in_user_and_logout_ends_it_on_all(serve: ServeProcess) -> None:
    browser = Browser(serve)
    page = browser.request("GET", "/admin/login")
    browser.keep(page.cookies)
    signed_in = browser.request(
        "POST", "/admin/login", {"username": "olesya", "password": PASSWORD, "csrf_token": csrf_from(page.text)}
    )
    assert signed_in.status in (302, 303) and signed_in.location.endswith("/admin/")
    browser.keep(signed_in.cookies)
    browser.keep(browser.request("GET", "/admin/").cookies)  # the first page puts the form token in the cookie
    cookie = dict(browser.cookies)

    answers = [browser.request("GET", "/admin/") for _ in range(REQUESTS)]

    assert Counter(answer.status for answer in answers) == {200: REQUESTS}
    assert all("Выход" in answer.text and not answer.cookies for answer in answers), "the cookie stayed the same"
    assert len({answer.worker for answer in answers}) == WORKERS, "one worker answered every request"

    logged_out = browser.request("POST", "/admin/logout", {"csrf_token": csrf_from(answers[-1].text)})
    assert logged_out.status == 302 and logged_out.location.endswith("/admin/login")
    browser.cookies = cookie  # the cookie from before «Выход», as if copied
    after = [browser.request("GET", "/admin/") for _ in range(REQUESTS)]

    assert all(answer.status == 302 and "/admin/login" in answer.location for answer in after)
    assert len({answer.worker for answer in after}) == WORKERS, "one worker answered every request"
    assert "Traceback" not in serve.log()


def test_a_document_uploaded_through_one_instance_is_kept_in_documents_dir_and_served_by_another(
    database_url: str, tmp_path: Path, make_user, session_factory
) -> None:
    shared = tmp_path / "shared-storage" / "documents"
    first, second = (
        create_app(load_settings(env_for(database_url, tmp_path / name, DOCUMENTS_DIR=str(shared))))
        for name in ("first", "second")
    )
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    make_user("school", role="organization_coordinator", organization_id=school)
    content = b"%PDF-1.7\n% the teacher's portfolio\n"
    with (
        TestClient(first, base_url=BASE_URL, follow_redirects=False) as one,
        TestClient(second, base_url=BASE_URL, follow_redirects=False) as other,
    ):
        log_in(one, "school")
        token = csrf_from(one.get("/admin/application/new").text)
        entered = one.post(
            "/admin/application/new", data={"csrf_token": token, "organization_id": str(school), **TEACHER}
        )
        application = re.search(r"/admin/application/details/(\d+)", entered.headers["location"]).group(1)
        token = csrf_from(one.get("/admin/").text)
        one.post(
            f"/admin/application/{application}/documents",
            data={"csrf_token": token, "kind": "application"},
            files={"file": ("портфолио.pdf", content)},
        )

        stored = list(shared.iterdir())
        assert len(stored) == 1 and stored[0].read_bytes() == content
        assert not (tmp_path / "first" / "documents").exists()

        other.cookies = one.cookies  # the session is in the database: the other instance knows it
        details = other.get(f"/admin/application/details/{application}").text
        link = re.search(rf'href="{BASE_URL}(/admin/application/{application}/documents/\d+)">портфолио.pdf<', details)
        download = other.get(link.group(1))
        assert download.status_code == 200 and download.content == content


def test_serve_explains_workers_in_russian_and_refuses_a_bad_count(database_url: str, tmp_path: Path) -> None:
    env = server_env(database_url, tmp_path / "var")
    assert "число рабочих процессов, от 1 до 32" in run_cli(env, "serve", "--help").stdout

    refused = run_cli(env, "serve", "--workers", "0", exit_code=2)

    assert "аргумент --workers: ожидается целое число от 1 до 32, получено «0»" in refused.stderr
