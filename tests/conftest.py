"""Fixtures: a migrated database per test (SQLite, or PostgreSQL when TEST_DATABASE_URL
is set), settings pointing at it, the application and an HTTP client."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_app.accounts import create_user
from admin_app.app import create_app
from admin_app.db import make_engine, make_session_factory
from admin_app.passwords import hash_password
from admin_app.reference import load_reference
from admin_app.schema import upgrade_to_head
from models import User
from settings import PROJECT_DIR, Settings, load_settings

pytest_plugins = ("tests.smtp_server", "live_server")  # fixtures: smtp_server; chromium, browser

BASE_URL = "http://127.0.0.1:8000"
TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "верныйпароль-2026"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")


def _pg_admin_engine():
    return create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


class DatabaseFactory:
    """Empty or migrated databases for tests; PostgreSQL ones are cloned from a migrated template."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.created: list[str] = []
        self._template: str | None = None

    def empty(self) -> str:
        name = f"attestation_test_{uuid.uuid4().hex[:12]}"
        if not POSTGRES_URL:
            return f"sqlite:///{self.workdir / (name + '.sqlite3')}"
        self._sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return str(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name))

    def migrated(self) -> str:
        if self._template is None:
            self._template = self.empty()
            upgrade_to_head(self._template)
            engine = make_engine(self._template)
            with make_session_factory(engine).begin() as session:
                load_reference(session)
            engine.dispose()
        if not POSTGRES_URL:
            copy = self.empty()
            shutil.copy(make_url(self._template).database, make_url(copy).database)
            return copy
        name = f"attestation_test_{uuid.uuid4().hex[:12]}"
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(self._template).database}"')
        self.created.append(name)
        return str(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name))

    def drop_all(self) -> None:
        if POSTGRES_URL:
            for name in reversed(self.created):
                self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    def _sql(statement: str) -> None:
        engine = _pg_admin_engine()
        with engine.connect() as connection:
            connection.execute(text(statement))
        engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture
def database_url(databases: DatabaseFactory) -> str:
    return databases.migrated()


def env_for(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": TEST_SECRET_KEY,
        "BASE_URL": BASE_URL,
        "BCRYPT_ROUNDS": "4",
        **extra,
    }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(env_for(database_url, tmp_path / "var"))


@pytest.fixture
def session_factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def operator_client(client: TestClient, make_user: Callable[..., User]) -> TestClient:
    """The client, logged in as the operator «olesya»."""
    make_user("olesya")
    log_in(client, "olesya")
    return client


@pytest.fixture
def make_user(session_factory: sessionmaker[Session]) -> Callable[..., User]:
    def make(username: str = "olesya", role: str = "operator", password: str = PASSWORD, **fields: object) -> User:
        with session_factory.begin() as session:
            return create_user(
                session,
                role_code=role,
                username=username,
                email=str(fields.pop("email", f"{username}@example.com")),
                password_hash=hash_password(password, 4),
                **fields,  # type: ignore[arg-type]
            )

    return make


CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "the page has no csrf_token input"
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD, **extra: str):
    token = csrf_from(client.get("/admin/login").text)
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def log_out(client: TestClient):
    token = csrf_from(client.get("/admin/").text)
    return client.post("/admin/logout", data={"csrf_token": token})


# Variables of the developer's shell that must not leak into a command under test.
CLEARED = ("ADMIN_PASSWORD", "DEMO_PASSWORD", "BASE_URL", "MAIL_BACKEND", "SMTP_PORT", "SMTP_STARTTLS")

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Run:
    """Run `python -m admin_app *args` against the test database; `env` adds or overrides variables."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {key: value for key, value in os.environ.items() if key not in CLEARED}
        full_env.update(
            {
                "VAR_DIR": str(tmp_path / "var"),
                "DATABASE_URL": database_url,
                "SECRET_KEY": TEST_SECRET_KEY,
                "BCRYPT_ROUNDS": "4",
                **(env or {}),
            }
        )
        return subprocess.run(
            [sys.executable, "-m", "admin_app", *args],
            cwd=PROJECT_DIR,
            env=full_env,
            stdin=subprocess.DEVNULL,  # not a tty: the password is never prompted for
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
