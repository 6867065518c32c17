"""The load benchmark: fill a database, start the real server, measure it with wrk on loopback.

    .venv/bin/python -m bench.run --database postgresql --scale 1.0 --seconds 10

Prints Markdown tables (and writes them to --output): requests per second, p50 and p99 latency and the
server's peak RSS for each page, each page's throughput as a share of the bare Starlette+Jinja2 ceiling,
the registration POST against one bcrypt hash, and /healthz p99 beside 20 concurrent registrations.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import wrk
from bench.client import Browser
from bench.fill import COORDINATOR, OPERATOR, PASSWORD, create_and_fill
from bench.registration import KeyPool, measure
from bench.server import PeakMemory, Server

SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PAGES = (
    ("Приглашения и регистрации", "/admin/invitation/list?pageSize=50"),
    ("Пользователи", "/admin/user/list?pageSize=50"),
    ("Заявления", "/admin/application/list?pageSize=50"),
    ("Главная кабинета", "/admin/"),
)
HEADER = "| Что | Запросов/с | p50, мс | p99, мс | Доля потолка | RSS сервера, МиБ | Ошибок |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--scale", type=float, default=1.0, help="share of a region times ten (1.0 = 100 000 users)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each measurement")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the database and the working directory afterwards")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="attestation-bench-"))
    database_url, drop = _database(args, workdir)
    lines: list[str] = []
    try:
        started = time.perf_counter()
        filled = create_and_fill(database_url, args.scale, args.bcrypt_rounds)
        fill_seconds = time.perf_counter() - started
        lines += [
            f"## {args.database}, масштаб {args.scale:g}",
            "",
            f"Наполнение: {fill_seconds:.0f} с; "
            + ", ".join(f"{k} {v:,}".replace(",", " ") for k, v in filled.counts.items()),
            "",
        ]
        env = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "BCRYPT_ROUNDS": str(args.bcrypt_rounds),
            "MAIL_BACKEND": "file",
        }
        ceiling = _ceiling(args, env, workdir, lines)
        pool = KeyPool(filled.registration_keys, SECRET_KEY)
        for workers in args.workers:
            _measure_server(args, env, workdir, workers, ceiling, filled.coordinator_municipality_id, pool, lines)
    finally:
        report = "\n".join(lines) + "\n"
        print(report)
        if args.output:
            args.output.write_text(report, encoding="utf-8")
        if not args.keep:
            if drop:
                drop()
            shutil.rmtree(workdir, ignore_errors=True)


def _database(args: argparse.Namespace, workdir: Path) -> tuple[str, object]:
    if args.database == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}", None
    admin_url = make_url(args.postgres_url).set(drivername="postgresql+psycopg")
    name = f"attestation_bench_{uuid.uuid4().hex[:8]}"

    def sql(statement: str) -> None:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(statement))
        engine.dispose()

    sql(f'CREATE DATABASE "{name}"')
    return str(admin_url.set(database=name).render_as_string(hide_password=False)), lambda: sql(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


def _load(
    args: argparse.Namespace, url: str, memory_of: Server, *, warm: bool = True, **options: object
) -> tuple[wrk.Result, float]:
    """One measurement, after a warm-up unless `warm` is false (POSTs: each request must be new)."""
    if args.warmup and warm:
        wrk.run(url, seconds=args.warmup, connections=args.clients, **options)  # type: ignore[arg-type]
    with PeakMemory(memory_of) as memory:
        result = wrk.run(url, seconds=args.seconds, connections=args.clients, **options)  # type: ignore[arg-type]
    return result, memory.peak


def _row(name: str, result: wrk.Result, rss: float, ceiling: float | None) -> str:
    share = f"{result.rps / ceiling:.1%}".replace(".", ",") if ceiling else "—"
    return (
        f"| {name} | {result.rps:.1f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} | {share} | {rss:.0f} | "
        f"{result.errors} |"
    )


def _ceiling(args: argparse.Namespace, env: dict[str, str], workdir: Path, lines: list[str]) -> float:
    with Server(["-m", "bench.ceiling"], env, workdir / "ceiling.log") as server:
        result, rss = _load(args, server.base_url + "/ceiling", server)
    lines += [
        f"Потолок стека (Starlette + Jinja2, 50 строк из памяти, 1 процесс, {args.clients} клиентов):",
        "",
        HEADER,
        "|---|---:|---:|---:|---:|---:|---:|",
        _row("Потолок: 50 строк из памяти", result, rss, None),
        "",
    ]
    return result.rps


def _measure_server(
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    workers: int,
    ceiling: float,
    municipality_id: int,
    pool: KeyPool,
    lines: list[str],
) -> None:
    serve = ["-m", "admin_app", "serve"] + (["--workers", str(workers)] if workers > 1 else [])
    server_env = {**env, "VAR_DIR": str(workdir / f"var-{workers}")}
    with Server(serve, server_env, workdir / f"serve-{workers}.log") as server:
        lines += [
            f"### `serve`, процессов: {workers}, клиентов: {args.clients}, {args.seconds} с на замер",
            "",
            HEADER,
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for role, username in (("оператор", OPERATOR), ("муниц. координатор", COORDINATOR)):
            browser = Browser(server.base_url, username, PASSWORD)
            for name, path in PAGES:
                browser.get(path)  # logged in and allowed: a redirect to the login page would fail here
                result, rss = _load(args, server.base_url + path, server, headers={"Cookie": browser.cookie})
                browser.get(path)  # and still logged in afterwards
                lines.append(_row(f"{name} ({role})", result, rss, ceiling))
            if username == OPERATOR:
                token = browser.form_token("/admin/mailing/invite")
                result, rss = _load(
                    args,
                    server.base_url + "/admin/mailing/invite",
                    server,
                    warm=False,
                    headers={"Cookie": browser.cookie},
                    script="invite.lua",
                    script_args=(token, str(municipality_id), f"{workers}-{uuid.uuid4().hex[:6]}"),
                )
                lines.append(_row("POST приглашения (оператор)", result, rss, ceiling))
            browser.close()
        # Measured before the wrk run, which may use up its keys: failing keys are throttled per address.
        figures = measure(server.base_url, pool, args.bcrypt_rounds)
        keys_file = workdir / f"keys-{workers}.txt"
        password = quote(PASSWORD)
        budget = min(len(pool.keys) - pool.taken, 1500)
        keys_file.write_text("".join(f"{k} {t} {u}\n" for k, t, u in pool.take(budget)), encoding="utf-8")
        result, rss = _load(
            args,
            server.base_url + "/Account/RegisterByInvite",
            server,
            warm=False,
            script="register.lua",
            script_args=(str(keys_file), str(min(wrk.THREADS, args.clients)), password),
        )
        lines += [_row("POST регистрации", result, rss, ceiling), ""]
        lines += [
            f"Регистрация, BCRYPT_ROUNDS={args.bcrypt_rounds}: один хеш bcrypt — {figures.bcrypt_ms:.0f} мс; "
            f"один POST регистрации (по одному, медиана 10) — {figures.post_ms:.0f} мс.",
            "",
            f"/healthz, запросы подряд: в покое p99 {figures.healthz_idle_p99_ms:.1f} мс; во время 20 одновременных "
            f"регистраций ({figures.concurrent_seconds:.1f} с, {figures.healthz_busy_samples} запросов) "
            f"p50 {figures.healthz_busy_p50_ms:.1f} мс, p99 {figures.healthz_busy_p99_ms:.1f} мс.",
            "",
        ]


if __name__ == "__main__":
    main()
