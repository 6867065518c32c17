"""The schema comes from Alembic alone, and the migrations match models.py."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from admin_app.db import make_engine, make_session_factory
from admin_app.schema import alembic_config, is_at_head, upgrade_to_head
from models import Base, Role, RoleCode


def test_empty_database_upgrades_to_head_without_drift(databases) -> None:
    url = databases.empty()
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        assert is_at_head(engine, url)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        with make_session_factory(engine)() as session:
            assert set(session.scalars(select(Role.code))) == {code.value for code in RoleCode}
    finally:
        engine.dispose()


def test_migrated_database_refuses_a_login_differing_only_in_case(databases) -> None:
    url = databases.empty()
    upgrade_to_head(url)
    engine = make_engine(url)
    insert = text(
        "INSERT INTO users (username, email, full_name, password_hash, role_id, is_active, created_at)"
        " VALUES (:name, 'a@example.com', '', 'x', 1, true, CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as connection:
            connection.execute(insert, {"name": "ivan"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"name": "Ivan"})
    finally:
        engine.dispose()


def test_downgrade_to_nothing_and_back(databases) -> None:
    url = databases.empty()
    upgrade_to_head(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade_to_head(url)
