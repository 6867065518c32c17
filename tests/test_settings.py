"""Settings: safe local defaults, a strong key under https, and one Russian line for every bad value."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from settings import PROJECT_DIR, SettingsError, load_settings

STRONG_KEY = "Zq8rT2vLx9Wm4Kp7Ns1Bc6Hd3Fg5Jy0Ua_e-iOoPlMnBvCxZaSdFgHjKl"


def test_defaults_make_a_safe_local_run(tmp_path: Path) -> None:
    settings = load_settings({"VAR_DIR": str(tmp_path)})

    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'attestation.sqlite3'}"
    assert settings.mail_backend == "file"
    assert settings.mail_dir == tmp_path.resolve() / "mail"
    assert settings.documents_dir == tmp_path.resolve() / "documents"
    assert settings.bcrypt_rounds == 12
    assert settings.invitation_ttl_days == 14
    assert settings.help_phones == "8 (3822) 90-20-57, 90-20-58"
    assert settings.help_email == ""
    assert not settings.is_https


def test_local_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"VAR_DIR": str(tmp_path)})
    key_file = tmp_path / "secret_key"

    assert key_file.read_text().strip() == first.secret_key
    assert len(first.secret_key) >= 32
    assert load_settings({"VAR_DIR": str(tmp_path)}).secret_key == first.secret_key


def test_https_requires_a_secret_key_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings({"VAR_DIR": str(tmp_path), "BASE_URL": "https://attestation.example.ru"})

    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("weak_key", ["short-key", "a" * 64], ids=["short", "repetitive"])
def test_https_refuses_a_weak_secret_key(tmp_path: Path, weak_key: str) -> None:
    env = {"VAR_DIR": str(tmp_path), "BASE_URL": "https://attestation.example.ru", "SECRET_KEY": weak_key}

    with pytest.raises(SettingsError, match="SECRET_KEY: слишком слабый ключ"):
        load_settings(env)


def test_https_accepts_a_strong_secret_key(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path), "BASE_URL": "https://attestation.example.ru/", "SECRET_KEY": STRONG_KEY}

    settings = load_settings(env)

    assert settings.secret_key == STRONG_KEY
    assert settings.base_url == "https://attestation.example.ru"
    assert settings.is_https


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("SMTP_PORT", "abc", "«abc»"),
        ("SMTP_PORT", "70000", "70000"),
        ("BASE_URL", "ftp://x", "«ftp://x»"),
        ("MAIL_BACKEND", "pigeon", "«pigeon»"),
        ("SMTP_STARTTLS", "maybe", "«maybe»"),
        # Only the scheme of a database URL is echoed: the rest may hold a password.
        ("DATABASE_URL", "mysql://user:secret@x/db", "«mysql:…»"),
        ("HELP_PHONES", "8 (3822) 90-20-57" * 12, "не длиннее 200 символов, получено 204"),
        ("HELP_PHONES", "8 (3822) 90-20-57\n8 (3822) 90-20-58", "одна строка без управляющих символов"),
        ("HELP_EMAIL", "help at example.ru", "«help at example.ru»"),
        ("HELP_EMAIL", "help@example.ru?subject=Вопрос", "«help@example.ru?subject=Вопрос»"),
        ("HELP_EMAIL", "h" * 250 + "@example.ru", "не длиннее 254 символов, получено 261"),
    ],
    ids=[
        "port-not-a-number",
        "port-too-big",
        "ftp-base-url",
        "mail-backend",
        "starttls",
        "mysql",
        "help-phones-too-long",
        "help-phones-two-lines",
        "help-email-not-an-address",
        "help-email-with-a-query",
        "help-email-too-long",
    ],
)
def test_malformed_value_is_one_russian_line_naming_it(tmp_path: Path, name: str, value: str, shown: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"VAR_DIR": str(tmp_path), name: value})

    message = str(raised.value)
    assert message.startswith(f"{name}: ")
    assert shown in message
    assert "secret" not in message
    assert "\n" not in message
    assert re.search("[а-яё]{4}", message), message


def test_help_contacts_are_taken_as_written(tmp_path: Path) -> None:
    phones = " 8\u00a0(3822) 90-20-57 (приёмная) "  # a no-break space, as copied from a web page
    env = {"VAR_DIR": str(tmp_path), "HELP_PHONES": phones, "HELP_EMAIL": "аттестация@тоипкро.рф"}

    settings = load_settings(env)

    assert settings.help_phones == "8\u00a0(3822) 90-20-57 (приёмная)"
    assert settings.help_email == "аттестация@тоипкро.рф"


def test_documents_dir_may_be_shared_storage_but_not_a_file(tmp_path: Path) -> None:
    shared = tmp_path / "nfs" / "documents"
    assert load_settings({"VAR_DIR": str(tmp_path), "DOCUMENTS_DIR": str(shared)}).documents_dir == shared.resolve()

    a_file = tmp_path / "documents.txt"
    a_file.write_text("")
    with pytest.raises(SettingsError, match=f"^DOCUMENTS_DIR: «{re.escape(str(a_file))}» — файл, а не каталог$"):
        load_settings({"VAR_DIR": str(tmp_path), "DOCUMENTS_DIR": str(a_file)})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db/attestation", "postgresql+psycopg://u:p@db/attestation"),
        ("postgresql+psycopg://u:p@db/attestation", "postgresql+psycopg://u:p@db/attestation"),
    ],
    ids=["plain", "already-psycopg"],
)
def test_postgresql_url_uses_psycopg(tmp_path: Path, given: str, expected: str) -> None:
    assert load_settings({"VAR_DIR": str(tmp_path), "DATABASE_URL": given}).database_url == expected


def test_cli_reports_a_bad_setting_in_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "BASE_URL", "SECRET_KEY")}
    env.update({"VAR_DIR": str(tmp_path), "SMTP_PORT": "abc"})

    result = subprocess.run(
        [sys.executable, "-m", "admin_app", "migrate"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Ошибка настройки: SMTP_PORT")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
