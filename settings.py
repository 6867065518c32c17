"""Every setting of «Аттестация», read once from the environment and checked at start-up.

`load_settings()` returns one frozen `Settings` or raises `SettingsError` whose
message is a single Russian line naming the variable and what is wrong with it.
The defaults make a safe local run: SQLite and mail files under `var/`, a secret
key generated once and kept in `var/secret_key`. With an https BASE_URL the key
must come from the environment and be strong.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_DIR = Path(__file__).resolve().parent
MIN_SECRET_KEY_LENGTH = 32
MAIL_BACKENDS = ("smtp", "file")
HELP_PHONES_DEFAULT = "8 (3822) 90-20-57, 90-20-58"  # the centre's telephones in the original system's instruction
HELP_TEXT_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254
CONTROL_CATEGORIES = ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp")  # line breaks, tabs, invisible characters
EMAIL_ADDRESS = re.compile(r"[\w.%+-]+@[\w-]+(\.[\w-]+)+")  # letters of any alphabet: «почта@школа.рф»


class SettingsError(ValueError):
    """A setting is malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    base_url: str
    centre_name: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_starttls: bool
    mail_from: str
    mail_backend: str
    mail_dir: Path
    var_dir: Path
    documents_dir: Path
    bcrypt_rounds: int
    invitation_ttl_days: int
    invitation_reminder_days: int
    password_reset_minutes: int
    bulk_max_rows: int
    bulk_max_kb: int
    application_deadline_days: int
    document_max_mb: int
    session_hours: int
    session_idle_minutes: int
    trusted_proxies: tuple[str, ...]
    remember_days: int
    help_phones: str
    help_email: str

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _text(env, name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: ожидается целое число, получено «{raw}»") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: ожидается число от {low} до {high}, получено {value}")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name, "1" if default else "0").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: ожидается 1/0, true/false или yes/no, получено «{raw}»")


def _base_url(env: Mapping[str, str]) -> str:
    raw = _text(env, "BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"BASE_URL: ожидается адрес вида https://имя-сервера, получено «{raw}»")
    if parts.query or parts.fragment:
        raise SettingsError(f"BASE_URL: адрес не должен содержать ? или #, получено «{raw}»")
    return raw


def _database_url(env: Mapping[str, str], var_dir: Path) -> str:
    raw = _text(env, "DATABASE_URL", f"sqlite:///{var_dir / 'attestation.sqlite3'}")
    if not raw.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
        raise SettingsError(
            f"DATABASE_URL: поддерживаются sqlite:/// и postgresql://, получено «{raw.split(':')[0]}:…»"
        )
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw.removeprefix("postgresql://")
    return raw


def _secret_key(env: Mapping[str, str], var_dir: Path, https: bool) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key:
        if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 10:
            raise SettingsError(
                f"SECRET_KEY: слишком слабый ключ (нужно не меньше {MIN_SECRET_KEY_LENGTH} "
                "случайных символов, например из python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return key
    if https:
        raise SettingsError("SECRET_KEY: при BASE_URL на https ключ обязателен и задаётся в окружении")
    return _local_secret_key(var_dir)


def _local_secret_key(var_dir: Path) -> str:
    """The key of a local run: generated on first start, then read from var/."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """TRUSTED_PROXIES: the addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed."""
    raw = _text(env, "TRUSTED_PROXIES", "")
    networks = tuple(part.strip() for part in raw.split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(
                f"TRUSTED_PROXIES: «{network}» — не адрес и не сеть (ожидается, например, 127.0.0.1 или 10.0.0.0/8)"
            ) from None
    return networks


def _documents_dir(env: Mapping[str, str], var_dir: Path) -> Path:
    """DOCUMENTS_DIR: where uploaded documents are kept; shared storage when several servers run the system."""
    path = Path(_text(env, "DOCUMENTS_DIR", str(var_dir / "documents"))).resolve()
    if path.exists() and not path.is_dir():
        raise SettingsError(f"DOCUMENTS_DIR: «{path}» — файл, а не каталог")
    return path


def _help_phones(env: Mapping[str, str]) -> str:
    """HELP_PHONES: the telephones the landing page gives for help, as one line of text."""
    return _one_line(env, "HELP_PHONES", HELP_PHONES_DEFAULT, HELP_TEXT_MAX_LENGTH)


def _help_email(env: Mapping[str, str]) -> str:
    """HELP_EMAIL: the address the landing page gives for help; empty — none is shown."""
    value = _one_line(env, "HELP_EMAIL", "", EMAIL_MAX_LENGTH)
    if value and not EMAIL_ADDRESS.fullmatch(value):
        raise SettingsError(f"HELP_EMAIL: ожидается адрес электронной почты вида help@example.ru, получено «{value}»")
    return value


def _one_line(env: Mapping[str, str], name: str, default: str, max_length: int) -> str:
    """A text shown to users as is: one line of at most `max_length` characters."""
    value = _text(env, name, default)
    if len(value) > max_length:
        raise SettingsError(f"{name}: не длиннее {max_length} символов, получено {len(value)}")
    if any(unicodedata.category(character) in CONTROL_CATEGORIES for character in value):
        raise SettingsError(f"{name}: ожидается одна строка без управляющих символов (перевода строки, табуляции)")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _text(env, name, default)
    if value not in allowed:
        raise SettingsError(f"{name}: допустимо {' или '.join(allowed)}, получено «{value}»")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise SettingsError naming the first bad one."""
    env = os.environ if env is None else env
    var_dir = Path(_text(env, "VAR_DIR", str(PROJECT_DIR / "var"))).resolve()
    base_url = _base_url(env)
    https = base_url.startswith("https://")
    return Settings(
        database_url=_database_url(env, var_dir),
        secret_key=_secret_key(env, var_dir, https),
        base_url=base_url,
        centre_name=_text(env, "CENTRE_NAME", "ТОИПКРО"),
        smtp_host=_text(env, "SMTP_HOST", "127.0.0.1"),
        smtp_port=_integer(env, "SMTP_PORT", 25, 1, 65535),
        smtp_user=_text(env, "SMTP_USER", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_starttls=_boolean(env, "SMTP_STARTTLS", False),
        mail_from=_text(env, "MAIL_FROM", "attestation@localhost"),
        mail_backend=_choice(env, "MAIL_BACKEND", "file", MAIL_BACKENDS),
        mail_dir=var_dir / "mail",
        var_dir=var_dir,
        documents_dir=_documents_dir(env, var_dir),
        bcrypt_rounds=_integer(env, "BCRYPT_ROUNDS", 12, 4, 16),
        invitation_ttl_days=_integer(env, "INVITATION_TTL_DAYS", 14, 1, 90),
        invitation_reminder_days=_integer(env, "INVITATION_REMINDER_DAYS", 3, 0, 30),
        password_reset_minutes=_integer(env, "PASSWORD_RESET_MINUTES", 60, 5, 1440),
        bulk_max_rows=_integer(env, "BULK_MAX_ROWS", 1000, 1, 5000),
        bulk_max_kb=_integer(env, "BULK_MAX_KB", 1024, 16, 10240),
        application_deadline_days=_integer(env, "APPLICATION_DEADLINE_DAYS", 60, 1, 365),
        document_max_mb=_integer(env, "DOCUMENT_MAX_MB", 20, 1, 200),
        session_hours=_integer(env, "SESSION_HOURS", 12, 1, 24),
        session_idle_minutes=_integer(env, "SESSION_IDLE_MINUTES", 30, 5, 240),
        trusted_proxies=_trusted_proxies(env),
        remember_days=_integer(env, "REMEMBER_DAYS", 14, 1, 14),
        help_phones=_help_phones(env),
        help_email=_help_email(env),
    )
