"""The command line as an operator runs it: `python -m admin_app …` in a separate process."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator

import pytest
from conftest import DatabaseFactory, Run
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from admin_app.db import make_engine, make_session_factory
from admin_app.passwords import verify_password
from models import Municipality, MunicipalityKind, Role, RoleCode, User

GOOD_PASSWORD = "синий-трамвай-2026"
ROLE_CODES = ("operator", "municipal_coordinator", "organization_coordinator", "expert")
COMMANDS = ("serve", "migrate", "load-reference", "create-user", "bootstrap")


@pytest.fixture
def empty_database(databases: DatabaseFactory) -> str:
    return databases.empty()


@pytest.fixture
def empty_session_factory(empty_database: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(empty_database)
    yield make_session_factory(engine)
    engine.dispose()


def create_user_args(**overrides: str) -> list[str]:
    options = {"--role": "operator", "--username": "ivan.petrov", "--email": "ivan.petrov@example.com", **overrides}
    return ["create-user", *(part for option, value in options.items() for part in (option, value))]


def user_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count(User.id))) or 0


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Ошибка: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_help_is_russian(cli: Run) -> None:
    result = cli("--help")

    assert result.returncode == 0
    assert "использование: python -m admin_app" in result.stdout
    assert "показать эту справку и выйти" in result.stdout
    for command in COMMANDS:
        assert command in result.stdout
    assert "usage:" not in result.stdout
    assert "show this help" not in result.stdout


def test_create_user_makes_an_operator_who_can_log_in(cli: Run, session_factory: sessionmaker[Session]) -> None:
    result = cli(*create_user_args(), env={"ADMIN_PASSWORD": GOOD_PASSWORD})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Пользователь «ivan.petrov» создан, роль: Оператор (сотрудник центра аттестации)."
    with session_factory() as session:
        user = session.scalar(select(User).where(User.username == "ivan.petrov"))
        assert user is not None
        assert user.role.code == RoleCode.OPERATOR
        assert user.email == "ivan.petrov@example.com"
        assert verify_password(GOOD_PASSWORD, user.password_hash)
        assert not verify_password("другой-пароль-2026", user.password_hash)


def test_create_user_accepts_a_long_cyrillic_password(cli: Run, session_factory: sessionmaker[Session]) -> None:
    # 100 Cyrillic letters are 200 bytes of UTF-8, far beyond bcrypt's 72.
    password = ("съешьжеещёэтихмягкихфранцузскихбулок" * 3)[:100]
    assert len(password) == 100

    result = cli(*create_user_args(), env={"ADMIN_PASSWORD": password})

    assert result.returncode == 0, result.stderr
    with session_factory() as session:
        stored_hash = session.scalar(select(User.password_hash).where(User.username == "ivan.petrov"))
    assert stored_hash is not None
    assert verify_password(password, stored_hash)
    # A password differing only in its last letter — past byte 72 — is a different password.
    assert not verify_password(password[:-1] + "я", stored_hash)


@pytest.mark.parametrize(
    ("overrides", "password", "expected"),
    [
        pytest.param({"--username": "OLESYA"}, GOOD_PASSWORD, ["Имя пользователя «OLESYA» уже занято"], id="taken"),
        *(
            pytest.param({"--username": login}, GOOD_PASSWORD, ["Недопустимое имя пользователя"], id=label)
            for login, label in [
                ("иван", "cyrillic"),
                ("1abc", "digit-first"),
                ("ab", "too-short"),
                ("iv an", "space"),
                ("іvan", "cyrillic-i"),
            ]
        ),
        pytest.param({"--role": "admin"}, GOOD_PASSWORD, ["Неизвестная роль «admin»", *ROLE_CODES], id="role"),
        pytest.param({"--email": "ivan.petrov@"}, GOOD_PASSWORD, ["Неверный адрес электронной почты"], id="email"),
        pytest.param({}, "короткий", ["Пароль слишком короткий"], id="short-password"),
        pytest.param({}, None, ["Пароль не задан", "ADMIN_PASSWORD"], id="no-password"),
    ],
)
def test_create_user_refuses_and_writes_nothing(
    cli: Run,
    make_user: Callable[..., User],
    session_factory: sessionmaker[Session],
    overrides: dict[str, str],
    password: str | None,
    expected: list[str],
) -> None:
    make_user("olesya")
    before = user_count(session_factory)

    result = cli(*create_user_args(**overrides), env={"ADMIN_PASSWORD": password} if password else None)

    assert_one_line_error(result, *expected)
    assert result.stdout == ""
    assert user_count(session_factory) == before


def test_migrate_creates_the_schema_with_the_four_roles(
    cli: Run, empty_database: str, empty_session_factory: sessionmaker[Session]
) -> None:
    result = cli("migrate", env={"DATABASE_URL": empty_database})

    assert result.returncode == 0, result.stderr
    assert "База данных обновлена до последней версии схемы." in result.stdout
    with empty_session_factory() as session:
        assert sorted(session.scalars(select(Role.code))) == sorted(ROLE_CODES)
        assert session.scalar(select(func.count(User.id))) == 0


def test_load_reference_twice_adds_the_22_municipalities_once(
    cli: Run, empty_database: str, empty_session_factory: sessionmaker[Session]
) -> None:
    env = {"DATABASE_URL": empty_database}
    assert cli("migrate", env=env).returncode == 0

    first = cli("load-reference", env=env)
    second = cli("load-reference", env=env)

    assert first.returncode == 0, first.stderr
    assert "добавлено записей — 22." in first.stdout
    assert second.returncode == 0, second.stderr
    assert "добавлено записей — 0." in second.stdout
    with empty_session_factory() as session:
        kinds = dict(session.execute(select(Municipality.name, Municipality.kind)).all())
    assert len(kinds) == 22
    assert kinds["ЗАТО Северск"] == MunicipalityKind.URBAN_OKRUG
    assert kinds["Культура и искусство"] == MunicipalityKind.DEPARTMENTAL
    assert kinds["Физическая культура и спорт"] == MunicipalityKind.DEPARTMENTAL
    assert list(kinds.values()).count(MunicipalityKind.URBAN_OKRUG) == 4
    assert list(kinds.values()).count(MunicipalityKind.MUNICIPAL_DISTRICT) == 16


def test_bootstrap_creates_one_operator_and_shows_the_password_once(
    cli: Run, empty_database: str, empty_session_factory: sessionmaker[Session]
) -> None:
    env = {"DATABASE_URL": empty_database}

    first = cli("bootstrap", env=env)

    assert first.returncode == 0, first.stderr
    assert "имя пользователя: operator" in first.stdout
    shown = re.search(r"пароль:\s+(\S+)", first.stdout)
    assert shown, first.stdout
    with empty_session_factory() as session:
        operator = session.scalar(select(User).where(User.username == "operator"))
        assert operator is not None
        assert operator.role.code == RoleCode.OPERATOR
        assert verify_password(shown.group(1), operator.password_hash)
        assert session.scalar(select(func.count(Municipality.id))) == 22

    second = cli("bootstrap", env=env)

    assert second.returncode == 0, second.stderr
    assert "Оператор уже есть" in second.stdout
    assert "пароль:" not in second.stdout
    with empty_session_factory() as session:
        operators = session.scalar(select(func.count(User.id)).join(Role).where(Role.code == RoleCode.OPERATOR))
    assert operators == 1
