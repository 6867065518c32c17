"""CSRF for the public forms, which have no session: a double-submit pair bound to the browser that loaded the page.

A random nonce and an expiry go into a short-lived cookie (HttpOnly, SameSite=Strict, limited to the
page's path, Secure under https) signed with an HMAC, and the hidden field `csrf_token` is another HMAC
of the same nonce. A POST passes only if the cookie's signature holds, it has not expired, and the field
belongs to its nonce. Another site can neither read the field (same-origin policy) nor read, set or forge
the cookie (HttpOnly, SameSite, the signature). A cookie-less token (an HMAC of a nonce and a time in the
field alone) would not do: anyone may load the page and carry its token into a forged form. The app-wide
CrossSiteGuard refuses cross-site POSTs besides.

Used by /Application/Submit (admin_app.public_applications) and the «Забыли…» forms (admin_app.recovery_pages).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from admin_app.csrf import same_token
from settings import Settings

FORM_TTL_SECONDS = 2 * 3600  # long enough to fill the form in, short enough not to linger


def new_form_token(settings: Settings, now: float) -> tuple[str, str]:
    """A fresh (cookie value, hidden field value) pair, valid for FORM_TTL_SECONDS from `now`."""
    nonce = secrets.token_urlsafe(16)
    signed = f"{nonce}.{int(now) + FORM_TTL_SECONDS}"
    return f"{signed}.{_mac(settings, 'cookie', signed)}", _mac(settings, "field", nonce)


def form_token_valid(settings: Settings, cookie: str, field: str, now: float) -> bool:
    nonce, _, rest = cookie.partition(".")
    expires, _, mac = rest.partition(".")
    signed = f"{nonce}.{expires}"
    if not nonce or not same_token(mac, _mac(settings, "cookie", signed)):
        return False
    return now <= int(expires) and same_token(field, _mac(settings, "field", nonce))  # signed, so `expires` is ours


def submitted_form_valid(request: Request, form: FormData, cookie_name: str) -> bool:
    """Whether the POSTed `csrf_token` belongs to the form cookie this browser got with the page."""
    cookie, field = request.cookies.get(cookie_name, ""), str(form.get("csrf_token", ""))
    return form_token_valid(request.app.state.settings, cookie, field, time.time())


def set_form_cookie(response: Response, settings: Settings, *, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name, value, max_age=FORM_TTL_SECONDS, path=path, secure=settings.is_https, httponly=True, samesite="strict"
    )


def _mac(settings: Settings, purpose: str, message: str) -> str:
    secret = hashlib.sha256(f"application-form:{settings.secret_key}".encode()).digest()
    return hmac.new(secret, f"{purpose}:{message}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
