"""The benchmark still runs end to end: `bench/run.py` at a hundredth of its size, one second per load,
on the database the suite runs on. Its figures are not checked here (they are docs/performance.md's,
from full-size runs); what is checked is that every page and POST it loads answered without an error,
so that a change to a form or a page cannot quietly break the benchmark.

With REQUIRE_WRK=1 (set by .ci/run) a missing wrk fails the test instead of skipping it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL
from tests.required_tools import missing_tool

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def wrk() -> None:
    if shutil.which("wrk") is None:
        missing_tool("нет wrk (apt-get install wrk)", "REQUIRE_WRK")


def benchmark_database() -> list[str]:
    if not POSTGRES_URL:
        return ["--database", "sqlite"]
    server = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database="postgres")
    return ["--database", "postgresql", "--postgres-url", server.render_as_string(hide_password=False)]


def test_the_benchmark_loads_every_page_and_post_without_an_error(wrk: None, tmp_path: Path) -> None:
    report = tmp_path / "performance.md"
    command = [sys.executable, "-m", "bench.run", *benchmark_database(), "--scale", "0.01", "--seconds", "1"]
    command += ["--warmup", "0", "--bcrypt-rounds", "4", "--output", str(report)]

    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert finished.returncode == 0, finished.stderr[-4000:]
    rows = [line.strip("| ").split(" | ") for line in report.read_text(encoding="utf-8").splitlines()]
    measured = {row[0]: row[-1] for row in rows if len(row) == 7 and row[0] not in ("Что", "---")}
    assert "POST регистрации" in measured, report.read_text(encoding="utf-8")
    assert "Главная кабинета (муниц. координатор)" in measured
    assert {name: errors for name, errors in measured.items() if errors != "0"} == {}
