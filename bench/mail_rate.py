"""The mail sender's rate: letters a second from the outbox into a real SMTP server on loopback.

    .venv/bin/python -m bench.mail_rate --database sqlite --letters 2000 --senders 1 3

Queues `--letters` invitation letters with the outbox's own `enqueue` (one transaction), starts an aiosmtpd
server on loopback that accepts everything, and lets `--senders` concurrent senders (threads, each with its
own engine, each running the real `deliver_due` over the SMTP transport) empty the queue. Prints a Markdown
table: letters, senders, seconds, letters a second, and whether every letter arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from admin_app.db import make_engine, make_session_factory
from admin_app.mail.letters import invitation_letter
from admin_app.mail.outbox import enqueue
from admin_app.mail.sender import deliver_due
from admin_app.mail.transports import transport_for
from admin_app.schema import upgrade_to_head
from settings import Settings, load_settings

HEADER = "| База | Писем | Отправителей | Секунд | Писем/с | Каждое ровно один раз |"


@dataclass
class Inbox:
    """The SMTP server's handler: counts each recipient that arrived."""

    recipients: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.recipients.update(envelope.rcpt_tos)
        return "250 OK"


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
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
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
        started = time.perf_counter()
        threads = [threading.Thread(target=_send_all, args=(database_url, settings)) for _ in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        controller.stop()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)
    exactly_once = len(inbox.recipients) == letters and set(inbox.recipients.values()) == {1}
    verdict = "да" if exactly_once else f"нет: дошло {sum(inbox.recipients.values())}"
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
