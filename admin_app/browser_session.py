"""This browser's login: its session id in the session cookie and its «Запомнить меня» cookie.

admin_app.auth calls these at login, on every panel request and at logout; «Профиль» calls
`renew_session_after_password_change`. The rules behind them are admin_app.sessions and
admin_app.remember_me; the cookies are admin_app.session_cookie's. The session cookie keeps
only the id under SID (besides the CSRF token and SQLAdmin's flash messages).
"""

from __future__ import annotations

import anyio.to_thread
from sqlalchemy.orm import Session
from starlette.requests import Request

from admin_app.client_address import client_address
from admin_app.remember_me import FORGET, forget_token, issue_token, redeem_token
from admin_app.session_cookie import remember_cookie_name, send_remember_cookie
from admin_app.sessions import open_session, resolve_session, revoke_session
from models import User, utcnow

SID = "sid"  # the session cookie's key for the session id


async def start_session(request: Request, user_id: int, *, remember: bool) -> None:
    """A new session for this browser (never the id it had before), and a new «Запомнить меня» token with `remember`."""
    await anyio.to_thread.run_sync(_start_session, request, user_id, remember)


async def renew_session_after_password_change(request: Request) -> None:
    """The password change ended every session of the user (set_password), this one too: the browser that
    made it gets a new session, and a new token if it had «Запомнить меня», so only the others are out."""
    remember = remember_cookie_name(request.app.state.settings) in request.cookies
    await start_session(request, request.state.user.id, remember=remember)


async def resume_session(request: Request) -> User | None:
    """Who this browser is: its live session, else a valid «Запомнить меня» cookie (opening a new session)."""
    user = await anyio.to_thread.run_sync(_resume_session, request)
    if user is None:
        request.session.pop(SID, None)
    return user


async def end_session(request: Request) -> None:
    """Logout: the session revoked, the «Запомнить меня» token deleted, both cookies emptied."""
    await anyio.to_thread.run_sync(_end_browser_session, request)
    request.session.clear()
    send_remember_cookie(request, FORGET)


def _start_session(request: Request, user_id: int, remember: bool) -> None:
    state = request.app.state
    had_token = _end_browser_session(request)
    request.session.clear()
    with state.session_factory.begin() as session:
        request.session[SID] = _open(session, request, user_id, remembered=remember)
        if remember:
            send_remember_cookie(request, issue_token(session, user_id, settings=state.settings, now=utcnow()))
        elif had_token:
            send_remember_cookie(request, FORGET)


def _resume_session(request: Request) -> User | None:
    settings, now = request.app.state.settings, utcnow()
    sid, remembered = request.session.get(SID), request.cookies.get(remember_cookie_name(settings))
    with request.app.state.session_factory.begin() as session:
        user = resolve_session(session, sid, settings=settings, now=now) if isinstance(sid, str) else None
        if user is None and remembered:
            redeemed = redeem_token(session, remembered, now=now)
            send_remember_cookie(request, FORGET if redeemed is None else redeemed[1])
            if redeemed is not None:
                user = redeemed[0]
                request.session[SID] = _open(session, request, user.id, remembered=True)
        return user


def _end_browser_session(request: Request) -> bool:
    """Revoke this browser's session and delete its «Запомнить меня» token; True if it had such a cookie."""
    sid, remembered = request.session.get(SID), request.cookies.get(remember_cookie_name(request.app.state.settings))
    with request.app.state.session_factory.begin() as session:
        if isinstance(sid, str):
            revoke_session(session, sid, now=utcnow())
        if remembered:
            forget_token(session, remembered)
    return remembered is not None


def _open(session: Session, request: Request, user_id: int, *, remembered: bool) -> str:
    settings = request.app.state.settings
    return open_session(
        session,
        user_id,
        address=client_address(request, settings.trusted_proxies),
        user_agent=request.headers.get("user-agent", ""),
        remembered=remembered,
        settings=settings,
        now=utcnow(),
    )
