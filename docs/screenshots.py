"""Screenshots for docs/guide.md, taken from a live demo system in headless Chromium.

Run from the project directory:

    .venv/bin/python docs/screenshots.py

It creates a temporary database filled by `python -m admin_app demo`, starts `python -m admin_app serve`
on a free port (letters go to .eml files), walks the guide's steps as the demo users and overwrites the PNGs
in docs/img/. The temporary directory and the server are removed at the end, also after an error.
It uses the system's Chromium (/usr/bin/chromium) and never downloads a browser.
"""

from __future__ import annotations

import email
import email.policy
import html
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import sync_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PROJECT_DIR = Path(__file__).resolve().parent.parent
IMG_DIR = PROJECT_DIR / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
DEMO_PASSWORD = "Demo-parol-2026!"
OPERATOR = "tikhonova.viktoriia"
COORDINATOR = "denisov.oleg"  # Город Томск
NEW_APPLICATION = "Ильина Ксения Андреевна"  # status «Новое (не зарегистрировано)» in Город Томск
UNDER_REVIEW_APPLICATION = "Поляков Михаил Евгеньевич"  # registered, experts and a deadline set
INVITEE = "sidorova.marina@example.com"
OPERATOR_INVITEE = "frolova.elena@example.com"
NEW_PASSWORD = "Весенний-ручей-2026"
BULK_CSV = (
    "Электронная почта;Роль;Образовательная организация;ФИО\r\n"
    "kovaleva.irina@example.com;эксперт;;Ковалева Ирина Сергеевна\r\n"
    "zaitsev.pavel@example.com;координатор ОО;МАОУ гимназия № 6 г. Томска;Зайцев Павел Андреевич\r\n"
    "gromova.anna@example.com;эксперт;;Громова Анна Викторовна\r\n"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> None:
    """`python -m admin_app <args>`; stops the script with the command's output when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "admin_app", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"admin_app {args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within 30 s:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def shot(page: Page, name: str, full_page: bool = False) -> None:
    """Saves docs/img/<name>.png; a full-page shot grows the window so that the side menu reaches the bottom."""
    page.wait_for_load_state("networkidle")
    viewport = page.viewport_size
    assert viewport is not None
    if full_page:
        height = int(page.evaluate("document.documentElement.scrollHeight"))
        page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
    page.screenshot(path=str(IMG_DIR / f"{name}.png"), full_page=full_page)
    page.set_viewport_size(viewport)
    print(f"docs/img/{name}.png")


def open_page(browser: Browser, base_url: str, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport, locale="ru-RU", timezone_id="Asia/Tomsk", base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def log_in(page: Page, username: str) -> None:
    page.goto("/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/?$"))


def letter_to(mail_dir: Path, address: str, seen: set[Path]) -> Message:
    """The first new .eml addressed to `address`, waiting for the server's background sender."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml")):
            if path in seen:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in str(message.get("To", "")):
                seen.add(path)
                return message
        time.sleep(0.5)
    raise SystemExit(f"no letter to {address} in {mail_dir}")


def part(message: Message, content_type: str) -> str:
    for item in message.walk():
        if item.get_content_type() == content_type:
            payload = item.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(item.get_content_charset() or "utf-8")
    raise SystemExit(f"the letter has no {content_type} part")


def show_letter(browser: Browser, base_url: str, message: Message, name: str) -> None:
    """The HTML letter as a mail program would show it, under its subject, sender and recipient."""
    header = "".join(
        f"<div><b>{label}:</b> {html.escape(str(message.get(field, '')))}</div>"
        for label, field in (("Тема", "Subject"), ("От", "From"), ("Кому", "To"))
    )
    page = open_page(browser, base_url, {"width": 900, "height": 400})
    page.set_content(
        '<div style="font: 15px sans-serif; padding: 12px 16px; background: #f1f3f5; border-bottom: 1px solid #ccc">'
        f"{header}</div>{part(message, 'text/html')}"
    )
    shot(page, name, full_page=True)
    page.context.close()


def registration_link(message: Message) -> str:
    found = re.search(r"https?://\S+/Account/RegisterByInvite\?\S+", part(message, "text/plain"))
    if found is None:
        raise SystemExit("no registration link in the invitation letter")
    return found.group(0)


def open_application(page: Page, teacher: str) -> None:
    page.goto("/admin/application/list")
    page.get_by_role("row").filter(has_text=teacher).locator("a[href*='/details/']").first.click()
    page.wait_for_url(re.compile(r"/admin/application/details/"))


def public_pages(browser: Browser, base_url: str) -> None:
    page = open_page(browser, base_url)
    page.goto("/")
    shot(page, "01-landing", full_page=True)
    page.goto("/admin/login")
    page.fill("input[name=username]", COORDINATOR)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.check("input[name=remember]")
    shot(page, "02-login")
    page.goto("/Account/ForgotPassword")
    shot(page, "16-forgot-password")
    page.goto("/Account/ForgotUsername")
    shot(page, "17-forgot-username")
    page.context.close()
    phone = open_page(browser, base_url, PHONE)
    phone.goto("/admin/login")
    shot(phone, "02-login-360", full_page=True)
    phone.context.close()


def coordinator_pages(browser: Browser, base_url: str, mail_dir: Path, seen: set[Path], tmp: Path) -> str:
    """The municipal coordinator's walk; returns the registration link of the invitation it sends."""
    page = open_page(browser, base_url)
    log_in(page, COORDINATOR)
    shot(page, "03-cabinet")
    page.get_by_role("link", name="Рассылка", exact=True).first.click()
    page.wait_for_url(re.compile(r"/admin/mailing$"))
    shot(page, "04-mailing")

    page.get_by_role("link", name="Пригласить", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/mailing/invite"))
    page.select_option("select[name=role]", "expert")
    page.fill("input[name=email]", INVITEE)
    shot(page, "05-invite-expert", full_page=True)
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_load_state()
    shot(page, "06-invite-sent")

    page.goto("/admin/mailing/invite")
    page.select_option("select[name=role]", "organization_coordinator")
    page.select_option("select[name=organization_id]", label="МАОУ СОШ № 32 г. Томска")
    page.fill("input[name=email]", "belova.svetlana@example.com")
    shot(page, "07-invite-organization-coordinator", full_page=True)

    csv_path = tmp / "приглашения.csv"
    csv_path.write_text(BULK_CSV, encoding="utf-8")
    page.goto("/admin/mailing/bulk")
    page.set_input_files("input[type=file]", str(csv_path))
    shot(page, "08-bulk-form", full_page=True)
    page.get_by_role("button", name="Проверить").click()
    page.wait_for_load_state()
    shot(page, "09-bulk-check", full_page=True)

    letter = letter_to(mail_dir, INVITEE, seen)
    show_letter(browser, base_url, letter, "10-letter")

    page.goto("/admin/invitation/list")
    page.get_by_role("row").filter(has_text="danilova.ekaterina@example.com").locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Действия").click()
    shot(page, "12-invitations")
    page.keyboard.press("Escape")

    open_application(page, NEW_APPLICATION)
    shot(page, "13-application-new", full_page=True)
    open_application(page, UNDER_REVIEW_APPLICATION)
    shot(page, "14-application-under-review", full_page=True)
    page.goto("/admin/application/list")
    shot(page, "15-applications", full_page=True)

    page.goto("/admin/profile")
    shot(page, "18-profile", full_page=True)
    page.context.close()
    return registration_link(letter)


def fill_registration(page: Page, path: str) -> None:
    page.goto(path)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.fill("input[name=password_confirm]", NEW_PASSWORD)
    for consent in page.locator("form input[type=checkbox]").all():  # the consent to personal data processing
        consent.check()


def registration_pages(browser: Browser, base_url: str, link: str) -> None:
    """The invitee's view: the registration page from the letter, at 360 px and 1280 px, and its result."""
    path = link[link.index("/Account/") :]
    phone = open_page(browser, base_url, PHONE)
    phone.goto(path)
    shot(phone, "11-register-360", full_page=True)
    phone.context.close()
    page = open_page(browser, base_url)
    fill_registration(page, path)
    shot(page, "11-register", full_page=True)
    page.get_by_role("button", name="Зарегистрироваться").click()
    page.wait_for_load_state()
    shot(page, "11-registered")
    page.context.close()


def operator_pages(browser: Browser, base_url: str, mail_dir: Path, seen: set[Path]) -> None:
    """The operator invites a municipal coordinator who chooses the municipality while registering."""
    page = open_page(browser, base_url)
    log_in(page, OPERATOR)
    page.goto("/admin/mailing/invite")
    page.select_option("select[name=role]", "municipal_coordinator")
    page.fill("input[name=email]", OPERATOR_INVITEE)
    shot(page, "19-invite-operator", full_page=True)
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_load_state()
    page.context.close()
    link = registration_link(letter_to(mail_dir, OPERATOR_INVITEE, seen))
    invitee = open_page(browser, base_url)
    fill_registration(invitee, link[link.index("/Account/") :])
    invitee.select_option("select[name=municipality_id]", label="Культура и искусство")
    shot(invitee, "20-register-municipality", full_page=True)
    invitee.context.close()


def main() -> None:
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="guide-screens-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp / 'guide.sqlite'}",
            "VAR_DIR": str(tmp),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "BASE_URL": base_url,
            "MAIL_BACKEND": "file",
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "BCRYPT_ROUNDS": "4",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("ADMIN_PASSWORD", None)
        cli(env, "migrate")
        cli(env, "demo")
        log = tmp / "serve.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [sys.executable, "-m", "admin_app", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=PROJECT_DIR,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(server, f"{base_url}/healthz", log)
            mail_dir = tmp / "mail"
            mail_dir.mkdir(exist_ok=True)
            seen = set(mail_dir.glob("*.eml"))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    public_pages(browser, base_url)
                    link = coordinator_pages(browser, base_url, mail_dir, seen, tmp)
                    registration_pages(browser, base_url, link)
                    operator_pages(browser, base_url, mail_dir, seen)
                finally:
                    browser.close()
        finally:
            stop(server)


if __name__ == "__main__":
    main()
