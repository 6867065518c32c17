"""Consent to the processing of personal data (Федеральный закон № 152-ФЗ «О персональных данных»).

The registration form and the teacher's application form carry a required checkbox `consent`; the policy it
refers to is the page GET /personal-data (templates/public/personal_data_policy.html), built from the settings
alone. The time of consent is stored with what the form creates: `users.personal_data_consent_at`,
`applications.personal_data_consent_at`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from admin_app.public_templates import templates
from settings import Settings

POLICY_PATH = "/personal-data"
CONSENT_FIELD = "consent"
CONSENT_REQUIRED = (
    "Отметьте согласие на обработку персональных данных: без него центр аттестации не может принять ваши данные."
)


def consent_given(form: Any) -> bool:
    """Whether the form's consent checkbox was ticked (a ticked checkbox sends its value, an unticked one nothing)."""
    return form.get(CONSENT_FIELD) == "on"


def consent_errors(form: Any) -> dict[str, str]:
    """The error to show next to the checkbox, or nothing when it was ticked."""
    return {} if consent_given(form) else {CONSENT_FIELD: CONSENT_REQUIRED}


async def policy_page(request: Request) -> Response:
    """GET /personal-data: the centre's policy on the processing of personal data."""
    settings: Settings = request.app.state.settings
    context = {
        "centre_name": settings.centre_name,
        "help_phones": settings.help_phones,
        "help_email": settings.help_email,
    }
    return templates.TemplateResponse(request, "public/personal_data_policy.html", context)
