"""A session cookie that outlives the browser only when «Запомнить меня» was ticked.

Starlette's SessionMiddleware gives every session cookie the same Max-Age. This
middleware sits outside it and removes Max-Age from the session cookie unless the
session says `remember`, so an ordinary login ends when the browser closes.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_AGE = re.compile(r"Max-Age=\d+; ", re.IGNORECASE)


class BrowserSessionCookie:
    def __init__(self, app: ASGIApp, cookie_name: str) -> None:
        self.app = app
        self.prefix = f"{cookie_name}="

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and not scope.get("session", {}).get("remember"):
                headers = MutableHeaders(scope=message)
                cookies = headers.getlist("set-cookie")
                if any(cookie.startswith(self.prefix) for cookie in cookies):
                    del headers["set-cookie"]
                    for cookie in cookies:
                        headers.append(
                            "set-cookie",
                            MAX_AGE.sub("", cookie) if cookie.startswith(self.prefix) else cookie,
                        )
            await send(message)

        await self.app(scope, receive, send_wrapper)
