"""The panel's two cookies: their names and attributes, and the middleware that sends «Запомнить меня».

`attestation_session` (SQLAdmin's SessionMiddleware, set up in admin_app.auth) holds the session
id, the CSRF token and SQLAdmin's flash messages. It has no Max-Age, so it ends with the browser;
the server enforces the real limits (admin_app.sessions). Under https it is named
`__Host-attestation_session`: the browser then takes it only with Secure, Path=/ and no Domain.

`attestation_remember` exists only after a login with «Запомнить меня» ticked and holds
`selector:validator` (admin_app.remember_me) for at most REMEMBER_DAYS; it is sent only to /admin
(`__Secure-` under https). The login, logout, the panel's guard and «Профиль» decide what it
becomes with `send_remember_cookie`; `RememberCookieWriter` writes that into the response, whose
code (SQLAdmin's) knows nothing of it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin_app.remember_me import RememberCookie
from settings import Settings

SESSION_COOKIE = "attestation_session"
REMEMBER_COOKIE = "attestation_remember"
REMEMBER_PATH = "/admin"
PENDING = "remember_cookie"  # the request.state attribute `send_remember_cookie` sets


def session_cookie_name(settings: Settings) -> str:
    return f"__Host-{SESSION_COOKIE}" if settings.is_https else SESSION_COOKIE


def remember_cookie_name(settings: Settings) -> str:
    return f"__Secure-{REMEMBER_COOKIE}" if settings.is_https else REMEMBER_COOKIE


def send_remember_cookie(request: Request, cookie: RememberCookie) -> None:
    """The «Запомнить меня» cookie this response sets (or, with remember_me.FORGET, deletes)."""
    setattr(request.state, PENDING, cookie)


class RememberCookieWriter:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.name = remember_cookie_name(settings)
        self.secure = settings.is_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_wrapper(message: Message) -> None:
            cookie = state.get(PENDING)
            if message["type"] == "http.response.start" and cookie is not None:
                MutableHeaders(scope=message).append("set-cookie", self._header(cookie))
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _header(self, cookie: RememberCookie) -> str:
        carrier = Response()
        carrier.set_cookie(
            self.name,
            cookie.value,
            max_age=cookie.max_age,
            path=REMEMBER_PATH,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )
        return carrier.headers["set-cookie"]
