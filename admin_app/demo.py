"""Demo data (`python -m admin_app demo`): a believable Tomsk oblast to try the system on and take screenshots of.

Everything is made through the rule modules a real user's actions go through (accounts, invitations,
applications, documents, the mail outbox), each step at its own moment in the past, so the data keeps the
same rules as real use: invitations registered, pending, expiring, expired, revoked and failed; applications
in every status with their history, experts, documents and deadlines. The names come from a fixed seed.
No letter is sent: letters of past events are recorded as delivered, the latest stay in the outbox.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from admin_app.accounts import check_password, create_user
from admin_app.applications import (
    DUE_SOON,
    OVERDUE,
    Teacher,
    assign_experts,
    centre_today,
    change_status,
    deadline_clause,
    set_deadline,
    submit_application,
)
from admin_app.auth import CurrentUser
from admin_app.documents import store_document
from admin_app.invitations import (
    STATUS_LABELS,
    InvitationStatus,
    accept_invitation,
    create_invitation,
    remind_invitation,
    resend_invitation,
    revoke_invitation,
    status_clause,
)
from admin_app.login_suggestion import login_from_full_name
from admin_app.mail.outbox import ClaimedMessage, count_by_status, mark_dead, mark_sent, schedule_retry
from admin_app.passwords import hash_password
from models import (
    APPLICATION_STATUS_LABELS,
    ROLE_NAMES,
    Application,
    ApplicationStatus,
    AuditEvent,
    Category,
    DocumentKind,
    Invitation,
    Municipality,
    Organization,
    OutboxMessage,
    OutboxStatus,
    Recommendation,
    Role,
    RoleCode,
    User,
)
from settings import Settings

SEED = 2026
EMAIL_DOMAIN = "example.com"  # reserved for examples: a letter sent there reaches nobody

# Educational organizations of each municipality (3–8 each).
ORGANIZATIONS: dict[str, tuple[str, ...]] = {
    "Город Томск": (
        "МАОУ СОШ № 4 им. И.С. Черных г. Томска",
        "МАОУ гимназия № 6 г. Томска",
        "МАОУ лицей № 8 им. Н.Н. Рукавишникова г. Томска",
        "МАОУ СОШ № 32 г. Томска",
        "МАОУ Заозерная СОШ № 16 г. Томска",
        "МАДОУ детский сад № 12 г. Томска",
        "МАДОУ № 54 г. Томска",
        "МАУ ДО ДДТ «Планирование карьеры» г. Томска",
    ),
    "ЗАТО Северск": (
        "МБОУ «СОШ № 80»",
        "МАОУ «СОШ № 76»",
        "МАОУ «Северский лицей»",
        "МБДОУ «Детский сад № 7»",
        "МБУДО «Детско-юношеский центр»",
    ),
    "Город Стрежевой": (
        "МОУ «СОШ № 1» г. Стрежевого",
        "МОУ «СОШ № 4» г. Стрежевого",
        "МОУ «Гимназия № 1» г. Стрежевого",
        "МДОУ «Детский сад № 5 «Семицветик»",
    ),
    "Город Кедровый": (
        "МАОУ СОШ № 1 г. Кедрового",
        "МАОУ Пудинская СОШ",
        "МБДОУ детский сад № 1 «Родничок» г. Кедрового",
    ),
    "Александровский район": (
        "МАОУ СОШ № 1 с. Александровского",
        "МАОУ СОШ № 2 с. Александровского",
        "МКОУ Лукашкин-Ярская СОШ",
        "МАДОУ детский сад «Малышок» с. Александровского",
    ),
    "Асиновский район": (
        "МАОУ СОШ № 1 г. Асино",
        "МАОУ гимназия № 2 г. Асино",
        "МАОУ СОШ № 4 г. Асино",
        "МБОУ СОШ с. Ново-Кусково",
        "МАДОУ детский сад № 9 г. Асино",
    ),
    "Бакчарский район": (
        "МБОУ «Бакчарская СОШ»",
        "МБОУ «Плотниковская СОШ»",
        "МБОУ «Парбигская СОШ им. В.Н. Маркова»",
        "МАДОУ «Бакчарский детский сад № 2»",
    ),
    "Верхнекетский район": (
        "МАОУ «Белоярская СОШ № 1»",
        "МАОУ «Степановская СОШ»",
        "МБОУ «Клюквинская СОШ»",
        "МАДОУ «Белоярский детский сад № 2»",
    ),
    "Зырянский район": (
        "МБОУ «Зырянская СОШ»",
        "МБОУ «Чердатская СОШ»",
        "МБОУ «Михайловская СОШ»",
        "МБДОУ Зырянский детский сад № 1",
    ),
    "Каргасокский район": (
        "МБОУ «Каргасокская СОШ № 1»",
        "МБОУ «Каргасокская СОШ № 2»",
        "МБОУ «Средневасюганская СОШ»",
        "МБОУ «Новоюгинская СОШ»",
        "МБДОУ «Каргасокский детский сад № 3»",
    ),
    "Кожевниковский район": (
        "МБОУ «Кожевниковская СОШ № 1»",
        "МБОУ «Кожевниковская СОШ № 2»",
        "МБОУ «Уртамская СОШ»",
        "МБДОУ «Кожевниковский детский сад № 1»",
    ),
    "Колпашевский район": (
        "МАОУ «СОШ № 2» г. Колпашево",
        "МБОУ «СОШ № 7» г. Колпашево",
        "МБОУ «Тогурская СОШ им. С.В. Маслова»",
        "МБОУ «Новоселовская СОШ»",
        "МБДОУ «Детский сад № 1» г. Колпашево",
    ),
    "Кривошеинский район": (
        "МБОУ «Кривошеинская СОШ им. Героя Советского Союза Ф.М. Зинченко»",
        "МБОУ «Иштанская СОШ»",
        "МБОУ «Володинская СОШ»",
        "МБДОУ «Детский сад «Колосок»",
    ),
    "Молчановский район": (
        "МАОУ «Молчановская СОШ № 1»",
        "МАОУ «Молчановская СОШ № 2»",
        "МАОУ «Наргинская СОШ»",
        "МАДОУ «Детский сад «Светлячок» с. Молчаново",
    ),
    "Парабельский район": (
        "МБОУ «Парабельская гимназия»",
        "МБОУ «Нарымская СОШ»",
        "МКОУ «Старицинская СОШ»",
        "МБДОУ Парабельский детский сад «Солнышко»",
    ),
    "Первомайский район": (
        "МАОУ «Первомайская СОШ»",
        "МАОУ «Комсомольская СОШ»",
        "МБОУ «Улу-Юльская СОШ»",
        "МАДОУ Первомайский детский сад «Сказка»",
    ),
    "Тегульдетский район": (
        "МБОУ «Тегульдетская СОШ»",
        "МБОУ «Белоярская СОШ»",
        "МКОУ «Берегаевская СОШ»",
    ),
    "Томский район": (
        "МБОУ Зональненская СОШ",
        "МАОУ «Мирненская СОШ»",
        "МБОУ «Корниловская СОШ»",
        "МАОУ «Спасская СОШ»",
        "МАОУ «Рассветовская СОШ»",
        "МБОУ «Богашевская СОШ им. А.И. Федорова»",
        "МБДОУ «Детский сад с. Моряковский Затон»",
    ),
    "Чаинский район": (
        "МБОУ «Подгорнская СОШ»",
        "МБОУ «Коломинская СОШ»",
        "МБОУ «Усть-Бакчарская СОШ»",
        "МБДОУ «Подгорнский детский сад»",
    ),
    "Шегарский район": (
        "МКОУ «Шегарская СОШ № 1»",
        "МКОУ «Шегарская СОШ № 2»",
        "МКОУ «Побединская СОШ»",
        "МКОУ «Баткатская СОШ»",
    ),
    "Культура и искусство": (
        "ОГБПОУ «Томский музыкальный колледж им. Э.В. Денисова»",
        "МАУДО «Детская школа искусств № 3» г. Томска",
        "МБУДО «Детская художественная школа № 1» г. Томска",
    ),
    "Физическая культура и спорт": (
        "ОГБПОУ «Томский техникум олимпийского резерва»",
        "МАУДО «Спортивная школа № 6» г. Томска",
        "ОГАУ ДО «Спортивная школа олимпийского резерва по лёгкой атлетике»",
    ),
}

# Where the demo has a municipal coordinator, organization coordinators, experts and applications.
COORDINATED = (
    "Город Томск",
    "ЗАТО Северск",
    "Томский район",
    "Асиновский район",
    "Колпашевский район",
    "Каргасокский район",
)
ORGANIZATION_COORDINATORS_EACH = 2
EXPERTS_EACH = 3

# Surnames in the masculine form ending -ов/-ев/-ин (the feminine adds «а»).
SURNAMES = (
    "Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
    "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Борисов",
    "Яковлев", "Григорьев", "Романов", "Сергеев", "Кузьмин", "Фролов", "Дмитриев", "Гусев", "Ильин",
    "Максимов", "Поляков", "Сорокин", "Виноградов", "Белов", "Медведев", "Антонов", "Тарасов", "Жуков",
    "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров",
    "Матвеев", "Титов", "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Денисов",
    "Гаврилов", "Тихонов", "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов",
    "Мартынов", "Ефимов", "Щербаков", "Назаров", "Калинин", "Исаев", "Быков", "Маслов", "Родионов",
    "Лазарев", "Воронин", "Климов", "Филатов", "Голубев", "Прохоров", "Наумов", "Потапов", "Трофимов",
)  # fmt: skip
FEMALE_NAMES = (
    "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Екатерина", "Юлия",
    "Галина", "Марина", "Людмила", "Надежда", "Валентина", "Оксана", "Виктория", "Алёна", "Ксения",
    "Дарья", "Евгения", "Любовь", "Лариса", "Вера",
)  # fmt: skip
MALE_NAMES = (
    "Александр", "Сергей", "Андрей", "Алексей", "Дмитрий", "Игорь", "Владимир", "Николай", "Михаил",
    "Евгений", "Павел", "Виктор", "Олег", "Константин", "Юрий",
)  # fmt: skip
# Patronymics without the ending: «-ич» for a man, «-на» for a woman.
PATRONYMIC_STEMS = (
    "Александров", "Сергеев", "Андреев", "Алексеев", "Дмитриев", "Игорев", "Владимиров", "Николаев",
    "Михайлов", "Евгеньев", "Павлов", "Викторов", "Олегов", "Юрьев", "Иванов", "Петров", "Анатольев",
    "Геннадьев", "Валерьев", "Васильев",
)  # fmt: skip
FEMALE_SHARE = 0.8  # most teachers, coordinators and experts are women

SCHOOL_POSITIONS = (
    "учитель математики",
    "учитель русского языка и литературы",
    "учитель начальных классов",
    "учитель английского языка",
    "учитель истории и обществознания",
    "учитель физики",
    "учитель химии и биологии",
    "учитель информатики",
    "учитель физической культуры",
    "педагог-психолог",
    "социальный педагог",
)
PRESCHOOL_POSITIONS = ("воспитатель", "старший воспитатель", "музыкальный руководитель", "учитель-логопед")
EXTRACURRICULAR_POSITIONS = ("педагог дополнительного образования", "преподаватель", "тренер-преподаватель")

RETURN_REASON = "Не приложена копия аттестационного листа по предыдущей аттестации; просим дополнить заявление."
REFUSAL_REASON = "По результатам всестороннего анализа профессиональной деятельности уровень не подтверждён."
WITHDRAWAL_REASON = "Педагог отозвал заявление: переходит на работу в другую организацию."
DELIVERY_FAILURE = "550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table"
TEMPORARY_FAILURE = "421 4.7.0 Try again later, closing connection"

S = ApplicationStatus
REVIEW_PATH = (S.REGISTERED, S.EXPERTS_ASSIGNED, S.UNDER_REVIEW, S.REVIEW_DONE)
# The steps after submission that lead to each status.
PATHS: dict[ApplicationStatus, tuple[ApplicationStatus, ...]] = {
    S.NEW: (),
    S.RETURNED: (S.RETURNED,),
    S.REGISTERED: (S.REGISTERED,),
    S.EXPERTS_ASSIGNED: REVIEW_PATH[:2],
    S.UNDER_REVIEW: REVIEW_PATH[:3],
    S.REVIEW_DONE: REVIEW_PATH,
    S.GRANTED: (*REVIEW_PATH, S.GRANTED),
    S.REFUSED: (*REVIEW_PATH, S.REFUSED),
    S.ARCHIVED: (*REVIEW_PATH, S.GRANTED, S.ARCHIVED),
    S.WITHDRAWN: (S.REGISTERED, S.WITHDRAWN),
}


@dataclass(frozen=True)
class Scenario:
    """One application: where it ends, when it was submitted, what it asks for, its deadline (days from today)."""

    status: ApplicationStatus
    days_ago: int
    category: Category = Category.FIRST
    deadline_in: int | None = None
    resubmitted: bool = False  # returned for rework, then submitted again


SCENARIOS = (
    Scenario(S.NEW, 1),
    Scenario(S.NEW, 3, Category.HIGHEST),
    Scenario(S.NEW, 12, resubmitted=True),
    Scenario(S.NEW, 2, Category.MENTOR),
    Scenario(S.RETURNED, 6),
    Scenario(S.REGISTERED, 8),
    Scenario(S.REGISTERED, 15, Category.HIGHEST),
    Scenario(S.EXPERTS_ASSIGNED, 20),
    Scenario(S.EXPERTS_ASSIGNED, 48, Category.HIGHEST, deadline_in=-4),
    Scenario(S.UNDER_REVIEW, 30, Category.METHODIST),
    Scenario(S.UNDER_REVIEW, 52, deadline_in=3),
    Scenario(S.UNDER_REVIEW, 75, Category.HIGHEST, deadline_in=-11),
    Scenario(S.UNDER_REVIEW, 40),
    Scenario(S.REVIEW_DONE, 45, deadline_in=5),
    Scenario(S.REVIEW_DONE, 58, Category.HIGHEST),
    Scenario(S.GRANTED, 90),
    Scenario(S.GRANTED, 82, Category.HIGHEST),
    Scenario(S.GRANTED, 70, Category.MENTOR),
    Scenario(S.REFUSED, 86, Category.HIGHEST),
    Scenario(S.ARCHIVED, 210),
    Scenario(S.ARCHIVED, 160, Category.HIGHEST),
    Scenario(S.WITHDRAWN, 25),
    Scenario(S.NEW, 0),
    Scenario(S.REGISTERED, 5),
)


@dataclass(frozen=True)
class PendingInvite:
    """An invitation nobody registered by, sent by the municipality's coordinator (else by the operator).

    `state`: pending, expiring (within a day, reminded), expired, resent (expired, then sent again), revoked
    (after delivery), revoked_unsent (its letter cancelled), failed (refused by the mail server),
    retrying (a temporary failure, tried again soon) or queued (its letter still in the outbox)."""

    municipality: str
    role: RoleCode
    state: str
    coordinator: bool = True


UNREGISTERED = (
    PendingInvite("Чаинский район", RoleCode.MUNICIPAL_COORDINATOR, "pending", coordinator=False),
    PendingInvite("Тегульдетский район", RoleCode.MUNICIPAL_COORDINATOR, "expired", coordinator=False),
    PendingInvite("Бакчарский район", RoleCode.MUNICIPAL_COORDINATOR, "failed", coordinator=False),
    PendingInvite("Зырянский район", RoleCode.MUNICIPAL_COORDINATOR, "revoked", coordinator=False),
    PendingInvite("Город Томск", RoleCode.EXPERT, "pending"),
    PendingInvite("Город Томск", RoleCode.EXPERT, "expiring"),
    PendingInvite("Город Томск", RoleCode.ORGANIZATION_COORDINATOR, "queued"),
    PendingInvite("ЗАТО Северск", RoleCode.EXPERT, "expired"),
    PendingInvite("ЗАТО Северск", RoleCode.ORGANIZATION_COORDINATOR, "revoked_unsent"),
    PendingInvite("Томский район", RoleCode.EXPERT, "retrying"),
    PendingInvite("Томский район", RoleCode.EXPERT, "failed"),
    PendingInvite("Асиновский район", RoleCode.ORGANIZATION_COORDINATOR, "pending"),
    PendingInvite("Асиновский район", RoleCode.EXPERT, "resent"),
    PendingInvite("Колпашевский район", RoleCode.EXPERT, "expiring"),
    PendingInvite("Каргасокский район", RoleCode.EXPERT, "expired"),
)

MUNICIPAL = RoleCode.MUNICIPAL_COORDINATOR
KEY_IN_LINK = re.compile(r"[?&]k=([\w-]+)")


class DemoError(ValueError):
    """The demo cannot be loaded here; the message is for the operator."""


@dataclass
class Person:
    full_name: str
    login: str
    email: str


@dataclass
class DemoResult:
    """What was made, for the summary: the logins by role (with the municipality where there is one)."""

    logins: dict[RoleCode, list[str]] = field(default_factory=dict)


def database_is_fresh(session: Session) -> bool:
    """No invitations, no applications and no users besides at most one operator (as `bootstrap` leaves it)."""
    users = session.execute(select(Role.code).join(User, User.role_id == Role.id)).scalars().all()
    return (
        len(users) <= 1
        and all(code == RoleCode.OPERATOR for code in users)
        and session.scalar(select(func.count(Invitation.id))) == 0
        and session.scalar(select(func.count(Application.id))) == 0
    )


def fill_demo(session: Session, settings: Settings, *, password: str, now: datetime, force: bool) -> DemoResult:
    """Add the demo region to a migrated database with the reference loaded; every demo user gets `password`."""
    if not force and not database_is_fresh(session):
        raise DemoError(
            "В базе уже есть пользователи, приглашения или заявления: демонстрационные данные загружаются "
            "только в новую базу (после migrate или bootstrap). Чтобы всё же добавить их, укажите --force."
        )
    return _DemoBuilder(session, settings, password, now).build()


class _DemoBuilder:
    def __init__(self, session: Session, settings: Settings, password: str, now: datetime) -> None:
        self.session = session
        self.settings = settings
        self.password = password
        self.password_hash = hash_password(password, settings.bcrypt_rounds)  # once: bcrypt is slow on purpose
        self.now = now
        self.rng = random.Random(SEED)
        self.ttl = timedelta(days=settings.invitation_ttl_days)
        self.taken_logins: set[str] = {login.lower() for login in session.scalars(select(User.username))}
        self.taken_emails: set[str] = {email.lower() for email in session.scalars(select(User.email))}
        self.municipalities: dict[str, Municipality] = {}
        self.organizations: dict[str, list[Organization]] = {}
        self.coordinators: dict[str, User] = {}
        self.organization_coordinators: dict[int, User] = {}
        self.experts: dict[str, list[User]] = {}
        self.keep_queued: set[int] = set()
        self.result = DemoResult()

    def build(self) -> DemoResult:
        self._add_organizations()
        self.operator = self._add_operator()
        self._register_people()
        self._leave_invitations_unregistered()
        self._add_applications()
        self._deliver_past_letters()
        return self.result

    # --- places and people

    def _add_organizations(self) -> None:
        for municipality in self.session.scalars(select(Municipality)):
            self.municipalities[municipality.name] = municipality
        missing = set(ORGANIZATIONS) - set(self.municipalities)
        if missing:
            raise DemoError("Не загружен справочник муниципалитетов: выполните load-reference.")
        for name, organization_names in ORGANIZATIONS.items():
            municipality = self.municipalities[name]
            existing = {
                organization.name: organization
                for organization in self.session.scalars(
                    select(Organization).where(Organization.municipality_id == municipality.id)
                )
            }
            rows = [
                existing.get(title) or Organization(name=title, municipality=municipality)
                for title in organization_names
            ]
            self.session.add_all(rows)
            self.organizations[name] = rows
        self.session.flush()

    def _person(self) -> Person:
        female = self.rng.random() < FEMALE_SHARE
        surname = self.rng.choice(SURNAMES) + ("а" if female else "")
        first = self.rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        patronymic = self.rng.choice(PATRONYMIC_STEMS) + ("на" if female else "ич")
        full_name = f"{surname} {first} {patronymic}"
        base = login_from_full_name(full_name)  # the login registration would offer
        login, number = base, 1
        while login in self.taken_logins:
            number += 1
            login = f"{base}{number}"
        self.taken_logins.add(login)
        email = f"{login}@{EMAIL_DOMAIN}"
        self.taken_emails.add(email)
        return Person(full_name, login, email)

    def _add_operator(self) -> User:
        person = self._person()
        check_password(self.password, person.login, person.email)
        operator = create_user(
            self.session,
            role_code=RoleCode.OPERATOR,
            username=person.login,
            email=person.email,
            full_name=person.full_name,
            password_hash=self.password_hash,
        )
        operator.created_at = self.now - timedelta(days=400)
        self._note_login(RoleCode.OPERATOR, operator.username)
        return operator

    def _register_people(self) -> None:
        """Everyone else registers by invitation: a second operator and the municipal coordinators by the
        operator's, organization coordinators and experts by their municipal coordinator's."""
        self._invite_and_register(self.operator, RoleCode.OPERATOR, None, None, days_ago=300)
        for index, name in enumerate(COORDINATED):
            municipality_id = self.municipalities[name].id
            coordinator = self._invite_and_register(
                self.operator, RoleCode.MUNICIPAL_COORDINATOR, municipality_id, None, days_ago=200 - 7 * index
            )
            self.coordinators[name] = coordinator
            organizations = self.organizations[name][:ORGANIZATION_COORDINATORS_EACH]
            for number, organization in enumerate(organizations):
                self.organization_coordinators[organization.id] = self._invite_and_register(
                    coordinator, RoleCode.ORGANIZATION_COORDINATOR, None, organization.id, days_ago=150 - 5 * number
                )
            self.experts[name] = [
                self._invite_and_register(
                    coordinator, RoleCode.EXPERT, municipality_id, None, days_ago=140 - 4 * number
                )
                for number in range(EXPERTS_EACH)
            ]

    def _invite_and_register(
        self, inviter: User, role: RoleCode, municipality_id: int | None, organization_id: int | None, *, days_ago: int
    ) -> User:
        sent = self.now - timedelta(days=days_ago, hours=self.rng.randint(0, 8))
        invitation, person = self._invite(inviter, role, municipality_id, organization_id, sent)
        key = self._deliver_invitation(invitation, sent + timedelta(minutes=2))
        accepted = sent + min(self.ttl / 2, timedelta(hours=self.rng.randint(3, 40)))
        with self._dated(accepted):
            user = accept_invitation(
                self.session,
                key,
                username=person.login,
                password_hash=self.password_hash,
                municipality_id=None,
                now=accepted,
            )
            user.created_at = accepted
            user.last_login_at = accepted + timedelta(minutes=5)
        place = f" ({self.session.get_one(Municipality, user.municipality_id)})" if role is MUNICIPAL else ""
        self._note_login(role, user.username + place)
        return user

    def _invite(
        self, inviter: User, role: RoleCode, municipality_id: int | None, organization_id: int | None, when: datetime
    ) -> tuple[Invitation, Person]:
        person = self._person()
        check_password(self.password, person.login, person.email)
        with self._dated(when):
            invitation = create_invitation(
                self.session,
                CurrentUser.of(inviter),
                role=role,
                email=person.email,
                municipality_id=municipality_id,
                organization_id=organization_id,
                settings=self.settings,
                now=when,
                full_name=person.full_name,
            )
        return invitation, person

    def _note_login(self, role: RoleCode, login: str) -> None:
        self.result.logins.setdefault(role, []).append(login)

    # --- invitations nobody registered by

    def _leave_invitations_unregistered(self) -> None:
        for plan in UNREGISTERED:
            municipality = self.municipalities[plan.municipality]
            inviter = self.coordinators[plan.municipality] if plan.coordinator else self.operator
            organization_id = None
            if plan.role is RoleCode.ORGANIZATION_COORDINATOR:
                organization_id = self.organizations[plan.municipality][ORGANIZATION_COORDINATORS_EACH].id
            self._unregistered(plan.state, inviter, plan.role, municipality.id, organization_id)

    def _unregistered(
        self, state: str, inviter: User, role: RoleCode, municipality_id: int, organization_id: int | None
    ) -> None:
        started = {
            "pending": self.now - self.ttl * 0.3,
            "expiring": self.now - self.ttl + timedelta(hours=20),
            "expired": self.now - self.ttl - timedelta(days=6),
            "resent": self.now - self.ttl - timedelta(days=3),
            "revoked": self.now - timedelta(days=9),
            "revoked_unsent": self.now - timedelta(minutes=40),
            "failed": self.now - timedelta(hours=26),
            "retrying": self.now - timedelta(minutes=25),
            "queued": self.now - timedelta(minutes=3),
        }[state]
        invitation, _ = self._invite(inviter, role, municipality_id, organization_id, started)
        actor = CurrentUser.of(inviter)
        if state in ("pending", "expiring", "expired", "resent", "revoked"):
            self._deliver_invitation(invitation, started + timedelta(minutes=2))
        if state == "expiring":
            reminded = self.now - timedelta(hours=2)
            with self._dated(reminded):
                remind_invitation(self.session, invitation.id, settings=self.settings, now=reminded)
        elif state == "resent":
            resent = self.now - timedelta(days=1)
            with self._dated(resent):
                resend_invitation(self.session, actor, invitation.id, settings=self.settings, now=resent)
            self._deliver_invitation(invitation, resent + timedelta(minutes=2))
        elif state in ("revoked", "revoked_unsent"):
            revoked = started + timedelta(minutes=30) if state == "revoked_unsent" else started + timedelta(days=2)
            with self._dated(revoked):
                revoke_invitation(self.session, actor, invitation.id, now=revoked)
        elif state == "failed":
            mark_dead(self.session, ClaimedMessage.of(self._letter_of(invitation)), error=DELIVERY_FAILURE)
        elif state == "retrying":
            message = self._letter_of(invitation)
            schedule_retry(self.session, ClaimedMessage.of(message), error=TEMPORARY_FAILURE, now=self.now)
            self.keep_queued.add(message.id)
        elif state == "queued":
            self.keep_queued.add(self._letter_of(invitation).id)

    # --- applications

    def _add_applications(self) -> None:
        for index, scenario in enumerate(SCENARIOS):
            self._application(COORDINATED[index % len(COORDINATED)], scenario)

    def _application(self, municipality: str, scenario: Scenario) -> None:
        organization = self.rng.choice(self.organizations[municipality])
        coordinator = self.coordinators[municipality]
        submitter = self.organization_coordinators.get(organization.id, coordinator)
        teacher = self._teacher(organization, scenario.category)
        submitted = self.now - timedelta(days=scenario.days_ago, hours=self.rng.randint(1, 6))
        with self._dated(submitted):
            application = submit_application(self.session, teacher, actor=CurrentUser.of(submitter), now=submitted)
            self.session.flush()
            surname, first, patronymic = teacher.full_name.split()
            self._document(
                application,
                DocumentKind.APPLICATION,
                f"Заявление {surname} {first[0]}.{patronymic[0]}.",
                submitter,
                submitted,
            )
            if scenario.category in (Category.METHODIST, Category.MENTOR):
                self._document(application, DocumentKind.PETITION, "Ходатайство работодателя", submitter, submitted)
        steps = PATHS[scenario.status]
        if scenario.resubmitted:
            steps = (S.RETURNED, S.NEW)
        experts = self.rng.sample(self.experts[municipality], k=self.rng.choice((1, 2)))
        span = max(scenario.days_ago * 24 - 6, 1)
        for number, step in enumerate(steps, start=1):
            when = submitted + timedelta(hours=span * number / (len(steps) + 1))
            actor = self._actor_for(step, coordinator, submitter, experts[0])
            with self._dated(when):
                if step is S.EXPERTS_ASSIGNED:
                    expert_ids = [expert.id for expert in experts]
                    coordinating = CurrentUser.of(coordinator)
                    assign_experts(self.session, application, expert_ids, actor=coordinating, settings=self.settings)
                if step is S.REVIEW_DONE:
                    advice = Recommendation.REFUSE if scenario.status is S.REFUSED else Recommendation.GRANT
                    self._document(
                        application, DocumentKind.CONCLUSION, "Экспертное заключение", experts[0], when, advice
                    )
                change_status(
                    self.session,
                    application,
                    step,
                    actor=CurrentUser.of(actor),
                    comment=_comment(step),
                    settings=self.settings,
                    now=when,
                )
            if step is S.REGISTERED and scenario.deadline_in is not None:
                with self._dated(when + timedelta(hours=1)):
                    deadline = centre_today(self.now) + timedelta(days=scenario.deadline_in)
                    set_deadline(application, deadline, actor=CurrentUser.of(coordinator))

    def _actor_for(self, step: ApplicationStatus, coordinator: User, submitter: User, expert: User) -> User:
        if step in (S.UNDER_REVIEW, S.REVIEW_DONE):
            return expert
        if step in (S.GRANTED, S.REFUSED, S.ARCHIVED):
            return self.operator
        if step in (S.WITHDRAWN, S.NEW):
            return submitter
        return coordinator

    def _teacher(self, organization: Organization, category: Category) -> Teacher:
        person = self._person()
        title = organization.name.lower()
        if "детский сад" in title or "доу" in title:
            positions = PRESCHOOL_POSITIONS
        elif "до " in title or "дод" in title or "удо" in title or "колледж" in title or "техникум" in title:
            positions = EXTRACURRICULAR_POSITIONS
        else:
            positions = SCHOOL_POSITIONS
        current = None
        if category is not Category.FIRST:
            current = Category.FIRST if category is Category.HIGHEST else Category.HIGHEST
        held_since = date(self.now.year - self.rng.randint(2, 4), self.rng.randint(1, 12), self.rng.randint(1, 28))
        return Teacher(
            full_name=person.full_name,
            email=person.email,
            phone=f"+7 913 {self.rng.randint(100, 999)}-{self.rng.randint(10, 99)}-{self.rng.randint(10, 99)}",
            position=self.rng.choice(positions),
            organization_id=organization.id,
            requested_category=category,
            current_category=current,
            current_category_date=held_since if current else None,
        )

    def _document(
        self,
        application: Application,
        kind: DocumentKind,
        title: str,
        uploader: User,
        when: datetime,
        recommendation: Recommendation | None = None,
    ) -> None:
        store_document(
            self.session,
            application,
            kind=kind,
            filename=f"{title}.pdf",
            content=_blank_pdf(),
            recommendation=recommendation or "",
            actor=CurrentUser.of(uploader),
            storage_dir=self.settings.documents_dir,
            max_bytes=self.settings.document_max_mb * 1024 * 1024,
            now=when,
        )

    # --- letters and time

    @contextmanager
    def _dated(self, when: datetime) -> Iterator[None]:
        """Whatever audit events and letters the block adds happened at `when` (the rule modules stamp them now)."""
        self.session.flush()
        last_event = self.session.scalar(select(func.max(AuditEvent.id))) or 0
        last_letter = self.session.scalar(select(func.max(OutboxMessage.id))) or 0
        yield
        self.session.flush()
        self.session.execute(
            update(AuditEvent)
            .where(AuditEvent.id > last_event)
            .values(at=when)
            .execution_options(synchronize_session=False)
        )
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id > last_letter)
            .values(created_at=when, next_attempt_at=when)
            .execution_options(synchronize_session=False)
        )

    def _letter_of(self, invitation: Invitation) -> OutboxMessage:
        """The invitation's letter waiting in the outbox."""
        return self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.invitation_id == invitation.id, OutboxMessage.status == OutboxStatus.PENDING)
            .execution_options(populate_existing=True)
        ).one()

    def _deliver_invitation(self, invitation: Invitation, when: datetime) -> str:
        """Record the invitation's letter as delivered at `when`; the key its link carried."""
        message = self._letter_of(invitation)
        found = KEY_IN_LINK.search(message.body_text or "")
        assert found, "an invitation letter carries its registration link"
        mark_sent(self.session, ClaimedMessage.of(message), now=when)
        return found.group(1)

    def _deliver_past_letters(self) -> None:
        """Letters of past events (experts' notices, reminders) count as delivered; the latest stay queued."""
        self.session.flush()
        waiting = self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        ).all()
        for message in waiting:
            if message.id not in self.keep_queued:
                mark_sent(
                    self.session,
                    ClaimedMessage.of(message),
                    now=min(message.created_at + timedelta(minutes=3), self.now),
                )


def _comment(step: ApplicationStatus) -> str:
    return {S.RETURNED: RETURN_REASON, S.REFUSED: REFUSAL_REASON, S.WITHDRAWN: WITHDRAWAL_REASON}.get(step, "")


def _blank_pdf() -> bytes:
    """A valid one-page PDF (an empty A4 page): the stored documents open in any viewer."""
    objects = (
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    )
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table)
    return bytes(pdf)


# --- the summary


def summary_lines(session: Session, result: DemoResult, *, now: datetime) -> list[str]:
    """What the database now holds, in Russian, for the operator who ran the command."""
    users = Counter(session.scalars(select(Role.code).join(User, User.role_id == Role.id)))
    invitations = {status: _count(session, Invitation.id, status_clause(status, now)) for status in InvitationStatus}
    soon = now + timedelta(days=3)
    expiring = _count(
        session, Invitation.id, status_clause(InvitationStatus.PENDING, now), Invitation.expires_at <= soon
    )
    applications = Counter(session.scalars(select(Application.status)))
    today = centre_today(now)
    outbox = count_by_status(session)
    lines = [
        "Демонстрационные данные загружены.",
        f"Муниципалитетов: {_count(session, Municipality.id)}; "
        f"образовательных организаций: {_count(session, Organization.id)}.",
        "Пользователи:",
        *(f"  {ROLE_NAMES[role]} — {users[role]}" for role in RoleCode),
        "Приглашения:",
        *(f"  {STATUS_LABELS[status]} — {invitations[status]}" for status in InvitationStatus),
        f"  (из ожидающих истекают в ближайшие 3 дня — {expiring})",
        "Заявления на аттестацию:",
        *(f"  {APPLICATION_STATUS_LABELS[status]} — {applications[status]}" for status in ApplicationStatus),
        f"  (срок аттестации просрочен — {_count(session, Application.id, deadline_clause(OVERDUE, today))}, "
        f"истекает в ближайшие 7 дней — {_count(session, Application.id, deadline_clause(DUE_SOON, today))})",
        "Имена пользователей демонстрационных учётных записей:",
        *(f"  {ROLE_NAMES[role]}: {', '.join(result.logins.get(role, []))}" for role in RoleCode),
        f"Письма не отправлялись: письма прошлых событий отмечены отправленными, в очереди осталось "
        f"{outbox[OutboxStatus.PENDING]}. Адреса вымышленные (@{EMAIL_DOMAIN}); "
        "команда send-mail отправила бы их.",
    ]
    return lines


def _count(session: Session, column: Any, *where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count(column)).where(*where)) or 0
