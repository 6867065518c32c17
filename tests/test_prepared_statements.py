"""On PostgreSQL a list page viewed again is not planned again.

psycopg prepares a statement once it has run five times on a connection, and PostgreSQL then keeps one
plan for it. Two things undo that and are checked here: a read ended by ROLLBACK (psycopg then forgets
every prepared statement; views.base ends SQLAdmin's reads with COMMIT) and a LIMIT sent as a parameter
(PostgreSQL then plans each page anew; admin_app.db writes LIMIT and OFFSET into the statement).
How much time this saves is measured by bench/ (docs/performance.md), not here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="prepared statements and kept plans are PostgreSQL's")

VIEWS = 8


def kept_plans(app: Starlette) -> dict[str, int]:
    """Each prepared statement of the pool's idle connections, with the number of times its kept plan served."""
    engine = app.state.engine
    connections = [engine.connect() for _ in range(engine.pool.checkedin())]
    try:
        plans: dict[str, int] = {}
        for connection in connections:
            rows = connection.execute(text("SELECT statement, generic_plans FROM pg_prepared_statements"))
            for statement, generic_plans in rows:
                plans[statement] = plans.get(statement, 0) + generic_plans
        return plans
    finally:
        for connection in connections:
            connection.close()


def test_the_invitations_list_viewed_again_runs_on_kept_plans(operator_client: TestClient, app: Starlette) -> None:
    for _ in range(VIEWS):
        assert operator_client.get("/admin/invitation/list").status_code == 200

    plans = kept_plans(app)

    page = [n for sql, n in plans.items() if "FROM invitations" in sql and "LIMIT 25 OFFSET 0" in sql]
    count = [n for sql, n in plans.items() if sql.startswith("SELECT count(*)") and "FROM invitations" in sql]
    assert page and page[0] > 0, plans
    assert count and count[0] > 0, plans
