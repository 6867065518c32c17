"""The panel speaks Russian only.

SQLAdmin's LocaleMiddleware lets `?lang=`, a cookie or Accept-Language pick the
language; `force_russian` replaces it with one that always activates SQLAdmin's
`ru` catalog. What the catalog misses is patched in `template_patches`.
"""

from __future__ import annotations

from sqladmin import Admin
from sqladmin.i18n import I18nConfig, LocaleMiddleware, set_locale
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

RUSSIAN = I18nConfig(default_locale="ru", language_cookie_name=None, language_header_name=None, language_switcher=None)


class RussianOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        set_locale("ru")
        await self.app(scope, receive, send)


def force_russian(admin: Admin) -> None:
    """Swap the locale middleware, before the first request builds the middleware stack."""
    admin.admin.user_middleware = [
        Middleware(RussianOnly) if entry.cls is LocaleMiddleware else entry for entry in admin.admin.user_middleware
    ]
