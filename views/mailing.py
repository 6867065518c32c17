"""«Рассылка»: /admin/mailing — invitations by e-mail, as in the old system.

GET  /admin/mailing               the two sections: «Отправить приглашение», «Список пользователей…»
GET  /admin/mailing/invite        the invitation form
POST /admin/mailing/invite        send it (rules: admin_app.invitations)
POST /admin/mailing/resend/{id}   a new key for a pending invitation (404 outside the scope)
/admin/mailing/bulk…              «Пригласить списком»: views/bulk_mailing.py
"""

from __future__ import annotations

import anyio.to_thread
from sqladmin import expose
from sqladmin.flash import Flash
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_app.auth import CurrentUser
from admin_app.csrf import STALE_FORM, csrf_token_valid
from admin_app.invitations import (
    InvitationError,
    InvitationNotFound,
    PendingInvitationExists,
    create_invitation,
    invitable_roles,
    resend_invitation,
)
from admin_app.mail.letters import invitation_template_preview
from admin_app.mail.sender import wake_sender
from models import ROLE_NAMES, is_row_id, utcnow
from views.bulk_mailing import BulkMailing
from views.invitee_choices import chosen_id, invitee_choices


class MailingView(BulkMailing):
    name = "Рассылка"
    identity = "mailing"
    icon = "fa-solid fa-paper-plane"

    @expose("/mailing", methods=["GET"])
    async def mailing(self, request: Request) -> Response:
        return await self.templates.TemplateResponse(request, "mailing/index.html", {"title": "Рассылка"})

    @expose("/mailing/invite", methods=["GET", "POST"])
    async def mailing_invite(self, request: Request) -> Response:
        user: CurrentUser = request.state.user
        values: dict[str, str] = {"role": invitable_roles(user)[0].value if invitable_roles(user) else ""}
        if request.method == "GET":
            return await self._form(request, values, {})
        form = await request.form()
        values = {name: str(form.get(name, "")).strip()[:254] for name in FIELDS}
        if not csrf_token_valid(request, form.get("csrf_token")):
            return await self._form(request, values, {"form": STALE_FORM}, status_code=400)
        try:
            email = await anyio.to_thread.run_sync(self._create, request, values)
        except PendingInvitationExists as error:
            return await self._form(
                request, values, {"email": str(error)}, status_code=409, pending_id=error.invitation_id
            )
        except InvitationError as error:
            return await self._form(request, values, {error.field or "form": str(error)}, status_code=400)
        wake_sender(request.app.state)
        Flash.success(request, f"Приглашение для {email} поставлено в очередь на отправку.")
        return RedirectResponse(request.url_for("admin:view-mailing"), status_code=302)

    @expose("/mailing/resend/{invitation_id}", methods=["POST"])
    async def mailing_resend(self, request: Request) -> Response:
        if not is_row_id(request.path_params["invitation_id"]):
            raise HTTPException(status_code=404)
        form = await request.form()
        if not csrf_token_valid(request, form.get("csrf_token")):
            Flash.error(request, STALE_FORM)
        else:
            try:
                invitation_id = int(request.path_params["invitation_id"])
                email = await anyio.to_thread.run_sync(self._resend, request, invitation_id)
                wake_sender(request.app.state)
                Flash.success(request, f"Приглашение для {email} отправлено повторно с новой ссылкой.")
            except InvitationNotFound:
                raise HTTPException(status_code=404) from None
            except InvitationError as error:
                Flash.error(request, str(error))
        return RedirectResponse(request.url_for("admin:view-mailing"), status_code=302)

    def _create(self, request: Request, values: dict[str, str]) -> str:
        state = request.app.state
        with state.session_factory.begin() as session:
            invitation = create_invitation(
                session,
                request.state.user,
                role=values["role"],
                email=values["email"],
                municipality_id=chosen_id(values["municipality_id"]),
                organization_id=chosen_id(values["organization_id"]),
                settings=state.settings,
                now=utcnow(),
            )
            return invitation.email

    def _resend(self, request: Request, invitation_id: int) -> str:
        state = request.app.state
        with state.session_factory.begin() as session:
            invitation = resend_invitation(
                session, request.state.user, invitation_id, settings=state.settings, now=utcnow()
            )
            return invitation.email

    async def _form(
        self,
        request: Request,
        values: dict[str, str],
        errors: dict[str, str],
        *,
        status_code: int = 200,
        pending_id: int | None = None,
    ) -> Response:
        user: CurrentUser = request.state.user
        subject, text = invitation_template_preview(centre_name=request.app.state.settings.centre_name)
        context = {
            "title": "Приглашение в систему специалиста по аттестации",
            "roles": [(role.value, ROLE_NAMES[role]) for role in invitable_roles(user)],
            "values": values,
            "errors": errors,
            "pending_id": pending_id,
            "subject": subject,
            "text": text,
            **await anyio.to_thread.run_sync(invitee_choices, request, user),
        }
        return await self.templates.TemplateResponse(request, "mailing/invite.html", context, status_code=status_code)


FIELDS = ("role", "email", "municipality_id", "organization_id")
