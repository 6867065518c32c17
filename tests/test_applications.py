"""Attestation applications: submission rules, the status machine, experts and deadlines."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from admin_app.applications import (
    TRANSITIONS,
    ApplicationError,
    Teacher,
    assign_experts,
    change_status,
    deadline_flag,
    registration_label,
    set_deadline,
    submit_application,
)
from admin_app.auth import CurrentUser
from models import Application, ApplicationStatus, ApplicationStatusChange, Category, RoleCode, User
from tests.invitation_helpers import add_organization, municipality_id

S = ApplicationStatus
NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # 12:00 in Tomsk


@pytest.fixture
def world(session_factory, make_user):
    """A school and a gymnasium in the Tomsk district, one school in Seversk, and a user of every role."""
    tomsk = municipality_id(session_factory, "Томский район")
    seversk = municipality_id(session_factory, "ЗАТО Северск")
    school = add_organization(session_factory, "Корниловская СОШ", "Томский район")
    gymnasium = add_organization(session_factory, "Гимназия в Итатке", "Томский район")
    far_school = add_organization(session_factory, "Северская СОШ № 1", "ЗАТО Северск")
    users = {
        "operator": make_user("operator1"),
        "municipal": make_user("municipal", role="municipal_coordinator", municipality_id=tomsk),
        "far_municipal": make_user("far", role="municipal_coordinator", municipality_id=seversk),
        "school": make_user("school", role="organization_coordinator", organization_id=school),
        "expert": make_user("expert", role="expert", municipality_id=tomsk, organization_id=gymnasium),
        "expert_same_school": make_user("colleague", role="expert", municipality_id=tomsk, organization_id=school),
        "far_expert": make_user("far.expert", role="expert", municipality_id=seversk),
    }
    return {"school_id": school, "far_school_id": far_school, "tomsk": tomsk, **users}


def actor(session_factory, user: User) -> CurrentUser:
    with session_factory() as session:
        return CurrentUser.of(session.get(User, user.id, options=[joinedload(User.role)]))


def teacher(organization_id: int, **changes: object) -> Teacher:
    fields = {
        "full_name": "Петрова Анна Ивановна",
        "email": "petrova@example.ru",
        "phone": "+7 913 000-00-00",
        "position": "учитель математики",
        "organization_id": organization_id,
        "requested_category": Category.FIRST,
    }
    return Teacher(**{**fields, **changes})  # type: ignore[arg-type]


def submit(session_factory, world, by: str = "school", **changes: object) -> int:
    with session_factory.begin() as session:
        application = submit_application(
            session,
            teacher(changes.pop("organization_id", world["school_id"]), **changes),
            actor=actor(session_factory, world[by]),
            now=NOW,
        )
        session.flush()
        return application.id


def step(session_factory, settings, world, application_id: int, to: ApplicationStatus, by: str, comment: str = ""):
    with session_factory.begin() as session:
        application = session.get(Application, application_id)
        change_status(
            session,
            application,
            to,
            actor=actor(session_factory, world[by]),
            comment=comment,
            settings=settings,
            now=NOW,
        )


def load(session_factory, application_id: int) -> Application:
    with session_factory() as session:
        return session.scalar(
            select(Application)
            .where(Application.id == application_id)
            .options(joinedload(Application.experts), joinedload(Application.history))
        )


def test_school_coordinator_submits_for_own_school_only(session_factory, world) -> None:
    application = load(session_factory, submit(session_factory, world))
    assert application.status == S.NEW and application.municipality_id == world["tomsk"]
    with pytest.raises(ApplicationError, match="Выберите образовательную организацию"):
        submit(session_factory, world, organization_id=world["far_school_id"])


@pytest.mark.parametrize("category", [Category.METHODIST, Category.MENTOR])
def test_methodist_and_mentor_need_the_highest_category(session_factory, world, category) -> None:
    with pytest.raises(ApplicationError, match="высшей квалификационной категорией"):
        submit(session_factory, world, requested_category=category, current_category=Category.FIRST)
    submit(session_factory, world, requested_category=category, current_category=Category.HIGHEST)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"full_name": "  "}, "ФИО педагога"),
        ({"email": "not-an-address"}, "Неверный адрес"),
        ({"requested_category": "вторая"}, "категорию из списка"),
    ],
)
def test_bad_submission_is_refused_and_writes_nothing(session_factory, world, changes, message) -> None:
    with pytest.raises(ApplicationError, match=message):
        submit(session_factory, world, **changes)
    with session_factory() as session:
        assert session.scalars(select(Application)).all() == []


def test_the_whole_life_of_an_application(session_factory, settings, world) -> None:
    application_id = submit(session_factory, world)
    step(session_factory, settings, world, application_id, S.REGISTERED, "municipal")
    registered = load(session_factory, application_id)
    assert registration_label(registered) == "1/2026"
    assert registered.registered_at == date(2026, 12, 3)
    assert registered.deadline == date(2026, 12, 3) + timedelta(days=60)
    with session_factory.begin() as session:
        assign_experts(
            session,
            session.get(Application, application_id),
            [world["expert"].id],
            actor=actor(session_factory, world["municipal"]),
            settings=settings,
        )
    for to, by in (
        (S.EXPERTS_ASSIGNED, "municipal"),
        (S.UNDER_REVIEW, "expert"),
        (S.REVIEW_DONE, "expert"),
        (S.GRANTED, "operator"),
        (S.ARCHIVED, "operator"),
    ):
        step(session_factory, settings, world, application_id, to, by)
    history = load(session_factory, application_id).history
    assert [(change.from_status, change.to_status) for change in history] == [
        (None, S.NEW),
        (S.NEW, S.REGISTERED),
        (S.REGISTERED, S.EXPERTS_ASSIGNED),
        (S.EXPERTS_ASSIGNED, S.UNDER_REVIEW),
        (S.UNDER_REVIEW, S.REVIEW_DONE),
        (S.REVIEW_DONE, S.GRANTED),
        (S.GRANTED, S.ARCHIVED),
    ]
    assert history[1].actor_id == world["municipal"].id


def test_registration_numbers_run_per_municipality_and_year(session_factory, settings, world) -> None:
    first, second = submit(session_factory, world), submit(session_factory, world)
    for application_id in (first, second):
        step(session_factory, settings, world, application_id, S.REGISTERED, "operator")
    assert [registration_label(load(session_factory, i)) for i in (first, second)] == ["1/2026", "2/2026"]


@pytest.mark.parametrize(
    ("to", "by"),
    [
        (S.REGISTERED, "school"),  # only coordinators of the municipality register
        (S.REGISTERED, "expert"),
        (S.REGISTERED, "far_municipal"),  # another municipality: not even found
        (S.GRANTED, "operator"),  # skipping the review
        (S.ARCHIVED, "operator"),
        (S.EXPERTS_ASSIGNED, "municipal"),  # not registered yet
    ],
)
def test_refused_steps_change_nothing(session_factory, settings, world, to, by) -> None:
    application_id = submit(session_factory, world)
    with pytest.raises(ApplicationError):
        step(session_factory, settings, world, application_id, to, by)
    application = load(session_factory, application_id)
    assert application.status == S.NEW and len(application.history) == 1


def test_returning_needs_a_comment(session_factory, settings, world) -> None:
    application_id = submit(session_factory, world)
    with pytest.raises(ApplicationError, match="причину"):
        step(session_factory, settings, world, application_id, S.RETURNED, "municipal")
    step(session_factory, settings, world, application_id, S.RETURNED, "municipal", comment="Нет ходатайства")
    step(session_factory, settings, world, application_id, S.NEW, "school")
    assert load(session_factory, application_id).history[1].comment == "Нет ходатайства"


def test_experts_assigned_needs_experts(session_factory, settings, world) -> None:
    application_id = submit(session_factory, world)
    step(session_factory, settings, world, application_id, S.REGISTERED, "municipal")
    with pytest.raises(ApplicationError, match="назначьте"):
        step(session_factory, settings, world, application_id, S.EXPERTS_ASSIGNED, "municipal")


@pytest.mark.parametrize(
    ("expert", "message"),
    [("far_expert", "того же муниципалитета"), ("expert_same_school", "той же организации"), ("school", "того же")],
)
def test_only_active_experts_of_the_municipality_from_another_school(
    session_factory, settings, world, expert, message
) -> None:
    application_id = submit(session_factory, world)
    with session_factory.begin() as session, pytest.raises(ApplicationError, match=message):
        assign_experts(
            session,
            session.get(Application, application_id),
            [world[expert].id],
            actor=actor(session_factory, world["municipal"]),
            settings=settings,
        )
    assert load(session_factory, application_id).experts == []


def test_expert_sees_only_assigned_applications(session_factory, settings, world) -> None:
    from admin_app.scopes import in_scope, scope_clause

    assigned, other = submit(session_factory, world), submit(session_factory, world)
    with session_factory.begin() as session:
        assign_experts(
            session,
            session.get(Application, assigned),
            [world["expert"].id],
            actor=actor(session_factory, world["municipal"]),
            settings=settings,
        )
    expert = actor(session_factory, world["expert"])
    with session_factory() as session:
        visible = session.scalars(select(Application.id).where(scope_clause(expert, Application))).all()
        assert visible == [assigned]
        assert not in_scope(expert, session.get(Application, other))


def test_deadline_not_before_registration(session_factory, settings, world) -> None:
    application_id = submit(session_factory, world)
    municipal = actor(session_factory, world["municipal"])
    with session_factory.begin() as session, pytest.raises(ApplicationError, match="после регистрации"):
        set_deadline(session.get(Application, application_id), date(2027, 1, 1), actor=municipal)
    step(session_factory, settings, world, application_id, S.REGISTERED, "municipal")
    with session_factory.begin() as session, pytest.raises(ApplicationError, match="раньше даты регистрации"):
        set_deadline(session.get(Application, application_id), date(2026, 12, 2), actor=municipal)
    with session_factory.begin() as session:
        set_deadline(session.get(Application, application_id), date(2027, 1, 15), actor=municipal)
    assert load(session_factory, application_id).deadline == date(2027, 1, 15)


@pytest.mark.parametrize(
    ("deadline", "status", "flag"),
    [
        (date(2026, 12, 2), S.REGISTERED, "просрочено"),
        (date(2026, 12, 10), S.REGISTERED, "срок истекает"),
        (date(2026, 12, 11), S.REGISTERED, None),
        (date(2026, 12, 2), S.GRANTED, None),
        (None, S.NEW, None),
    ],
)
def test_deadline_flags(deadline, status, flag) -> None:
    assert deadline_flag(Application(deadline=deadline, status=status), date(2026, 12, 3)) == flag


def test_every_status_has_its_steps_and_no_step_leaves_archive() -> None:
    assert set(TRANSITIONS) == set(ApplicationStatus)
    assert TRANSITIONS[S.ARCHIVED] == {}
    assert all(RoleCode.OPERATOR in roles for steps in TRANSITIONS.values() for roles in steps.values())


def test_history_is_append_only(session_factory, settings, world) -> None:
    application_id = submit(session_factory, world)
    step(session_factory, settings, world, application_id, S.REGISTERED, "municipal")
    with session_factory() as session:
        ids = session.scalars(select(ApplicationStatusChange.id).order_by(ApplicationStatusChange.id)).all()
    step(session_factory, settings, world, application_id, S.RETURNED, "municipal", comment="Уточнить стаж")
    with session_factory() as session:
        after = session.scalars(select(ApplicationStatusChange.id).order_by(ApplicationStatusChange.id)).all()
    assert after[: len(ids)] == ids and len(after) == len(ids) + 1


def test_closed_application_keeps_its_experts_and_deadline(session_factory, settings, world) -> None:
    application_id = submit(session_factory, world)
    step(session_factory, settings, world, application_id, S.WITHDRAWN, "school")
    operator = actor(session_factory, world["operator"])
    with session_factory.begin() as session, pytest.raises(ApplicationError, match="завершена"):
        assign_experts(
            session, session.get(Application, application_id), [world["expert"].id], actor=operator, settings=settings
        )
    with session_factory.begin() as session, pytest.raises(ApplicationError, match="завершена"):
        set_deadline(session.get(Application, application_id), date(2027, 1, 1), actor=operator)


def test_two_registrations_at_once_get_two_numbers(session_factory, settings, world) -> None:
    first, second = submit(session_factory, world), submit(session_factory, world)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def register(application_id: int) -> None:
        try:
            with session_factory.begin() as session:
                application = session.get(Application, application_id)
                municipal = actor(session_factory, world["municipal"])
                barrier.wait()
                change_status(session, application, S.REGISTERED, actor=municipal, settings=settings, now=NOW)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=register, args=(i,)) for i in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(registration_label(load(session_factory, i)) for i in (first, second)) == ["1/2026", "2/2026"]
