"""A benchmark database: migrated by the project's own migrations, then filled in bulk.

A region times ten at scale 1.0: 100 000 users, 300 000 invitations, 50 000 applications, 2 000
organizations in the 22 reference municipalities. Every user shares one precomputed bcrypt hash.
PostgreSQL is filled with COPY, SQLite with executemany in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, select, text

from admin_app.db import make_engine, make_session_factory
from admin_app.passwords import hash_password
from admin_app.reference import load_reference
from admin_app.schema import upgrade_to_head
from models import Application, Invitation, Municipality, Organization, Role, User, application_experts

PASSWORD = "Бенчмарк-пароль-2026"
OPERATOR = "bench_operator"
COORDINATOR = "bench_coordinator"
COORDINATOR_PLACE = "Город Томск"
REGISTRATION_KEYS = 4000  # pending invitations whose keys the benchmark knows (registration POSTs)
FULL_SIZE = {"users": 100_000, "invitations": 300_000, "applications": 50_000, "organizations": 2_000}
NOW = datetime.now(UTC)


@dataclass
class Filled:
    """What the benchmark needs to know about the database it filled."""

    counts: dict[str, int]
    coordinator_municipality_id: int
    registration_keys: list[str] = field(default_factory=list)


def registration_key(index: int) -> str:
    return f"bench-registration-key-{index:06d}"


def registration_form_token(secret_key: str, key: str) -> str:
    """The registration form's CSRF token, as admin_app.registration.form_token computes it."""
    secret = hashlib.sha256(f"registration-form:{secret_key}".encode()).digest()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def create_and_fill(database_url: str, scale: float, bcrypt_rounds: int) -> Filled:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine).begin() as session:
            load_reference(session)
        return _fill(engine, scale, hash_password(PASSWORD, bcrypt_rounds))
    finally:
        engine.dispose()


def _fill(engine: Engine, scale: float, password_hash: str) -> Filled:
    sizes = {name: max(int(count * scale), 50) for name, count in FULL_SIZE.items()}
    rng = random.Random(8)
    with engine.connect() as connection:
        roles = dict(connection.execute(select(Role.code, Role.id)).all())
        places = dict(connection.execute(select(Municipality.name, Municipality.id)).all())
    place_ids = sorted(places.values())
    home = places[COORDINATOR_PLACE]
    organizations = [
        {"id": i, "name": f"Школа № {i}", "municipality_id": place_ids[i % len(place_ids)]}
        for i in range(1, sizes["organizations"] + 1)
    ]
    users = list(_users(sizes["users"], organizations, roles, home, password_hash))
    experts = [u["id"] for u in users if u["role_id"] == roles["expert"]]
    known = min(REGISTRATION_KEYS, sizes["invitations"] // 10)
    invitations = list(_invitations(sizes["invitations"], known, users, roles, home, rng))
    applications = list(_applications(sizes["applications"], organizations, rng))
    assignments = [
        {"application_id": a["id"], "expert_id": rng.choice(experts)} for a in applications if a["status"] != "new"
    ]
    tables: list[tuple[Table, Sequence[dict[str, Any]]]] = [
        (Organization.__table__, organizations),
        (User.__table__, users),
        (Invitation.__table__, invitations),
        (Application.__table__, applications),
        (application_experts, assignments),
    ]
    with engine.begin() as connection:
        for table, rows in tables:
            _insert(connection, table, rows)
        if engine.dialect.name == "postgresql":
            for table, _ in tables[:-1]:
                sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                connection.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table.name}))"))
        connection.execute(text("ANALYZE"))
    counts = {
        "municipalities": len(place_ids),
        "organizations": len(organizations),
        "users": len(users),
        "invitations": len(invitations),
        "applications": len(applications),
        "application_experts": len(assignments),
    }
    keys = [registration_key(i) for i in range(known)]
    return Filled(counts, home, keys)


def _users(
    count: int, organizations: list[dict], roles: dict[str, int], home: int, password_hash: str
) -> Iterable[dict]:
    def user(i: int, username: str, role: str, municipality_id: int | None, organization_id: int | None) -> dict:
        return {
            "id": i,
            "username": username,
            "email": f"{username}@example.ru",
            "full_name": f"Пользователь {i}",
            "password_hash": password_hash,
            "role_id": roles[role],
            "municipality_id": municipality_id,
            "organization_id": organization_id,
            "is_active": True,
            "created_at": NOW - timedelta(minutes=i),
            "last_login_at": None,
            "invitation_id": None,
        }

    yield user(1, OPERATOR, "operator", None, None)
    yield user(2, COORDINATOR, "municipal_coordinator", home, None)
    for i in range(3, count + 1):
        organization = organizations[i % len(organizations)]
        if i <= 2 + len(organizations):  # one coordinator per organization
            yield user(i, f"school{i}", "organization_coordinator", organization["municipality_id"], organization["id"])
        else:
            yield user(i, f"expert{i}", "expert", organization["municipality_id"], organization["id"])


def _invitations(
    count: int, known: int, users: list[dict], roles: dict[str, int], home: int, rng: random.Random
) -> Iterable[dict]:
    """The first `known` are pending expert invitations of Город Томск with known keys; then every
    user's accepted invitation; the rest pending, expired or revoked."""
    accepted = users[2:]
    for i in range(1, count + 1):
        created = NOW - timedelta(minutes=count - i)
        row = {
            "id": i,
            "key_hash": hashlib.sha256(f"bench-key-{i}".encode()).hexdigest(),
            "role_id": roles["expert"],
            "email": f"invitee{i}@example.ru",
            "full_name": "",
            "municipality_id": home,
            "organization_id": None,
            "inviter_id": rng.choice((1, 2)),
            "created_at": created,
            "expires_at": created + timedelta(days=14),
            "sent_at": created,
            "accepted_at": None,
            "revoked_at": None,
            "reminded_at": None,
            "accepted_user_id": None,
            "delivery_state": "sent",
        }
        n = i - 1
        if n < known:
            row["key_hash"] = hashlib.sha256(registration_key(n).encode()).hexdigest()
            row["expires_at"] = NOW + timedelta(days=30)
        elif n - known < len(accepted):
            user = accepted[n - known]
            row.update(
                email=user["email"],
                role_id=user["role_id"],
                municipality_id=user["municipality_id"],
                organization_id=user["organization_id"],
                accepted_at=created + timedelta(hours=5),
                accepted_user_id=user["id"],
            )
        elif n % 10 == 0:
            row["revoked_at"] = created + timedelta(days=1)
        yield row


def _applications(count: int, organizations: list[dict], rng: random.Random) -> Iterable[dict]:
    statuses = ("new", "registered", "experts_assigned", "under_review", "review_done", "granted", "refused")
    numbers: dict[int, int] = {}
    for i in range(1, count + 1):
        organization = rng.choice(organizations)
        status = statuses[i % len(statuses)]
        place = organization["municipality_id"]
        registered = status != "new"
        if registered:
            numbers[place] = numbers.get(place, 0) + 1
        submitted = NOW - timedelta(minutes=3 * (count - i))
        yield {
            "id": i,
            "teacher_full_name": f"Педагог {i} Иванова",
            "teacher_email": f"teacher{i}@example.ru",
            "teacher_phone": "+7 913 000-00-00",
            "position": "учитель",
            "organization_id": organization["id"],
            "municipality_id": place,
            "requested_category": rng.choice(("first", "highest")),
            "current_category": None,
            "current_category_date": None,
            "submitted_at": submitted,
            "registration_year": submitted.year if registered else None,
            "registration_number": numbers.get(place) if registered else None,
            "registered_at": submitted.date() if registered else None,
            "deadline": (submitted + timedelta(days=60)).date() if registered else None,
            "status": status,
            "created_by_id": None,
            "status_key_hash": None,
        }


def _insert(connection: Any, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), 20_000):
            connection.execute(table.insert(), list(rows[start : start + 20_000]))
        return
    cursor = connection.connection.driver_connection.cursor()
    names = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])
