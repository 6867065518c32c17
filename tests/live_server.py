"""What the browser tests share: the real server started as `python -m admin_app serve` in a
subprocess, the command line, and the system's headless Chromium (never a downloaded one).

With REQUIRE_BROWSER=1 (set by .ci/run) a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import TEST_SECRET_KEY
from required_tools import missing_tool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page, Playwright

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
STARTUP_TIMEOUT = 20.0
# Strings SQLAdmin shows in English unless its Russian catalog is active.
ENGLISH_LEFTOVERS = ("Logout", "Search", "Actions", "Delete selected", "Export", "Next", "Previous")


def require_chromium() -> Path:
    """The system's Chromium; skips the test without it, or fails it under REQUIRE_BROWSER=1 (CI)."""
    if not CHROMIUM.exists():
        missing_tool(f"нет Chromium: {CHROMIUM}", "REQUIRE_BROWSER")
    return CHROMIUM


def launch_chromium(playwright: Playwright, chromium: Path) -> Browser:
    return playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def run_cli(env: dict[str, str], *args: str, exit_code: int = 0) -> subprocess.CompletedProcess[str]:
    """`python -m admin_app <args>`, which must end with `exit_code`."""
    result = subprocess.run(
        [sys.executable, "-m", "admin_app", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == exit_code, f"{args[0]}: exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def create_operator(env: dict[str, str], username: str, email: str, password: str) -> None:
    run_cli(
        {**env, "ADMIN_PASSWORD": password},
        "create-user",
        "--role",
        "operator",
        "--username",
        username,
        "--email",
        email,
    )


class ServeProcess:
    """`python -m admin_app serve` on a fixed port; can be stopped and started again on the same port.

    Its output (both runs) goes to `log_path`.
    """

    def __init__(
        self, env: dict[str, str], log_path: Path, port: int | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.env = env
        self.args = args  # more options of `serve`, e.g. ("--workers", "2")
        self.log_path = log_path
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "admin_app",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        wait_healthy(self._process, self.log_path, f"{self.base_url}/healthz")

    def stop(self) -> None:
        if self._process is not None:
            stop(self._process)
            self._process = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


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


def assert_no_english(body: str, where: str) -> None:
    found = [text for text in ENGLISH_LEFTOVERS if text in body]
    assert not found, f"English left on {where}: {found}"


@pytest.fixture
def chromium() -> Path:
    """The system's Chromium; skipped without it, failed instead under REQUIRE_BROWSER=1 (CI)."""
    return require_chromium()


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, chromium)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser) -> Page:
    """A browser context of its own (one person's browser), asking for English: the pages must be Russian anyway."""
    context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en-US"})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def body(page: Page) -> str:
    return page.inner_text("body")


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / name), full_page=True)
