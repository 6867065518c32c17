"""The headers every response carries: our pages, SQLAdmin's, its static files, errors and redirects.

Threat model. A page of the panel framed by another site could be clicked through blindly
(clickjacking): `frame-ancestors 'none'` and `X-Frame-Options: DENY` forbid framing. Text that
slipped past escaping must not run as script: the Content-Security-Policy lets only scripts
served by the system itself run, plus SQLAdmin's one inline script (it shows the toasts of
flash messages), allowed by the hash of its exact text; no inline event handlers, no `eval`,
no other sites, no plugins, no `<base>` rewriting links, no form posting elsewhere. Styles
come from our own files only (no template of ours or SQLAdmin's in use has a style
attribute; scripts set styles through the CSSOM, which CSP allows), so `'unsafe-inline'`
is not needed. A file is never taken for another type (`nosniff`); a link to another site
carries at most our origin, never a path with a key (`Referrer-Policy: same-origin`; the
pages with keys in the address send `no-referrer` themselves and keep it); a window opened
from another site cannot reach ours (`Cross-Origin-Opener-Policy`). With an https BASE_URL
the browser is told to use https only (HSTS, a year, subdomains included).

The panel's pages show personal data and are never kept by a browser or a proxy
(`Cache-Control: no-store` on every /admin response but its static files); a header a
response sets itself is kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PANEL_PREFIX = "/admin"
STATIC_PREFIX = "/admin/statics/"

# SQLAdmin 0.32's sqladmin/flash.html: the script showing the toasts (tests recompute it from the templates).
INLINE_SCRIPT_HASHES = ("sha256-ekCw+kwkZEik2GbC4bRgC7MXzFxL5hYcdWQ2MdkgLaA=",)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' " + " ".join(f"'{digest}'" for digest in INLINE_SCRIPT_HASHES),
        "style-src 'self'",
        "img-src 'self' data:",  # Tabler draws checkboxes and select arrows as data: SVG
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

COMMON_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
NO_STORE = ("Cache-Control", "no-store")


def headers_for(path: str, *, https: bool) -> tuple[tuple[str, str], ...]:
    """The headers a response to `path` gets unless it sets them itself."""
    headers = COMMON_HEADERS + ((HSTS,) if https else ())
    if _is_panel_page(path):
        headers += (NO_STORE,)
    return headers


def _is_panel_page(path: str) -> bool:
    in_panel = path == PANEL_PREFIX or path.startswith(PANEL_PREFIX + "/")
    return in_panel and not path.startswith(STATIC_PREFIX)


class SecurityHeaders:
    """Pure ASGI: adds `headers_for(path)` to the start of every HTTP response."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"], https=self.https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
