"""A local SMTP server for the mail benchmark, in a process of its own: it accepts every letter and writes
each recipient on a line of `--output`.

    python -m bench.smtp_sink --port 2525 --output recipients.txt

Its own process, like a real mail server beside the application: in the sender's process it would take the
sender's turns at the interpreter lock and halve the rate measured.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import TextIO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Recorder:
    """Writes the recipients of each letter that arrives, one a line, flushed at once."""

    def __init__(self, output: TextIO) -> None:
        self.output = output

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        self.output.write("".join(f"{recipient}\n" for recipient in envelope.rcpt_tos))
        self.output.flush()
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with args.output.open("a", encoding="utf-8") as output:
        controller = Controller(Recorder(output), hostname="127.0.0.1", port=args.port)
        controller.start()
        try:
            stop.wait()
        finally:
            controller.stop()


if __name__ == "__main__":
    main()
