"""The database engine and sessions: one engine per process, tuned per backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler

NUL_MESSAGE = "В запросе есть недопустимый символ (NUL). Уберите его и попробуйте снова."


class NulCharacter(ValueError):
    """A statement's parameter holds a NUL character: PostgreSQL refuses it in text, so both backends do.

    Nobody types NUL into a browser; it arrives in crafted requests, in any search box or form field. Checked
    here, once, for every statement, rather than in each of SQLAdmin's forms and searches. The message is
    the user's: SQLAdmin's forms show it above the form as typed, elsewhere a 400 page (admin_app.errors)."""


def make_engine(database_url: str) -> Engine:
    """An engine for `database_url`; SQLite gets foreign keys, WAL, a busy timeout and savepoints
    that stay inside their transaction (`_sqlite_savepoint`); no backend gets a NUL (`NulCharacter`)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        engine.dialect.statement_compiler = _literal_paging(engine.dialect.statement_compiler)
    else:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _literal_paging(compiler: type[SQLCompiler]) -> type[SQLCompiler]:
    """The compiler with LIMIT and OFFSET written into the statement as numbers, not sent as parameters.

    psycopg prepares a statement run five times, and PostgreSQL then keeps one plan for it, but only when
    that plan does not depend on the parameters; with `LIMIT $1` it cannot tell a page of 50 rows from a
    whole table, so it plans every list page anew: 3 ms of the 5 ms a list's query with its joins took.
    With `LIMIT 50` in the text, a page size is a statement of its own and its plan is kept."""

    class LiteralPagingCompiler(compiler):  # type: ignore[valid-type, misc]
        def limit_clause(self, select: Any, **kw: Any) -> str:
            return super().limit_clause(select, **{**kw, "literal_execute": True})

    return LiteralPagingCompiler


def _refuse_nul(_conn: Connection, _cursor: object, _statement: str, parameters: Any, *_rest: object) -> None:
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else row or ()
        if any(isinstance(value, str) and "\x00" in value for value in values):
            raise NulCharacter(NUL_MESSAGE)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_savepoint(connection: Connection, _name: str) -> None:
    """Python's sqlite3 begins a transaction only before a data-changing statement. A SAVEPOINT
    issued before any such statement would open a transaction of its own, and its RELEASE would
    commit everything for real; so the transaction is begun first."""
    dbapi_connection = connection.connection.dbapi_connection
    if not dbapi_connection.in_transaction:  # type: ignore[union-attr]
        dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed at the end of the block, or rolled back."""
    with factory.begin() as session:
        yield session


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
