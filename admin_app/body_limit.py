"""Request bodies are bounded while they stream, per route: 413 and a Russian page beyond the bound.

Threat model. Starlette reads a form whole before a view sees it: file parts are spooled
to disk with no limit (its `max_part_size` covers only the other fields), and a body sent
in chunks declares no length a view could check first. One client could fill the disk or
the memory of the server. This middleware is the outer guard: no route ever reads more
than its bound.

- Document uploads (POST /admin/application/{id}/documents): DOCUMENT_MAX_MB plus the form.
- «Пригласить списком» (POST /admin/mailing/bulk): BULK_MAX_KB plus the form; its
  confirmation carries the signed rows of the preview and gets the bound of that view.
- Everything else: 1 MB.

A body that declares a larger Content-Length is never read: the first read is refused, so
a page that checks the declared length itself (the bulk page) still shows its own message
in place. A body sent in chunks is counted as it arrives and refused at the first byte over
the bound. The refusal is an HTTPException(413), so whatever handles it inside says nothing
of a failure; the middleware then answers with its own page naming the limit. The parts
read so far are Starlette's anonymous temporary files, dropped with the refused request.

Starlette 1.10's own RequestBodyLimitMiddleware works the same way, but takes its limits
per route it builds (SQLAdmin builds the panel's) and answers in English.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin_app.bulk_invitations import size_limit_message
from admin_app.public_templates import templates
from settings import Settings
from views.bulk_mailing import _signed_rows_limit

KB = 1024
MB = 1024 * KB
FORM_OVERHEAD = 64 * KB  # the form's other fields and the multipart headers around a file
DEFAULT_LIMIT = 1 * MB


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    message: str


@dataclass(frozen=True)
class Rule:
    path: re.Pattern[str]
    limit: Limit


def body_rules(settings: Settings) -> tuple[Rule, ...]:
    documents = Limit(
        settings.document_max_mb * MB + FORM_OVERHEAD,
        f"Файл больше {settings.document_max_mb} МБ: уменьшите его или разделите на части.",
    )
    bulk = Limit(settings.bulk_max_kb * KB + FORM_OVERHEAD, size_limit_message(settings.bulk_max_kb))
    bulk_confirm = Limit(_signed_rows_limit(settings) + FORM_OVERHEAD, "Слишком большой список приглашений.")
    return (
        Rule(re.compile(r"/admin/application/\d+/documents/?"), documents),
        Rule(re.compile(r"/admin/mailing/bulk/?"), bulk),
        Rule(re.compile(r"/admin/mailing/bulk/confirm/?"), bulk_confirm),
    )


DEFAULT = Limit(DEFAULT_LIMIT, f"Слишком большой запрос: можно отправить не больше {DEFAULT_LIMIT // MB} МБ.")


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413)


def declared_length(scope: Scope) -> int | None:
    raw = Headers(scope=scope).get("content-length", "")
    return int(raw) if raw.isdigit() else None


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.rules = body_rules(settings)
        self.centre_name = settings.centre_name

    def limit_for(self, path: str) -> Limit:
        return next((rule.limit for rule in self.rules if rule.path.fullmatch(path)), DEFAULT)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = declared_length(scope)
        received = 0
        refused = started = False

        async def bounded_receive() -> Message:
            nonlocal received, refused
            if declared is not None and declared > limit.max_bytes:
                refused = True
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    refused = True
                    raise BodyTooLarge
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the app's own answer to BodyTooLarge: ours goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        with suppress(BodyTooLarge):  # reaches here only when nothing inside handled it
            await self.app(scope, bounded_receive, send_unless_refused)
        if refused and not started:
            await self._refusal(scope, limit)(scope, receive, send)

    def _refusal(self, scope: Scope, limit: Limit) -> ASGIApp:
        context = {"status_code": 413, "message": limit.message, "centre_name": self.centre_name}
        return templates.TemplateResponse(Request(scope), "public/error.html", context, status_code=413)
