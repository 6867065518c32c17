"""The engine's transactions behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Municipality, MunicipalityKind


def _count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Municipality))


def test_a_released_savepoint_is_undone_with_its_transaction(session_factory: sessionmaker[Session]) -> None:
    """A savepoint opened before anything was written (as the bulk preview does) stays inside the
    transaction: on SQLite its release used to commit on its own."""
    before = _count(session_factory)
    with session_factory() as session:
        session.scalar(select(func.count()).select_from(Municipality))
        with session.begin_nested():
            session.add(Municipality(name="Проба сохранения", kind=MunicipalityKind.DEPARTMENTAL))
        session.rollback()
    assert _count(session_factory) == before
