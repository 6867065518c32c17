"""From where: the client address of the request being handled, for the audit trail.

A pure ASGI middleware sets it for every request (admin_app.client_address: the peer, or the
forwarded address behind a trusted proxy) and clears it afterwards. It is a context variable,
so the worker threads a request starts (anyio.to_thread) and its background tasks see it too;
outside a request (the CLI, the mail sender) it is empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from admin_app.client_address import client_address

_address: ContextVar[str] = ContextVar("audit_address", default="")


def current_address() -> str:
    return _address.get()


class AuditContext:
    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = _address.set(client_address(HTTPConnection(scope), self.trusted_proxies))
        try:
            await self.app(scope, receive, send)
        finally:
            _address.reset(token)
