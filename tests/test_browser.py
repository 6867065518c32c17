"""The panel in a real browser: the server started as `python -m admin_app serve`, driven by
headless Chromium through Playwright (the system's /usr/bin/chromium, never a downloaded one).

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY

pytestmark = pytest.mark.browser

PROJECT_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = PROJECT_DIR / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USERNAME = "browser.operator"
EMAIL = "browser.operator@example.com"
# 80 Cyrillic letters: far past bcrypt's 72 bytes, so the pre-hash must do its job.
PASSWORD = ("съешьжеещёэтихмягкихфранцузскихбулокдавыпейчаю" * 2)[:80]
WRONG_PASSWORD = "совсем-не-тот-пароль"
STARTUP_TIMEOUT = 20.0
MENU = ("Пользователи", "Приглашения", "Муниципалитеты", "Образовательные организации", "Роли")
# Strings SQLAdmin shows in English unless its Russian catalog is active.
ENGLISH_LEFTOVERS = ("Logout", "Search", "Actions", "Delete selected", "Export", "Next", "Previous")


@pytest.fixture
def chromium() -> Path:
    """The system's Chromium; skipped without it, failed instead under REQUIRE_BROWSER=1 (CI)."""
    if not CHROMIUM.exists():
        message = f"нет Chromium: {CHROMIUM}"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    base_url: str
    username: str
    password: str


def server_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": TEST_SECRET_KEY,
        "BCRYPT_ROUNDS": "4",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("BASE_URL", None)  # `serve` derives it from --host/--port
    env.pop("ADMIN_PASSWORD", None)
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "admin_app", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"


def wait_healthy(process: subprocess.Popen[str], log_path: Path, url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last_error = f"HTTP {error.code}"
        except OSError as error:
            last_error = repr(error)
        time.sleep(0.2)
    pytest.fail(
        f"{url} did not answer 200 within {STARTUP_TIMEOUT:.0f} s (last: {last_error}); server output:\n"
        f"{log_path.read_text(errors='replace')}"
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="attestation-browser-") as tmp:
        tmp_dir = Path(tmp)
        env = server_env(database_url, tmp_dir / "var")
        run_cli(
            {**env, "ADMIN_PASSWORD": PASSWORD},
            "create-user",
            "--role",
            "operator",
            "--username",
            USERNAME,
            "--email",
            EMAIL,
        )
        port = free_port()
        log_path = tmp_dir / "server.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "admin_app", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=PROJECT_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_healthy(process, log_path, f"{base_url}/healthz")
            yield Server(base_url=base_url, username=USERNAME, password=PASSWORD)
        finally:
            stop(process)


def assert_no_english(body: str, where: str) -> None:
    found = [text for text in ENGLISH_LEFTOVERS if text in body]
    assert not found, f"English left on {where}: {found}"


def test_login_and_russian_panel(chromium: Path, server: Server) -> None:
    """Requests `chromium` before `server`, so a missing browser is reported before the server starts."""
    from playwright.sync_api import sync_playwright

    assert len(PASSWORD) == 80

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en-US"})
            page = context.new_page()
            page.set_default_timeout(15_000)

            page.goto(f"{server.base_url}/admin/")
            assert "/admin/login" in page.url
            body = page.inner_text("body")
            for text in ("Войти", "Используйте учетную запись для входа.", "Имя пользователя", "Пароль"):
                assert text in body, f"the login page lacks «{text}»"
            assert "Запомнить меня" in body
            assert_no_english(body, "the login page")

            page.fill("#username", server.username)
            page.fill("#password", WRONG_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert "Неверное имя пользователя или пароль." in page.inner_text("body")
            assert page.input_value("#username") == server.username
            assert page.input_value("#password") == ""

            page.fill("#password", server.password)
            with page.expect_navigation():
                page.click("button[type=submit]")
            assert page.url.rstrip("/").endswith("/admin"), page.url
            body = page.inner_text("body")
            for text in (*MENU, "Выход"):
                assert text in body, f"the panel lacks «{text}»"
            assert_no_english(body, "the panel's start page")

            page.get_by_role("link", name="Муниципалитеты", exact=True).click()
            page.wait_for_url("**/admin/municipality/list**")
            body = page.inner_text("body")
            assert "Культура и искусство" in body
            assert_no_english(body, "«Муниципалитеты»")

            page.get_by_role("link", name="Пользователи", exact=True).click()
            page.wait_for_url("**/admin/user/list**")
            body = page.inner_text("body")
            assert server.username in body
            assert EMAIL in body

            ARTIFACTS_DIR.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS_DIR / "panel.png"), full_page=True)
            assert_no_english(body, "«Пользователи»")
        finally:
            browser.close()
