"""The data model of «Аттестация»: roles, users, municipalities, organizations,
invitations and the e-mail outbox.

Every time is timezone-aware UTC (`UTCDateTime`); every column that scopes or
filters a list carries an index. The schema itself is made only by the Alembic
migrations in `migrations/`.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


MAX_ROW_ID = 2**31 - 1  # every id column is a 32-bit INTEGER


def is_row_id(value: str) -> bool:
    """Whether `value`, as it comes in a URL, can be the id of a row at all."""
    # The length check comes first: Python refuses to convert a string of more than 4300 digits.
    return len(value) <= len(str(MAX_ROW_ID)) and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ROW_ID


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RoleCode(enum.StrEnum):
    OPERATOR = "operator"
    MUNICIPAL_COORDINATOR = "municipal_coordinator"
    ORGANIZATION_COORDINATOR = "organization_coordinator"
    EXPERT = "expert"


ROLE_NAMES = {
    RoleCode.OPERATOR: "Оператор (сотрудник центра аттестации)",
    RoleCode.MUNICIPAL_COORDINATOR: "Муниципальный координатор по аттестации",
    RoleCode.ORGANIZATION_COORDINATOR: "Координатор по аттестации в образовательной организации",
    RoleCode.EXPERT: "Специалист по аттестации (эксперт)",
}


class MunicipalityKind(enum.StrEnum):
    URBAN_OKRUG = "urban_okrug"
    MUNICIPAL_DISTRICT = "municipal_district"
    DEPARTMENTAL = "departmental"

    @property
    def label(self) -> str:
        return MUNICIPALITY_KIND_LABELS[self]


MUNICIPALITY_KIND_LABELS = {
    MunicipalityKind.URBAN_OKRUG: "Городской округ",
    MunicipalityKind.MUNICIPAL_DISTRICT: "Муниципальный район",
    MunicipalityKind.DEPARTMENTAL: "Ведомственный",
}


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the letter was given up unsent: its invitation was revoked or expired


DELIVERY_STATE_LABELS = {
    DeliveryState.QUEUED: "В очереди",
    DeliveryState.RETRYING: "Не отправлено, повторим",
    DeliveryState.SENT: "Отправлено",
    DeliveryState.FAILED: "Ошибка отправки",
    DeliveryState.CANCELLED: "Письмо отменено",
}


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))

    def __str__(self) -> str:
        return self.name


class Municipality(Base):
    __tablename__ = "municipalities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)

    organizations: Mapped[list[Organization]] = relationship(back_populates="municipality")

    def __str__(self) -> str:
        return self.name


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (UniqueConstraint("municipality_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)

    municipality: Mapped[Municipality] = relationship(back_populates="organizations")

    def __str__(self) -> str:
        return self.name


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254), index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(100))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", use_alter=True), unique=True)
    # When the user ticked the consent to the processing of personal data on the registration form (152-ФЗ);
    # None for accounts created otherwise (the command line, before the consent was asked).
    personal_data_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role: Mapped[Role] = relationship()
    municipality: Mapped[Municipality | None] = relationship()
    organization: Mapped[Organization | None] = relationship()
    invitation: Mapped[Invitation | None] = relationship(foreign_keys=[invitation_id])

    def __str__(self) -> str:
        return self.username


# Logins are unique regardless of case: "Ivan" may not register beside "ivan".
Index("uq_users_username_lower", func.lower(User.username), unique=True)
# The users list is sorted by login: whole, and within a coordinator's municipality or organization.
Index("ix_users_username", User.username)
Index("ix_users_municipality_id_username", User.municipality_id, User.username)
Index("ix_users_organization_id_username", User.organization_id, User.username)


OPEN_INVITATION = "accepted_at IS NULL AND revoked_at IS NULL"
# In each scope (everything, a municipality, an organization): the open invitations by expiry, with the
# delivery state beside it, so that «Ожидают регистрации» is counted from the index alone.
OPEN_INVITATION_INDEXES = (
    ("expires_at", "delivery_state"),
    ("municipality_id", "expires_at", "delivery_state"),
    ("organization_id", "expires_at", "delivery_state"),
)


class Invitation(Base):
    __tablename__ = "invitations"
    # A coordinator's list: the rows of one municipality (or organization), newest first, without a sort.
    __table_args__ = (
        Index("ix_invitations_municipality_id_created_at", "municipality_id", "created_at"),
        Index("ix_invitations_organization_id_created_at", "organization_id", "created_at"),
        *(
            Index(
                f"ix_invitations_open_{'_'.join(columns)}",
                *columns,
                postgresql_where=text(OPEN_INVITATION),
                sqlite_where=text(OPEN_INVITATION),
            )
            for columns in OPEN_INVITATION_INDEXES
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    inviter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    delivery_state: Mapped[str] = mapped_column(String(20), default=DeliveryState.QUEUED, index=True)

    role: Mapped[Role] = relationship()
    municipality: Mapped[Municipality | None] = relationship()
    organization: Mapped[Organization | None] = relationship()
    inviter: Mapped[User | None] = relationship(foreign_keys=[inviter_id])
    accepted_user: Mapped[User | None] = relationship(foreign_keys=[accepted_user_id])

    def __str__(self) -> str:
        return self.email


class PasswordReset(Base):
    """A single-use link to set a new password, sent by «Забыли пароль?»; only the key's hash is kept."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserSession(Base):
    """A login on the server: the cookie carries its random id, the database only the id's SHA-256.
    Revoked (logout, a password or role change, deactivation) or past its limits, it lets nobody in."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the absolute limit
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remembered: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    user: Mapped[User] = relationship()


class RememberToken(Base):
    """«Запомнить меня»: a `selector:validator` cookie; the database keeps the selector and the validator's SHA-256.
    Rotated on every use; replaying a rotated-out validator revokes all of the user's tokens."""

    __tablename__ = "remember_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    selector: Mapped[str] = mapped_column(String(32), unique=True)
    validator_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ThrottleHit(Base):
    """One counted attempt (a failed login, a registration key tried, …) under a throttling key."""

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """The audit trail: who did what, when, from which address. Never a password, key or link with a key."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_name: Mapped[str] = mapped_column(String(254), default="")  # the login as typed, kept if the user goes
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="", index=True)
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_label: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(45), default="")
    details: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship()


class OutboxMessage(Base):
    """One e-mail waiting for, or done with, delivery (the transactional outbox)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), index=True)


class Category(enum.StrEnum):
    """Qualification categories (квалификационные категории) a teacher may apply for or hold."""

    FIRST = "first"
    HIGHEST = "highest"
    METHODIST = "methodist"
    MENTOR = "mentor"


CATEGORY_LABELS = {
    Category.FIRST: "Первая",
    Category.HIGHEST: "Высшая",
    Category.METHODIST: "Педагог-методист",
    Category.MENTOR: "Педагог-наставник",
}


class ApplicationStatus(enum.StrEnum):
    NEW = "new"
    REGISTERED = "registered"
    EXPERTS_ASSIGNED = "experts_assigned"
    UNDER_REVIEW = "under_review"
    REVIEW_DONE = "review_done"
    GRANTED = "granted"
    REFUSED = "refused"
    ARCHIVED = "archived"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"


APPLICATION_STATUS_LABELS = {
    ApplicationStatus.NEW: "Новое (не зарегистрировано)",
    ApplicationStatus.REGISTERED: "Зарегистрировано",
    ApplicationStatus.EXPERTS_ASSIGNED: "Эксперты назначены",
    ApplicationStatus.UNDER_REVIEW: "На экспертизе",
    ApplicationStatus.REVIEW_DONE: "Экспертиза завершена",
    ApplicationStatus.GRANTED: "Решение принято: категория установлена",
    ApplicationStatus.REFUSED: "Решение принято: в установлении категории отказано",
    ApplicationStatus.ARCHIVED: "В архиве",
    ApplicationStatus.RETURNED: "Возвращено на доработку",
    ApplicationStatus.WITHDRAWN: "Отозвано",
}

application_experts = Table(
    "application_experts",
    Base.metadata,
    Column("application_id", ForeignKey("applications.id"), primary_key=True),
    Column("expert_id", ForeignKey("users.id"), primary_key=True, index=True),
)


class Application(Base):
    """A teacher's application for attestation (заявление на аттестацию)."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("municipality_id", "registration_year", "registration_number"),
        # «Просрочены» and «Срок истекает» on the cabinet home read the status beside the deadline, not the rows.
        Index("ix_applications_deadline_status", "deadline", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_full_name: Mapped[str] = mapped_column(String(200), index=True)
    teacher_email: Mapped[str] = mapped_column(String(254))
    teacher_phone: Mapped[str] = mapped_column(String(40), default="")
    position: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    requested_category: Mapped[str] = mapped_column(String(20), index=True)
    current_category: Mapped[str | None] = mapped_column(String(20))
    current_category_date: Mapped[date | None] = mapped_column(Date)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    registration_year: Mapped[int | None] = mapped_column(Integer)
    registration_number: Mapped[int | None] = mapped_column(Integer)
    registered_at: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=ApplicationStatus.NEW, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # SHA-256 of the key in the teacher's status link (admin_app.tokens); None when entered by a coordinator.
    status_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    # When the teacher ticked the consent to the processing of personal data on the public form (152-ФЗ);
    # None when entered by a coordinator, who keeps the teacher's consent on paper.
    personal_data_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()
    municipality: Mapped[Municipality] = relationship()
    experts: Mapped[list[User]] = relationship(secondary=application_experts)
    history: Mapped[list[ApplicationStatusChange]] = relationship(
        back_populates="application", order_by="ApplicationStatusChange.id"
    )
    documents: Mapped[list[Document]] = relationship(order_by="Document.id")

    def __str__(self) -> str:
        return self.teacher_full_name


class ApplicationStatusChange(Base):
    """One step of an application's status history; rows are only ever added."""

    __tablename__ = "application_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")

    application: Mapped[Application] = relationship(back_populates="history")
    actor: Mapped[User | None] = relationship()


class DocumentKind(enum.StrEnum):
    APPLICATION = "application"
    PETITION = "petition"
    CONCLUSION = "conclusion"
    OTHER = "other"


class Recommendation(enum.StrEnum):
    """What an expert's conclusion recommends."""

    GRANT = "grant"
    REFUSE = "refuse"


RECOMMENDATION_LABELS = {
    Recommendation.GRANT: "Рекомендовано установить категорию",
    Recommendation.REFUSE: "Не рекомендовано устанавливать категорию",
}

DOCUMENT_KIND_LABELS = {
    DocumentKind.APPLICATION: "Заявление педагога",
    DocumentKind.PETITION: "Ходатайство",
    DocumentKind.CONCLUSION: "Экспертное заключение",
    DocumentKind.OTHER: "Другой документ",
}


class Document(Base):
    """A file stored with an application: kept under a random name outside the web root."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    recommendation: Mapped[str | None] = mapped_column(String(20))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    uploaded_by: Mapped[User | None] = relationship()
