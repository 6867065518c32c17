"""Login to the panel: SQLAdmin's AuthenticationBackend against the users table.

A login opens a server-side session (admin_app.browser_session on the rules of
admin_app.sessions) and the signed session cookie holds only its id, besides the CSRF token
and SQLAdmin's flash messages: it is readable, so nothing else goes there (no digest of the
password hash either: a password change ends the sessions explicitly). Every request resolves
the id: a session revoked, idle too long or past its limit, or a deactivated user, is out at
once. With «Запомнить меня» the login also issues a separate rotating token
(admin_app.remember_me) that opens a new session once the browser has dropped the old one.
Logout (a POST with the form token) revokes the session and the token and asks the browser to
clear the site's cookies.
A wrong login and a wrong password get the same answer after the same bcrypt work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqladmin import Admin
from sqladmin.authentication import AuthenticationBackend
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from admin_app.accounts import find_user_by_login
from admin_app.audit import record_login
from admin_app.browser_session import end_session, resume_session, start_session
from admin_app.csrf import csrf_token_valid
from admin_app.flash_keeper import FlashKeeper
from admin_app.passwords import dummy_hash, verify_password
from admin_app.request_context import current_request
from admin_app.session_cookie import RememberCookieWriter, session_cookie_name
from admin_app.throttle import clear_hits, login_checks, record_hits, throttle_step, wait_seconds
from admin_app.throttled import TOO_MANY_REQUESTS, retry_after, try_again
from models import RoleCode, User, utcnow
from settings import Settings

BAD_CREDENTIALS = "Неверное имя пользователя или пароль."
STALE_FORM = "Страница входа устарела. Введите имя пользователя и пароль ещё раз."
TOO_MANY_LOGINS = "Слишком много попыток входа."
MAX_LOGIN_LENGTH = 200


@dataclass(frozen=True)
class CurrentUser:
    """Who is acting, as every view and permission check reads it from request.state.user."""

    id: int
    username: str
    full_name: str
    role: RoleCode
    municipality_id: int | None
    organization_id: int | None

    @property
    def is_operator(self) -> bool:
        return self.role is RoleCode.OPERATOR

    @classmethod
    def of(cls, user: User) -> CurrentUser:
        return cls(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            role=RoleCode(user.role.code),
            municipality_id=user.municipality_id,
            organization_id=user.organization_id,
        )


class AdminAuth(AuthenticationBackend):
    def __init__(self, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        super().__init__(
            secret_key=settings.secret_key,
            session_cookie=session_cookie_name(settings),
            max_age=None,  # ends with the browser; admin_app.sessions enforces the limits
            same_site="strict",
            https_only=settings.is_https,
        )
        self.middlewares.insert(0, Middleware(RememberCookieWriter, settings=settings))
        self.middlewares.append(Middleware(FlashKeeper))
        self.settings = settings
        self.session_factory = session_factory
        self.templates: Jinja2Templates | None = None

    async def login(self, request: Request) -> Response | bool:
        """An account or address over its limit of failures (admin_app.throttle) gets 429 before any password check."""
        form = await request.form()
        username = str(form.get("username", "")).strip()[:MAX_LOGIN_LENGTH]
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._login_failed(request, username, STALE_FORM)
        checks = login_checks(request, self.settings, username)
        wait = await throttle_step(self.session_factory, wait_seconds, checks)
        if wait:
            return await self._login_failed(request, username, f"{TOO_MANY_LOGINS} {try_again(wait)}", wait)
        user = await anyio.to_thread.run_sync(self._check_credentials, username, str(form.get("password", "")))
        if user is None:
            await throttle_step(self.session_factory, record_hits, checks)
            return await self._login_failed(request, username, BAD_CREDENTIALS)
        await throttle_step(self.session_factory, clear_hits, checks[:1])
        await start_session(request, user.id, remember=form.get("remember") in ("on", "1", "true"))
        return RedirectResponse(_safe_next(form, request), status_code=302)

    async def logout(self, request: Request) -> Response | bool:
        form = await request.form()
        if not csrf_token_valid(request, form.get("csrf_token")):
            return RedirectResponse(request.url_for("admin:index"), status_code=302)
        await end_session(request)
        response = RedirectResponse(request.url_for("admin:login"), status_code=302)
        response.headers["Clear-Site-Data"] = '"cookies"'
        return response

    async def authenticate(self, request: Request) -> Response | bool:
        user = await resume_session(request)
        if user is None:
            login_url = request.url_for("admin:login").include_query_params(next=_path_with_query(request))
            return RedirectResponse(login_url, status_code=302)
        request.state.user = CurrentUser.of(user)
        current_request.set(request)
        return True

    async def get_user_id(self, request: Request) -> Any:
        return request.state.user.id

    async def _login_failed(self, request: Request, username: str, error: str, wait: int = 0) -> Response:
        """The login form again, with the login typed (never the password); 429 with Retry-After while `wait`."""
        assert self.templates is not None, "the app factory binds the admin templates"
        context = {
            "error": error,
            "username": username,
            "next": request.query_params.get("next", ""),
        }
        status_code = TOO_MANY_REQUESTS if wait else 400
        response = await self.templates.TemplateResponse(request, "sqladmin/login.html", context, status_code)
        if wait:
            response.headers.update(retry_after(wait))
        return response

    def _check_credentials(self, username: str, password: str) -> User | None:
        with self.session_factory.begin() as session:
            user = find_user_by_login(session, username) if username else None
            if user is None:
                verify_password(password, dummy_hash(self.settings.bcrypt_rounds))
                record_login(session, None, succeeded=False)
                return None
            succeeded = verify_password(password, user.password_hash) and user.is_active
            record_login(session, user, succeeded=succeeded)
            if not succeeded:
                return None
            user.last_login_at = utcnow()
            return user


def post_only_logout(admin: Admin) -> None:
    """SQLAdmin serves logout as a GET link; ours is a POST form with the CSRF token (template_patches)."""
    admin.admin.router.routes = [
        Route("/logout", endpoint=admin.logout, methods=["POST"], name="logout")
        if getattr(route, "name", None) == "logout"
        else route
        for route in admin.admin.router.routes
    ]


def _path_with_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _safe_next(form: FormData, request: Request) -> str:
    """Only a path inside the panel: never another host (`//evil`), never the login page."""
    target = str(form.get("next", ""))
    if target.startswith("/admin/") and not target.startswith("/admin/login") and "\\" not in target:
        return target
    return str(request.url_for("admin:index"))
