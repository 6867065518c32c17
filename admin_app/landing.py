"""GET /: the landing page — what the system is for, «Войти», the teacher's application, and where to get help.

It is built from the settings alone (the centre's name, HELP_PHONES, HELP_EMAIL): no database, no session.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin_app.public_applications import SUBMIT_PATH
from admin_app.public_templates import templates
from admin_app.recovery import FORGOT_PASSWORD_PATH, FORGOT_USERNAME_PATH, LOGIN_PATH
from settings import Settings


async def landing_page(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    context = {
        "centre_name": settings.centre_name,
        "help_phones": settings.help_phones,
        "help_email": settings.help_email,
        "login_path": LOGIN_PATH,
        "submit_path": SUBMIT_PATH,
        "forgot_password_path": FORGOT_PASSWORD_PATH,
        "forgot_username_path": FORGOT_USERNAME_PATH,
    }
    return templates.TemplateResponse(request, "public/landing.html", context)
