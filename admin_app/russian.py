"""The panel speaks Russian only.

SQLAdmin's LocaleMiddleware lets `?lang=`, a cookie or Accept-Language pick the
language; `force_russian` replaces it with one that always activates SQLAdmin's
`ru` catalog, and serves SQLAdmin's templates with the few literals its catalog
does not cover translated (`TEMPLATE_LEFTOVERS`), instead of copying templates.
"""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import BaseLoader, Environment
from sqladmin import Admin
from sqladmin.i18n import I18nConfig, LocaleMiddleware, set_locale
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

RUSSIAN = I18nConfig(default_locale="ru", language_cookie_name=None, language_header_name=None, language_switcher=None)

TEMPLATE_LEFTOVERS = {
    '<html lang="en">': '<html lang="ru">',
    '"This is a required field"': '"Обязательное поле"',
    'aria-label="Toggle navigation"': 'aria-label="Показать меню"',
}


class RussianOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        set_locale("ru")
        await self.app(scope, receive, send)


class LeftoverTranslatingLoader(BaseLoader):
    """Wraps a loader and replaces the English literals of TEMPLATE_LEFTOVERS in every template."""

    def __init__(self, inner: BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        for english, russian in TEMPLATE_LEFTOVERS.items():
            source = source.replace(english, russian)
        return source, filename, uptodate


def force_russian(admin: Admin) -> None:
    """Before the first request: swap the locale middleware and wrap the template loader."""
    admin.admin.user_middleware = [
        Middleware(RussianOnly) if entry.cls is LocaleMiddleware else entry for entry in admin.admin.user_middleware
    ]
    env = admin.templates.env
    env.loader = LeftoverTranslatingLoader(env.loader)
