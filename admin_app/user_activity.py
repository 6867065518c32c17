"""Which accounts a user manages, and switching them off and on — the one place these rules live.

Operators manage everyone; a municipal coordinator manages the users of their municipality whose
roles they may invite (experts, school coordinators); nobody else manages accounts. Nobody switches
their own account off or on. A switched-off user is out at once: their sessions and «Запомнить меня»
tokens end (admin_app.sessions), and admin_app.auth refuses an inactive user besides. An address
belongs to at most one active account, so a user whose address another active account now has
cannot be switched on (nor given that address).

The list actions (views/users.py) call `set_active`; the edit form checks `address_refusal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from admin_app.audit import AuditAction, record
from admin_app.auth import CurrentUser
from admin_app.invitations import invitable_roles
from admin_app.scopes import scope_clause
from admin_app.sessions import end_all
from models import Role, User, utcnow

OWN_ACCOUNT = "Свою учётную запись нельзя отключить или включить."


@dataclass
class ActivityOutcome:
    """What `set_active` did with the requested ids; names are logins, in login order."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (login, Russian reason)
    not_found: int = 0  # ids that are no user the actor manages


def managed_users(actor: CurrentUser) -> ColumnElement[bool] | None:
    """A WHERE clause on users limiting them to those `actor` manages; None for an operator (everyone)."""
    clause = scope_clause(actor, User)
    if clause is None:
        return None
    managed_roles = select(Role.id).where(Role.code.in_(invitable_roles(actor)))
    return and_(clause, User.role_id.in_(managed_roles))


def address_refusal(session: Session, email: str, *, user_id: int) -> str | None:
    """Why the account `user_id` may not be active with `email`, or None when no other active account has it."""
    taken = session.scalar(
        select(User.id).where(func.lower(User.email) == email.lower(), User.is_active, User.id != user_id).limit(1)
    )
    return None if taken is None else f"Адрес {email} уже указан у другого активного пользователя."


def set_active(session: Session, actor: CurrentUser, ids: Iterable[int], *, active: bool) -> ActivityOutcome:
    """Switch the users `ids` on or off, each only if `actor` manages them and the rules allow it."""
    wanted = sorted(set(ids))
    query = select(User).where(User.id.in_(wanted)).order_by(User.username)
    scope = managed_users(actor)
    if scope is not None:
        query = query.where(scope)
    users = session.scalars(query).all()
    outcome = ActivityOutcome(not_found=len(wanted) - len(users))
    for user in users:
        refusal = _refusal(session, actor, user, active=active)
        if refusal is not None:
            outcome.refused.append((user.username, refusal))
        elif user.is_active == active:
            outcome.unchanged.append(user.username)
        else:
            user.is_active = active
            if not active:
                end_all(session, user.id, now=utcnow())
            session.flush()  # the next row's address check sees this one switched on
            record(
                session,
                AuditAction.USER_ACTIVATED if active else AuditAction.USER_DEACTIVATED,
                target=user,
                actor=actor,
            )
            outcome.changed.append(user.username)
    return outcome


def _refusal(session: Session, actor: CurrentUser, user: User, *, active: bool) -> str | None:
    if user.id == actor.id:
        return OWN_ACCOUNT
    if active and not user.is_active:
        return address_refusal(session, user.email, user_id=user.id)
    return None
