"""SQLAdmin's flash messages survive a second message added before the first is shown.

`sqladmin.flash.Flash` appends to the list under the session's "_messages" in place.
Starlette's session notices only assignments, so a message appended to a list that
already holds one is never saved. This middleware sits inside SessionMiddleware and,
as the response starts, marks the session changed when the list differs from what
the request brought.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MESSAGES_KEY = "_messages"  # where sqladmin.flash keeps the messages


class FlashKeeper:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if scope["type"] != "http" or session is None:
            await self.app(scope, receive, send)
            return
        brought = list(session.get(MESSAGES_KEY, []))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and session.get(MESSAGES_KEY, []) != brought:
                session.mark_modified()
            await send(message)

        await self.app(scope, receive, send_wrapper)
