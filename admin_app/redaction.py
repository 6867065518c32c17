"""What must never reach the audit trail or a log: secrets by name, the keys in links, password hashes.

`scrub_fields` turns submitted values into a short Russian text («Роль: Эксперт; Активен: нет»)
without any field named like a secret. `redact` hides what looks like a secret inside free text:
the key of a registration, recovery or status link (`k=…`) and a bcrypt hash. `KeyRedactingFilter`
does the same to log records (the server's access log prints every path with its query).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

HIDDEN = "[скрыто]"
SECRET_NAME = re.compile(r"password|passwd|secret|token|key|hash|csrf", re.IGNORECASE)
SECRET_NAMES_EXACT = frozenset({"k", "pw", "pwd"})
LINK_KEY = re.compile(r"([?&;](?:amp;)?k=)[^&\s\"'<>;]+")
BCRYPT_HASH = re.compile(r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}")
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


def is_secret_name(name: str) -> bool:
    return name.lower() in SECRET_NAMES_EXACT or SECRET_NAME.search(name) is not None


def redact(text: str) -> str:
    """`text` with every link key and bcrypt hash replaced by «[скрыто]»."""
    return BCRYPT_HASH.sub(HIDDEN, LINK_KEY.sub(rf"\1{HIDDEN}", text))


def scrub_fields(fields: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> str:
    """«Метка: значение; …» of the fields not named like a secret, in their order; `labels` names them in Russian."""
    labels = labels or {}
    parts = [f"{labels.get(name, name)}: {_shown(value)}" for name, value in fields.items() if not is_secret_name(name)]
    return redact("; ".join(parts))


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, list | tuple | set):
        return ", ".join(_shown(item) for item in value) or "—"
    return str(value)


class KeyRedactingFilter(logging.Filter):
    """Rewrites a record's message and arguments through `redact`; it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def redact_logs(names: tuple[str, ...] = REDACTED_LOGGERS) -> None:
    """Put the filter on the loggers that print request URLs (once each, however often it is called)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, KeyRedactingFilter) for existing in logger.filters):
            logger.addFilter(KeyRedactingFilter())
