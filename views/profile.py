"""«Профиль»: /admin/profile — the user's own account (rules: admin_app.profile).

GET  /admin/profile            login, role and place; the two forms below
POST /admin/profile/contacts   «ФИО» and «Электронная почта» (a new address needs the current password)
POST /admin/profile/password   a new password: this browser stays logged in, the user's other sessions end
"""

from __future__ import annotations

from sqladmin import BaseView, expose
from sqladmin.flash import Flash
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_app.accounts import PASSWORD_RULES
from admin_app.browser_session import renew_session_after_password_change
from admin_app.csrf import STALE_FORM, csrf_token_valid
from admin_app.mail.sender import wake_sender
from admin_app.profile import (
    FULL_NAME_MAX_LENGTH,
    ContactsForm,
    PasswordForm,
    ProfileError,
    change_contacts,
    change_password,
    load_profile,
)
from models import utcnow

CONTACT_FIELDS = ("full_name", "email")
MAX_ECHOED_LENGTH = 500


class ProfileView(BaseView):
    name = "Профиль"
    identity = "profile"
    icon = "fa-solid fa-id-card"

    @expose("/profile", methods=["GET"])
    async def profile(self, request: Request) -> Response:
        return await self._page(request)

    @expose("/profile/contacts", methods=["POST"])
    async def profile_contacts(self, request: Request) -> Response:
        form = await request.form()
        values = {name: _text(form, name)[:MAX_ECHOED_LENGTH] for name in CONTACT_FIELDS}
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._page(request, contacts=values, contacts_errors={"form": STALE_FORM}, status_code=400)
        state = request.app.state
        typed = ContactsForm(**values, current_password=_text(form, "current_password"))
        try:
            email_changed = await change_contacts(
                state.session_factory, request.state.user.id, typed, settings=state.settings, now=utcnow()
            )
        except ProfileError as error:
            return await self._page(request, contacts=values, contacts_errors=error.errors, status_code=400)
        if email_changed:
            wake_sender(request.app.state)
            Flash.success(request, "Данные сохранены. На прежний адрес отправлено уведомление о смене адреса.")
        else:
            Flash.success(request, "Данные сохранены.")
        return RedirectResponse(request.url_for("admin:view-profile"), status_code=302)

    @expose("/profile/password", methods=["POST"])
    async def profile_password(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._page(request, password_errors={"form": STALE_FORM}, status_code=400)
        state = request.app.state
        typed = PasswordForm(
            current_password=_text(form, "current_password"),
            password=_text(form, "password"),
            password_confirm=_text(form, "password_confirm"),
        )
        try:
            await change_password(
                state.session_factory, request.state.user.id, typed, settings=state.settings, now=utcnow()
            )
        except ProfileError as error:
            return await self._page(request, password_errors=error.errors, status_code=400)
        await renew_session_after_password_change(request)
        wake_sender(request.app.state)
        Flash.success(
            request,
            "Пароль изменён. Остальные входы в систему с вашей учётной записью завершены; "
            "на ваш адрес отправлено письмо «Ваш пароль изменён».",
        )
        return RedirectResponse(request.url_for("admin:view-profile"), status_code=302)

    async def _page(
        self,
        request: Request,
        *,
        contacts: dict[str, str] | None = None,
        contacts_errors: dict[str, str] | None = None,
        password_errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Response:
        profile = await load_profile(request.app.state.session_factory, request.state.user.id)
        context = {
            "title": "Профиль",
            "profile": profile,
            "contacts": contacts or {"full_name": profile.full_name, "email": profile.email},
            "contacts_errors": contacts_errors or {},
            "password_errors": password_errors or {},
            "password_rules": PASSWORD_RULES,
            "full_name_max_length": FULL_NAME_MAX_LENGTH,
        }
        return await self.templates.TemplateResponse(request, "profile/index.html", context, status_code=status_code)


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""
