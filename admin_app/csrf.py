"""Cross-site request forgery: a guard for the whole application and form tokens.

The guard (`CrossSiteGuard`) refuses, with 403, every state-changing request
and every GET to SQLAdmin's `/action/` routes and to logout when the browser
says it comes from another site (`Sec-Fetch-Site`), or, from browsers that do
not send that header, when `Origin` or `Referer` names another origin than
BASE_URL. Requests carrying none of these headers are not from a browser page
and pass; the session cookie is SameSite=Strict besides.

The tokens (`csrf_token`, `csrf_token_valid`) are a synchronizer token kept in
the session: every form that changes state carries it in a hidden `csrf_token`;
`SessionTokenCSRF` puts it into SQLAdmin's forms.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from wtforms import Field, Form
from wtforms.csrf.core import CSRF
from wtforms.validators import ValidationError

from admin_app.request_context import current_request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE_VALUES = frozenset({"same-origin", "none"})
SESSION_KEY = "csrf"
STALE_FORM = "Форма устарела: обновите страницу и отправьте её ещё раз (введённое сохранено ниже)."


def csrf_token(request: HTTPConnection) -> str:
    return request.session.setdefault(SESSION_KEY, secrets.token_urlsafe(32))


def csrf_token_valid(request: HTTPConnection, submitted: object) -> bool:
    expected = request.session.get(SESSION_KEY)
    return bool(expected) and same_token(submitted, expected)


def same_token(submitted: object, expected: str) -> bool:
    """A constant-time comparison that is simply False for anything a form may hold: an upload, any text."""
    if not isinstance(submitted, str):
        return False
    return hmac.compare_digest(submitted.encode("utf-8", "surrogatepass"), expected.encode())


class SessionTokenCSRF(CSRF):
    """The same session token in SQLAdmin's WTForms forms (a hidden `csrf_token` field)."""

    def generate_csrf_token(self, csrf_token_field: Field) -> str:
        return csrf_token(current_request.get())

    def validate_csrf_token(self, form: Form, field: Field) -> None:
        if not csrf_token_valid(current_request.get(), field.data):
            raise ValidationError(STALE_FORM)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class CrossSiteGuard:
    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        self.allowed_origin = _origin(base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._needs_check(scope) and self._cross_site(scope):
            response = PlainTextResponse("Запрос с другого сайта отклонён.", status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _needs_check(scope: Scope) -> bool:
        path = scope["path"]
        return scope["method"] not in SAFE_METHODS or "/action/" in path or path.rstrip("/").endswith("/logout")

    def _cross_site(self, scope: Scope) -> bool:
        headers = HTTPConnection(scope).headers
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site not in SAME_SITE_VALUES
        source = headers.get("origin") or headers.get("referer")
        if source is None:
            return False
        return source == "null" or _origin(source) != self.allowed_origin
