"""Login to the panel: SQLAdmin's AuthenticationBackend against the users table.

The signed session cookie holds only the user id, a digest of the password hash
(so a password change ends older sessions), the login time, the «Запомнить
меня» flag and the CSRF token. Every request reloads the user: a deactivated
user is out at once. A wrong login and a wrong password get the same answer
after the same bcrypt work.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqladmin import Admin
from sqladmin.authentication import AuthenticationBackend
from sqlalchemy.orm import Session, joinedload, sessionmaker
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from admin_app.accounts import find_user_by_login
from admin_app.csrf import csrf_token_valid
from admin_app.flash_keeper import FlashKeeper
from admin_app.passwords import dummy_hash, verify_password
from admin_app.request_context import current_request
from admin_app.session_cookie import BrowserSessionCookie
from models import RoleCode, User, utcnow
from settings import Settings

SESSION_COOKIE = "attestation_session"
BAD_CREDENTIALS = "Неверное имя пользователя или пароль."
STALE_FORM = "Страница входа устарела. Введите имя пользователя и пароль ещё раз."
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
            session_cookie=SESSION_COOKIE,
            max_age=settings.remember_days * 86400,
            same_site="strict",
            https_only=settings.is_https,
        )
        self.middlewares.insert(0, Middleware(BrowserSessionCookie, cookie_name=SESSION_COOKIE))
        self.middlewares.append(Middleware(FlashKeeper))
        self.settings = settings
        self.session_factory = session_factory
        self.templates: Jinja2Templates | None = None

    async def login(self, request: Request) -> Response | bool:
        form = await request.form()
        username = str(form.get("username", "")).strip()[:MAX_LOGIN_LENGTH]
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._login_failed(request, username, STALE_FORM)
        user = await anyio.to_thread.run_sync(self._check_credentials, username, str(form.get("password", "")))
        if user is None:
            return await self._login_failed(request, username, BAD_CREDENTIALS)
        request.session.clear()
        request.session.update(
            uid=user.id,
            auth=_auth_digest(self.settings, user.password_hash),
            iat=int(time.time()),
            remember=form.get("remember") in ("on", "1", "true"),
        )
        return RedirectResponse(_safe_next(form, request), status_code=302)

    async def logout(self, request: Request) -> Response | bool:
        form = await request.form()
        if csrf_token_valid(request, form.get("csrf_token")):
            request.session.clear()
            return RedirectResponse(request.url_for("admin:login"), status_code=302)
        return RedirectResponse(request.url_for("admin:index"), status_code=302)

    async def authenticate(self, request: Request) -> Response | bool:
        user = await anyio.to_thread.run_sync(self._session_user, dict(request.session))
        if user is None:
            request.session.pop("uid", None)
            login_url = request.url_for("admin:login").include_query_params(next=_path_with_query(request))
            return RedirectResponse(login_url, status_code=302)
        request.state.user = user
        current_request.set(request)
        return True

    async def get_user_id(self, request: Request) -> Any:
        return request.session.get("uid")

    async def _login_failed(self, request: Request, username: str, error: str) -> Response:
        assert self.templates is not None, "the app factory binds the admin templates"
        context = {
            "error": error,
            "username": username,
            "next": request.query_params.get("next", ""),
        }
        return await self.templates.TemplateResponse(request, "sqladmin/login.html", context, status_code=400)

    def _check_credentials(self, username: str, password: str) -> User | None:
        with self.session_factory.begin() as session:
            user = find_user_by_login(session, username) if username else None
            if user is None:
                verify_password(password, dummy_hash(self.settings.bcrypt_rounds))
                return None
            if not verify_password(password, user.password_hash) or not user.is_active:
                return None
            user.last_login_at = utcnow()
            return user

    def _session_user(self, session_data: dict[str, Any]) -> CurrentUser | None:
        uid, digest, issued = (
            session_data.get("uid"),
            session_data.get("auth"),
            session_data.get("iat"),
        )
        if not isinstance(uid, int) or not isinstance(digest, str) or not isinstance(issued, int):
            return None
        lifetime = (
            self.settings.remember_days * 86400 if session_data.get("remember") else self.settings.session_hours * 3600
        )
        if time.time() - issued > lifetime:
            return None
        with self.session_factory() as session:
            user = session.get(User, uid, options=[joinedload(User.role)])
            if user is None or not user.is_active:
                return None
            if not hmac.compare_digest(digest, _auth_digest(self.settings, user.password_hash)):
                return None
            return CurrentUser.of(user)


def keep_session_after_password_change(request: Request, password_hash: str, settings: Settings) -> None:
    """The browser that changed its own password stays logged in; the user's other sessions end."""
    request.session["auth"] = _auth_digest(settings, password_hash)


def _auth_digest(settings: Settings, password_hash: str) -> str:
    key = hashlib.sha256(f"session-auth:{settings.secret_key}".encode()).digest()
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()


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
