"""The application factory: routes, middleware and the SQLAdmin panel.

URL map:
    GET /            → admin_app.landing.landing_page (what the system is for, «Войти», help)
    GET /healthz     → admin_app.health.healthz
    /Account/RegisterByInvite?k=…&t=…  → admin_app.registration.register_by_invite
    /Application/Submit                → admin_app.public_applications.submit_page (a teacher, no account)
    GET /Application/Status?k=…        → admin_app.public_applications.status_page
    GET /personal-data                 → admin_app.personal_data.policy_page (the consent's policy text)
    /Account/ForgotPassword            → admin_app.recovery_pages.forgot_password_page («Забыли пароль?»)
    /Account/ForgotUsername            → admin_app.recovery_pages.forgot_username_page («Забыли имя пользователя?»)
    /Account/ResetPassword?k=…         → admin_app.recovery_pages.reset_password_page (the link in the letter)
    errors           → admin_app.errors (Russian pages, no traceback)
    /admin/...       → SQLAdmin (views/); login at /admin/login (admin_app.auth)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import anyio
from sqladmin import Admin
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import Route

from admin_app.audit_backend import PanelAuditBackend
from admin_app.audit_context import AuditContext
from admin_app.auth import AdminAuth, post_only_logout
from admin_app.body_limit import BodyLimit
from admin_app.csrf import CrossSiteGuard, csrf_token
from admin_app.db import NulCharacter, make_engine, make_session_factory
from admin_app.errors import exception_handlers
from admin_app.health import healthz
from admin_app.invitations import REGISTRATION_PATH, invitable_roles
from admin_app.landing import landing_page
from admin_app.mail.sender import MailSender
from admin_app.mail.transports import transport_for
from admin_app.permissions import RoleGrants
from admin_app.personal_data import POLICY_PATH, policy_page
from admin_app.public_applications import STATUS_PATH, SUBMIT_PATH, status_page, submit_page
from admin_app.recovery import FORGOT_PASSWORD_PATH, FORGOT_USERNAME_PATH, RESET_PASSWORD_PATH
from admin_app.recovery_pages import forgot_password_page, forgot_username_page, reset_password_page
from admin_app.redaction import redact_logs
from admin_app.registration import register_by_invite
from admin_app.reminders import reminder_chore
from admin_app.russian import RUSSIAN, force_russian
from admin_app.security_headers import SecurityHeaders
from admin_app.template_patches import PatchingLoader
from admin_app.trusted_host import TrustedHost
from models import ROLE_NAMES
from settings import PROJECT_DIR, Settings, load_settings
from views import field_labels, register_views
from views.cabinet import cabinet_figures
from views.list_rows import list_rows_html

TEMPLATES_DIR = PROJECT_DIR / "templates"


def create_served_app() -> Starlette:
    """The application of one `serve` worker process (uvicorn's factory, `SERVED_APP`): settings from the
    environment, and a mail sender of its own — senders side by side never send a letter twice."""
    return create_app(load_settings(), send_mail=True)


def create_served_app_without_mail() -> Starlette:
    """The same for `serve --no-mail`: the letters are left to separate `send-mail` processes."""
    return create_app(load_settings(), send_mail=False)


SERVED_APP = f"{__name__}:{create_served_app.__name__}"
SERVED_APP_WITHOUT_MAIL = f"{__name__}:{create_served_app_without_mail.__name__}"


def create_app(settings: Settings | None = None, *, send_mail: bool = False) -> Starlette:
    """The application; with `send_mail` it also delivers the outbox and reminds invitees while it runs (`serve`)."""
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    mail_sender = None
    if send_mail:
        chores = [reminder_chore(session_factory, settings)]
        mail_sender = MailSender(session_factory, transport_for(settings), chores=chores)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            if mail_sender is not None:
                tasks.start_soon(mail_sender.run)
            yield
            if mail_sender is not None:
                mail_sender.stop()
        engine.dispose()

    redact_logs()  # the server's access log prints each path with its query, keys included
    errors = exception_handlers(settings.centre_name)
    app = Starlette(
        routes=[
            Route("/", landing_page),
            Route("/healthz", healthz),
            Route(REGISTRATION_PATH, register_by_invite, methods=["GET", "POST"]),
            Route(SUBMIT_PATH, submit_page, methods=["GET", "POST"]),
            Route(STATUS_PATH, status_page),
            Route(POLICY_PATH, policy_page),
            Route(FORGOT_PASSWORD_PATH, forgot_password_page, methods=["GET", "POST"]),
            Route(FORGOT_USERNAME_PATH, forgot_username_page, methods=["GET", "POST"]),
            Route(RESET_PASSWORD_PATH, reset_password_page, methods=["GET", "POST"]),
        ],
        middleware=[
            Middleware(SecurityHeaders, https=settings.is_https),
            Middleware(ServerErrorMiddleware, handler=errors[Exception]),  # inside: a 500 page gets the headers
            Middleware(TrustedHost, base_url=settings.base_url),
            Middleware(BodyLimit, settings=settings),
            Middleware(AuditContext, trusted_proxies=settings.trusted_proxies),
            Middleware(CrossSiteGuard, base_url=settings.base_url),
        ],
        exception_handlers={HTTPException: errors[HTTPException], NulCharacter: errors[NulCharacter]},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.mail_sender = mail_sender

    auth = AdminAuth(settings, session_factory)
    admin = Admin(
        app,
        session_maker=session_factory,
        title=f"Аттестация — {settings.centre_name}",
        templates_dir=str(TEMPLATES_DIR),
        authentication_backend=auth,
        authorization_backend=RoleGrants(),
        audit_backend=PanelAuditBackend(session_factory, field_labels),
        i18n_config=RUSSIAN,
    )
    admin.admin.add_exception_handler(NulCharacter, errors[NulCharacter])
    admin.admin.add_exception_handler(Exception, errors[Exception])
    admin.admin.state = app.state  # the panel's own views read settings and sessions from request.app.state
    force_russian(admin)
    post_only_logout(admin)
    admin.templates.env.loader = PatchingLoader(admin.templates.env.loader)
    auth.templates = admin.templates
    admin.templates.env.globals.update(
        csrf_token=csrf_token,
        centre_name=settings.centre_name,
        role_names=ROLE_NAMES,
        invitable_roles=invitable_roles,
        cabinet_figures=cabinet_figures,
        list_rows_html=list_rows_html,
        today=date.today,
    )
    register_views(admin)
    return app
