"""Only requests addressed to BASE_URL's host are answered; any other Host gets 400.

Threat model. Links in letters come from BASE_URL, never from the Host header, yet a page
built from a forged Host (a poisoned cache, a redirect, a link a future page might build)
would point elsewhere; and a site whose name an attacker makes resolve to our address (DNS
rebinding) would have its scripts talk to us with its own name as Host. Both are refused.
Starlette's TrustedHostMiddleware does the same with an English reply; this one answers in
Russian and names the right address.

When BASE_URL names the machine itself (127.0.0.1, localhost, ::1, or the 0.0.0.0 of
`serve --host 0.0.0.0` with no BASE_URL), the three loopback names are accepted: a local
run opened as http://localhost:8000 works, and no other site can send those names from a
browser. /healthz is not checked: health probes of containers and balancers address the
server by its IP, and the answer holds no link.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
THIS_MACHINE = LOOPBACK_NAMES | {"0.0.0.0", "::"}
UNCHECKED_PATHS = frozenset({"/healthz"})
HOST_HEADER = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::[0-9]{1,5})?", re.IGNORECASE)


def allowed_hosts(base_url: str) -> frozenset[str]:
    host = urlsplit(base_url).hostname or ""
    return LOOPBACK_NAMES if host in THIS_MACHINE else frozenset({host})


def requested_host(scope: Scope) -> str | None:
    """The host name of the Host header, lower case and without the port; None when it is not one."""
    found = HOST_HEADER.fullmatch(Headers(scope=scope).get("host", ""))
    return found.group(1).strip("[]").lower() if found else None


class TrustedHost:
    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        self.allowed = allowed_hosts(base_url)
        self.refusal = f"Неверное имя сервера в запросе. Откройте систему по адресу {base_url}/ (настройка BASE_URL)."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in UNCHECKED_PATHS
            and requested_host(scope) not in self.allowed
        ):
            await PlainTextResponse(self.refusal, status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)
