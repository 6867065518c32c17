"""The mail sender's rate: letters a second from the outbox into a real SMTP server on loopback.

    .venv/bin/python -m bench.mail_rate --database sqlite --letters 2000 --senders 1 3

Queues `--letters` invitation letters with the outbox's own `enqueue` (one transaction), starts an aiosmtpd
server on loopback that accepts everything (`bench.smtp_sink`, a process of its own), and lets `--senders`
concurrent senders (processes, as `serve` workers and `send-mail` are, each running the real `deliver_due`
over the SMTP transport) empty the queue. Prints a Markdown table: letters, senders, seconds, letters a
second, and whether every letter arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from admin_app.db import make_engine, make_session_factory
from admin_app.mail.letters import invitation_letter
from admin_app.mail.outbox import enqueue
from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import transport_for
from admin_app.schema import upgrade_to_head
from bench.server import free_port
from settings import Settings, load_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
FORK = multiprocessing.get_context("fork")
HEADER = "| База | Писем | Отправителей | Секунд | Писем/с | Каждое ровно один раз |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    print(HEADER)
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for senders in args.senders:
        print(measure(args.database, args.postgres_url, args.letters, senders))


def measure(database: str, postgres_url: str, letters: int, senders: int) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="attestation-mail-bench-"))
    database_url, drop = _database(database, postgres_url, workdir)
    received = workdir / "recipients.txt"
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_sink", "--port", str(port), "--output", str(received)], cwd=PROJECT_DIR
    )
    try:
        upgrade_to_head(database_url)
        env = {
            "DATABASE_URL": database_url,
            "VAR_DIR": str(workdir),
            "SECRET_KEY": "mail-bench-secret-key-0123456789-abcdefghijklmnop",
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
        }
        settings = load_settings(env)
        _queue(database_url, letters)
        _wait_for_port(port)
        started = time.perf_counter()
        processes = [FORK.Process(target=_send_all, args=(database_url, settings)) for _ in range(senders)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        seconds = time.perf_counter() - started
    finally:
        sink.terminate()
        sink.wait()
        recipients = Counter(received.read_text(encoding="utf-8").splitlines()) if received.exists() else Counter()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)
    exactly_once = len(recipients) == letters and set(recipients.values()) == {1}
    verdict = "да" if exactly_once else f"нет: дошло {sum(recipients.values())}"
    return f"| {database} | {letters} | {senders} | {seconds:.1f} | {letters / seconds:.0f} | {verdict} |"


def _queue(database_url: str, letters: int) -> None:
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        for number in range(letters):
            letter = invitation_letter(centre_name="ТОИПКРО", link=f"http://127.0.0.1:8000/r?k=bench{number}")
            enqueue(session, idempotency_key=f"bench:{number}", recipient=f"expert{number}@example.ru", letter=letter)
    engine.dispose()


def _send_all(database_url: str, settings: Settings) -> None:
    engine = make_engine(database_url)
    try:
        asyncio.run(deliver_due(make_session_factory(engine), transport_for(settings)))
    finally:
        engine.dispose()


def _database(database: str, postgres_url: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if database == "sqlite":
        return f"sqlite:///{workdir / 'mail-bench.sqlite3'}", lambda: None
    name = f"attestation_mail_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return str(make_url(postgres_url).set(database=name)), drop


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


if __name__ == "__main__":
    main()
