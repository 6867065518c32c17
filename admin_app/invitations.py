"""Invitations: who may invite whom; creating, resending, revoking, reminding and accepting them; their status.

The rules of DESIGN.md live here and only here; the «Рассылка» page, the
registrations list and the registration page call these functions. Every
refusal is an `InvitationError` with a Russian message (and the form field it
concerns). An invitation and its letter are written in the caller's
transaction, so neither exists without the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, func, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from admin_app.accounts import AccountError, create_user, find_role, normalize_email
from admin_app.audit import AuditAction, record
from admin_app.auth import CurrentUser
from admin_app.dates import format_datetime
from admin_app.mail.letters import Letter, invitation_letter, invitation_reminder_letter
from admin_app.mail.outbox import drop_pending, enqueue
from admin_app.scopes import in_scope
from admin_app.tokens import make_token, token_hash
from models import DeliveryState, Invitation, Municipality, Organization, RoleCode, User
from settings import Settings

INVITABLE_ROLES: dict[RoleCode, tuple[RoleCode, ...]] = {
    RoleCode.OPERATOR: (
        RoleCode.MUNICIPAL_COORDINATOR,
        RoleCode.ORGANIZATION_COORDINATOR,
        RoleCode.EXPERT,
        RoleCode.OPERATOR,
    ),
    RoleCode.MUNICIPAL_COORDINATOR: (RoleCode.EXPERT, RoleCode.ORGANIZATION_COORDINATOR),
    RoleCode.ORGANIZATION_COORDINATOR: (),
    RoleCode.EXPERT: (),
}

# The `t` parameter of the registration link, as in the old system. Informational only.
ROLE_TYPES = {
    RoleCode.OPERATOR: "Operator",
    RoleCode.MUNICIPAL_COORDINATOR: "MunicipalCoordinator",
    RoleCode.ORGANIZATION_COORDINATOR: "SchoolCoordinator",
    RoleCode.EXPERT: "Expert",
}

REGISTRATION_PATH = "/Account/RegisterByInvite"


class InvitationError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvitationNotFound(InvitationError):
    def __init__(self) -> None:
        super().__init__("Приглашение не найдено.")


class PendingInvitationExists(InvitationError):
    """The address already has a live invitation for this role: offer to resend it instead."""

    def __init__(self, invitation: Invitation) -> None:
        super().__init__(
            f"На адрес {invitation.email} уже отправлено приглашение с этой ролью, и оно ещё действует. "
            "Можно отправить его повторно: старая ссылка перестанет работать, срок продлится.",
            "email",
        )
        self.invitation_id = invitation.id


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    REGISTERED = "registered"
    EXPIRED = "expired"
    REVOKED = "revoked"
    FAILED = "failed"


STATUS_LABELS = {
    InvitationStatus.PENDING: "ожидает регистрации",
    InvitationStatus.REGISTERED: "зарегистрирован",
    InvitationStatus.EXPIRED: "срок истёк",
    InvitationStatus.REVOKED: "отозвано",
    InvitationStatus.FAILED: "ошибка отправки",
}


def invitable_roles(user: CurrentUser) -> tuple[RoleCode, ...]:
    return INVITABLE_ROLES[user.role]


def registration_link(base_url: str, key: str, role: RoleCode) -> str:
    return f"{base_url}{REGISTRATION_PATH}?{urlencode({'k': key, 't': ROLE_TYPES[role]})}"


@dataclass(frozen=True)
class Scope:
    municipality_id: int | None
    organization_id: int | None


def _invitee_scope(
    session: Session, inviter: CurrentUser, role: RoleCode, municipality_id: int | None, organization_id: int | None
) -> Scope:
    """Where the invitee will belong. A coordinator's own municipality wins over anything submitted."""
    if role is RoleCode.OPERATOR:
        return Scope(None, None)
    if inviter.role is RoleCode.MUNICIPAL_COORDINATOR:
        municipality_id = inviter.municipality_id
    if role is RoleCode.ORGANIZATION_COORDINATOR:
        organization = session.get(Organization, organization_id) if organization_id else None
        if organization is None:
            raise InvitationError("Выберите образовательную организацию.", "organization_id")
        if municipality_id is not None and organization.municipality_id != municipality_id:
            raise InvitationError("Эта организация не относится к выбранному муниципалитету.", "organization_id")
        return Scope(organization.municipality_id, organization.id)
    if municipality_id is not None and session.get(Municipality, municipality_id) is None:
        raise InvitationError("Выберите муниципалитет из списка.", "municipality_id")
    return Scope(municipality_id, None)


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now)


def create_invitation(
    session: Session,
    inviter: CurrentUser,
    *,
    role: str,
    email: str,
    municipality_id: int | None,
    organization_id: int | None,
    settings: Settings,
    now: datetime,
    full_name: str = "",
) -> Invitation:
    """Check every rule, then add the invitation and its letter to the outbox."""
    try:
        role_code = RoleCode(role)
    except ValueError:
        role_code = None
    if role_code not in invitable_roles(inviter):
        raise InvitationError(
            "Выберите роль из списка: приглашать пользователей с другими ролями вы не можете.", "role"
        )
    try:
        address = normalize_email(email)
    except AccountError as error:
        raise InvitationError(str(error), "email") from None
    scope = _invitee_scope(session, inviter, role_code, municipality_id, organization_id)
    if session.scalar(select(User.id).where(func.lower(User.email) == address.lower(), User.is_active)):
        raise InvitationError(
            f"Пользователь с адресом {address} уже зарегистрирован в системе. Приглашение не отправлено.", "email"
        )
    role_row = find_role(session, role_code)
    pending = session.scalar(
        select(Invitation).where(
            func.lower(Invitation.email) == address.lower(), Invitation.role_id == role_row.id, _live(now)
        )
    )
    if pending is not None:
        raise PendingInvitationExists(pending)
    invitation = Invitation(
        role=role_row,
        email=address,
        full_name=full_name,
        municipality_id=scope.municipality_id,
        organization_id=scope.organization_id,
        inviter_id=inviter.id,
        created_at=now,
        key_hash="",
        expires_at=now,
    )
    session.add(invitation)
    _send_new_key(session, invitation, settings, now)
    record(session, AuditAction.INVITATION_SENT, target=invitation, details=_audit_details(invitation), actor=inviter)
    return invitation


def resend_invitation(
    session: Session, inviter: CurrentUser, invitation_id: int, *, settings: Settings, now: datetime
) -> Invitation:
    """A new key and a new letter; the old link dies, the term starts again and gets its own reminder.

    A revoked invitation comes back to life. Of two simultaneous resends the second waits for the
    first (`_locked_in_scope`), then replaces its key, and its letter supersedes the first one's.
    """
    invitation = _locked_in_scope(session, inviter, invitation_id)
    if invitation.accepted_at is not None:
        raise InvitationError("По этому приглашению уже зарегистрировались: отправлять его снова не нужно.")
    invitation.revoked_at = None
    invitation.reminded_at = None
    _send_new_key(session, invitation, settings, now)
    record(session, AuditAction.INVITATION_RESENT, target=invitation, details=_audit_details(invitation), actor=inviter)
    return invitation


def revoke_invitation(session: Session, actor: CurrentUser, invitation_id: int, *, now: datetime) -> Invitation:
    """The link stops working at once, and a letter still waiting in the queue is not sent."""
    invitation = _locked_in_scope(session, actor, invitation_id)
    if invitation.accepted_at is not None:
        raise InvitationError("По этому приглашению уже зарегистрировались: отозвать его нельзя.")
    if invitation.revoked_at is not None:
        raise InvitationError("Приглашение уже отозвано.")
    invitation.revoked_at = now
    drop_pending(session, invitation.id, reason=VOID_LETTER_REASONS[KeyProblem.REVOKED])
    record(session, AuditAction.INVITATION_REVOKED, target=invitation, details=_audit_details(invitation), actor=actor)
    return invitation


def reminder_due_ids(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Invitations whose one reminder is due (`_reminder_due`), except those whose letter itself went out
    within the reminder period: a reminder right behind it would only kill its link."""
    period = timedelta(days=settings.invitation_reminder_days)
    rows = session.execute(
        select(Invitation.id, Invitation.sent_at, Invitation.expires_at)
        .where(_reminder_due(settings, now))
        .order_by(Invitation.expires_at)
    ).all()
    return [row.id for row in rows if row.sent_at <= row.expires_at - period]


def remind_invitation(session: Session, invitation_id: int, *, settings: Settings, now: datetime) -> bool:
    """Queue the invitation's one reminder: a new link (the old one dies), the same expiry.

    The reminder is claimed by a conditional UPDATE of reminded_at, so of two processes exactly
    one reminds; False when it is not due (any more).
    """
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, _reminder_due(settings, now))
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    invitation = session.get_one(Invitation, invitation_id, populate_existing=True)
    link = _new_link(session, invitation, settings)
    expires = format_datetime(invitation.expires_at)
    _queue(
        session,
        invitation,
        "invitation-reminder",
        invitation_reminder_letter(centre_name=settings.centre_name, link=link, expires=expires),
    )
    return True


def void_letter_reason(session: Session, invitation_id: int, now: datetime) -> str | None:
    """Why a queued letter of the invitation must not go out any more (its link would be refused), or None."""
    problem = key_problem(session.get(Invitation, invitation_id), now)
    return None if problem is None else VOID_LETTER_REASONS[problem]


def _reminder_due(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Live, its letter sent, not reminded yet, expiring within INVITATION_REMINDER_DAYS (0: never)."""
    return and_(
        _live(now),
        Invitation.reminded_at.is_(None),
        Invitation.sent_at.is_not(None),
        Invitation.expires_at <= now + timedelta(days=settings.invitation_reminder_days),
    )


def _locked_in_scope(session: Session, actor: CurrentUser, invitation_id: int) -> Invitation:
    """The invitation read afresh, its row locked to the end of the transaction; InvitationNotFound outside the scope.

    Of two simultaneous changes the second waits here until the first commits, then sees it.
    PostgreSQL locks the row (SELECT … FOR UPDATE); SQLite has no row locks and ignores FOR UPDATE,
    so there a write that changes nothing takes the database's write lock before the read.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id)
            .values(email=Invitation.email)
            .execution_options(synchronize_session=False)
        )
    invitation = session.get(Invitation, invitation_id, with_for_update=True, populate_existing=True)
    if invitation is None or not in_scope(actor, invitation):
        raise InvitationNotFound
    return invitation


def _send_new_key(session: Session, invitation: Invitation, settings: Settings, now: datetime) -> None:
    invitation.expires_at = now + timedelta(days=settings.invitation_ttl_days)
    invitation.sent_at = None
    link = _new_link(session, invitation, settings)
    _queue(session, invitation, "invitation", invitation_letter(centre_name=settings.centre_name, link=link))


def _audit_details(invitation: Invitation) -> str:
    """The role and place of the invitation, for the audit trail."""
    place = invitation.organization or invitation.municipality
    return f"Роль: {invitation.role.name}" + (f"; {place}" if place is not None else "")


def _new_link(session: Session, invitation: Invitation, settings: Settings) -> str:
    """A new key for the invitation, so that the link of every earlier letter stops working; its link."""
    key, key_hash = make_token()
    invitation.key_hash = key_hash
    session.flush()
    return registration_link(settings.base_url, key, RoleCode(invitation.role.code))


def _queue(session: Session, invitation: Invitation, kind: str, letter: Letter) -> None:
    """Queue a letter with the invitation's current key; it supersedes the invitation's pending letters."""
    enqueue(
        session,
        idempotency_key=f"{kind}:{invitation.id}:{invitation.key_hash[:16]}",
        recipient=invitation.email,
        letter=letter,
        invitation_id=invitation.id,
    )


def status_of(invitation: Invitation, now: datetime) -> InvitationStatus:
    """The status shown in the registrations list; `status_clause` is the same rule in SQL."""
    if invitation.accepted_at is not None:
        return InvitationStatus.REGISTERED
    if invitation.revoked_at is not None:
        return InvitationStatus.REVOKED
    if invitation.delivery_state == DeliveryState.FAILED:
        return InvitationStatus.FAILED
    if invitation.expires_at <= now:
        return InvitationStatus.EXPIRED
    return InvitationStatus.PENDING


def status_clause(status: InvitationStatus, now: datetime) -> ColumnElement[bool]:
    accepted = Invitation.accepted_at.is_not(None)
    revoked = Invitation.revoked_at.is_not(None)
    failed = Invitation.delivery_state == DeliveryState.FAILED
    expired = Invitation.expires_at <= now
    earlier = {
        InvitationStatus.REGISTERED: (accepted, []),
        InvitationStatus.REVOKED: (revoked, [accepted]),
        InvitationStatus.FAILED: (failed, [accepted, revoked]),
        InvitationStatus.EXPIRED: (expired, [accepted, revoked, failed]),
        # Spelled out term by term (not `NOT (a OR b …)`): SQLite uses the partial indexes of open invitations
        # (models.OPEN_INVITATION_INDEXES) only when the query repeats their condition's terms.
        InvitationStatus.PENDING: (and_(*(not_(clause) for clause in (accepted, revoked, failed, expired))), []),
    }
    condition, excluded = earlier[status]
    return and_(condition, *(not_(clause) for clause in excluded))


class KeyProblem(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


def find_invitation(session: Session, key: str) -> Invitation | None:
    return session.scalar(select(Invitation).where(Invitation.key_hash == token_hash(key))) if key else None


def key_problem(invitation: Invitation | None, now: datetime) -> KeyProblem | None:
    if invitation is None:
        return KeyProblem.UNKNOWN
    if invitation.accepted_at is not None:
        return KeyProblem.USED
    if invitation.revoked_at is not None:
        return KeyProblem.REVOKED
    if invitation.expires_at <= now:
        return KeyProblem.EXPIRED
    return None


def needs_municipality_choice(invitation: Invitation) -> bool:
    """The registrant picks a municipality only when the invitation carries none and the role needs one."""
    return invitation.municipality_id is None and invitation.role.code != RoleCode.OPERATOR


def accept_invitation(
    session: Session,
    key: str,
    *,
    username: str,
    password_hash: str,
    municipality_id: int | None,
    now: datetime,
) -> User:
    """Consume the key and create the user in one transaction (the caller's).

    The conditional UPDATE comes first: of two simultaneous submissions only one
    finds the key unused, the other gets KeyProblem.USED. Any later failure
    (a taken login) rolls the consumption back with the transaction.
    """
    consumed = session.execute(
        update(Invitation).where(Invitation.key_hash == token_hash(key), _live(now)).values(accepted_at=now)
    )
    if consumed.rowcount != 1:
        problem = key_problem(find_invitation(session, key), now)
        raise InvitationError(KEY_PROBLEM_MESSAGES[problem or KeyProblem.USED])
    invitation = find_invitation(session, key)
    assert invitation is not None
    if not needs_municipality_choice(invitation):
        municipality_id = invitation.municipality_id
    elif municipality_id is None or session.get(Municipality, municipality_id) is None:
        raise InvitationError("Выберите муниципалитет из списка.", "municipality_id")
    try:
        user = create_user(
            session,
            role_code=invitation.role.code,
            username=username,
            email=invitation.email,
            password_hash=password_hash,
            full_name=invitation.full_name,
            municipality_id=municipality_id,
            organization_id=invitation.organization_id,
        )
    except AccountError as error:
        raise InvitationError(str(error), "username") from None
    user.invitation_id = invitation.id
    invitation.accepted_user_id = user.id
    try:
        session.flush()
    except IntegrityError:
        raise InvitationError(KEY_PROBLEM_MESSAGES[KeyProblem.USED]) from None
    record(
        session,
        AuditAction.REGISTERED,
        target=user,
        details=f"По приглашению на {invitation.email}; {_audit_details(invitation)}",
    )
    return user


KEY_PROBLEM_MESSAGES = {
    KeyProblem.UNKNOWN: "Ссылка для регистрации неверна. Проверьте, что она скопирована из письма целиком, "
    "или попросите координатора прислать приглашение ещё раз.",
    KeyProblem.USED: "По этой ссылке уже зарегистрировались. Войдите в систему со своим именем пользователя и паролем.",
    KeyProblem.EXPIRED: "Срок действия приглашения истёк. Попросите координатора, который вас пригласил, "
    "отправить приглашение ещё раз.",
    KeyProblem.REVOKED: "Приглашение отозвано. Если это ошибка, обратитесь к координатору, который вас пригласил.",
}

# Why a queued letter was not sent, as the outbox records it (its link would be refused).
VOID_LETTER_REASONS = {
    KeyProblem.UNKNOWN: "Не отправлено: приглашение не найдено.",
    KeyProblem.USED: "Не отправлено: по приглашению уже зарегистрировались.",
    KeyProblem.EXPIRED: "Не отправлено: срок действия приглашения истёк.",
    KeyProblem.REVOKED: "Не отправлено: приглашение отозвано.",
}
