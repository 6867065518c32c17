"""The access matrix of issue 4: every role × every view the panel registers × every route of it,
each with a row inside the municipal coordinator's scope (Томский район) and rows outside it
(ЗАТО Северск; for users also people of Томский район the coordinator may not manage),
asserting the status and the database afterwards.

The expected answer is computed, never written out by hand:
- the role may not do the action (no grant in GRANTS, or the view's can_* flag is off) → 403, nothing changed;
- it may, and the row is in its scope → 200 for a page, 302 for a saved form, and exactly that change made;
- it may, but the row is outside its scope → «not found» (404), nothing changed.
"Inside" means inside the scope of the municipal coordinator of Томский район. An operator sees every
row; the organization coordinator's scope is their own school and the expert's the rows assigned to them,
so of these rows only the application inside (at the coordinator's school, the expert assigned to it) is
theirs too (RowRule.inside_for). Views that are not scoped (municipalities, roles) show every row to
whoever may open them.

Routes a view adds itself answer by its own rules: SQLAdmin lets in whoever may open the view at all, then
for applications admin_app.applications decides (TRANSITIONS, ENTRY_ROLES, COORDINATORS), and for its documents
admin_app.documents (UPLOADERS). A step the role may not take is sent back to the application's page with the
reason shown, and changes nothing. A document is downloaded only through an application the role sees, and only
through its own one. The files under settings.documents_dir are part of the database state compared (FILES).

A list action (@action: «Отправить повторно», «Отозвать» of invitations, «Отключить», «Включить» of users) needs
the grant ("<view>", "action:<slug>") besides access to the view; it goes back to the list, and a row outside the
scope is left alone with «Не найдено» in the message (RowRule.changes says what it does to a row inside).
«Профиль» is the actor's own account for every role: no id in its URLs, so it has no row outside; its forms
change exactly the actor's row. «Пригласить списком» previews a pasted list writing nothing, and its
confirmation adds exactly the invitations (and letters) the invitation form would.

ROW_RULES has an entry for every view: which rows to use and what a valid form looks like. A view
or a custom route added to the panel without an entry here fails the first tests of this file.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from docx import Document as WordDocument
from httpx2 import Response
from openpyxl import load_workbook
from sqladmin import BaseView, ModelView
from sqladmin.application import BaseAdmin
from sqladmin.authorization import custom_action
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from admin_app.accounts import create_user
from admin_app.app import create_app
from admin_app.applications import (
    COORDINATORS,
    ENTRY_ROLES,
    NEEDS_COMMENT,
    TRANSITIONS,
    Teacher,
    assign_experts,
    centre_today,
    change_status,
    submit_application,
)
from admin_app.auth import CurrentUser
from admin_app.bulk_invitations import BulkRow, sign_rows
from admin_app.db import make_engine, make_session_factory
from admin_app.documents import UPLOADERS, store_document
from admin_app.invitations import VOID_LETTER_REASONS, KeyProblem, create_invitation
from admin_app.mail.outbox import SUPERSEDED
from admin_app.passwords import hash_password
from admin_app.permissions import GRANTS
from models import (
    APPLICATION_STATUS_LABELS,
    DOCUMENT_KIND_LABELS,
    ROLE_NAMES,
    Application,
    ApplicationStatus,
    AuditEvent,
    Base,
    Category,
    DeliveryState,
    DocumentKind,
    Municipality,
    Organization,
    OutboxStatus,
    Recommendation,
    Role,
    RoleCode,
    User,
    utcnow,
)
from settings import load_settings
from tests.conftest import BASE_URL, PASSWORD, csrf_from, env_for, log_in
from views import VIEWS

OPERATOR = RoleCode.OPERATOR
MUNICIPAL = RoleCode.MUNICIPAL_COORDINATOR
SCHOOL = RoleCode.ORGANIZATION_COORDINATOR
EXPERT = RoleCode.EXPERT
ROLES = (OPERATOR, MUNICIPAL, SCHOOL, EXPERT)
S = ApplicationStatus

# The can_* flag of a ModelView that must also allow each action SQLAdmin asks about (None: no flag).
ACTION_FLAGS = {
    "list": None,
    "details": "can_view_details",
    "create": "can_create",
    "edit": "can_edit",
    "delete": "can_delete",
    "export": "can_export",
    "import": "can_import",
}

VIEW_CLASSES = {view.identity: view for view in VIEWS}

# ---------------------------------------------------------------------------------------------------
# Routes


@dataclass(frozen=True)
class Route:
    action: str  # the grant it needs
    # how the matrix exercises it (EXERCISE): list, page, row_page, row_form, create_form, delete, export,
    # action (an @action of a list), own_page and own_form (the actor's own account), bulk_preview, bulk_confirm, …
    kind: str
    method: str
    path: str  # "{identity}" and "{pk}" are filled in
    mounted: str = ""  # the path as the panel mounts it, for routes a view adds itself


MODEL_ROUTES = {
    "list": Route("list", "list", "GET", "/admin/{identity}/list"),
    "details": Route("details", "row_page", "GET", "/admin/{identity}/details/{pk}"),
    "edit-GET": Route("edit", "row_page", "GET", "/admin/{identity}/edit/{pk}"),
    "edit-POST": Route("edit", "row_form", "POST", "/admin/{identity}/edit/{pk}"),
    "create-GET": Route("create", "page", "GET", "/admin/{identity}/create"),
    "create-POST": Route("create", "create_form", "POST", "/admin/{identity}/create"),
    "delete": Route("delete", "delete", "DELETE", "/admin/{identity}/delete?pks={pk}"),
    "export": Route("export", "export", "GET", "/admin/{identity}/export/csv"),
}

# «Рассылка» is a custom page: SQLAdmin lets in whoever has ("mailing", "list").
MAILING_ROUTES = {
    "page": Route("list", "page", "GET", "/admin/mailing", "/mailing"),
    "invite-GET": Route("list", "page", "GET", "/admin/mailing/invite", "/mailing/invite"),
    "invite-POST": Route("list", "create_form", "POST", "/admin/mailing/invite", "/mailing/invite"),
    "resend-POST": Route("list", "row_form", "POST", "/admin/mailing/resend/{pk}", "/mailing/resend/{invitation_id}"),
    "bulk-GET": Route("list", "page", "GET", "/admin/mailing/bulk", "/mailing/bulk"),
    "bulk-POST": Route("list", "bulk_preview", "POST", "/admin/mailing/bulk", "/mailing/bulk"),
    "bulk-confirm-POST": Route("list", "bulk_confirm", "POST", "/admin/mailing/bulk/confirm", "/mailing/bulk/confirm"),
}


def _list_action(identity: str, slug: str) -> Route:
    """An @action of a model view's list (and details): SQLAdmin lets in whoever may open the view, then asks
    for the grant ("<identity>", "action:<slug>")."""
    path = f"/{identity}/action/{slug}"
    return Route(custom_action(slug), "action", "GET", f"/admin{path}?pks={{pk}}", path)


# «Приглашения и регистрации»: «Отправить повторно», «Отозвать».
INVITATION_ROUTES = {
    **MODEL_ROUTES,
    "resend": _list_action("invitation", "resend"),
    "revoke": _list_action("invitation", "revoke"),
}
# «Пользователи»: «Отключить», «Включить».
USER_ROUTES = {
    **MODEL_ROUTES,
    "deactivate": _list_action("user", "deactivate"),
    "activate": _list_action("user", "activate"),
}
# «Профиль»: the actor's own account, whatever the role (every role has ("profile", "list")); no id in the URL.
PROFILE_ROUTES = {
    "page": Route("list", "own_page", "GET", "/admin/profile", "/profile"),
    "contacts-POST": Route("list", "own_form", "POST", "/admin/profile/contacts", "/profile/contacts"),
    "password-POST": Route("list", "own_form", "POST", "/admin/profile/password", "/profile/password"),
}

# The routes a model view adds itself need no grant of their own: SQLAdmin lets in whoever may open the view.
ACCESS = "(view)"

# «Заявления на аттестацию»: SQLAdmin's create, edit and delete are off; the view adds its own forms.
APPLICATION_ROUTES = {
    **MODEL_ROUTES,
    "new-GET": Route(ACCESS, "entry_page", "GET", "/admin/application/new", "/application/new"),
    "new-POST": Route(ACCESS, "entry_form", "POST", "/admin/application/new", "/application/new"),
    "status-POST": Route(ACCESS, "status_form", "POST", "/admin/application/{pk}/status", "/application/{pk}/status"),
    "experts-POST": Route(
        ACCESS, "experts_form", "POST", "/admin/application/{pk}/experts", "/application/{pk}/experts"
    ),
    "deadline-POST": Route(
        ACCESS, "deadline_form", "POST", "/admin/application/{pk}/deadline", "/application/{pk}/deadline"
    ),
    "documents-POST": Route(
        ACCESS, "upload_form", "POST", "/admin/application/{pk}/documents", "/application/{pk}/documents"
    ),
    "document-GET": Route(
        ACCESS,
        "download",
        "GET",
        "/admin/application/{pk}/documents/{document_id}",
        "/application/{pk}/documents/{document_id}",
    ),
    "register-GET": Route(ACCESS, "register", "GET", "/admin/application/register.xlsx", "/application/register.xlsx"),
    "notice-GET": Route(
        ACCESS, "notice", "GET", "/admin/application/{pk}/notice.docx", "/application/{pk}/notice.docx"
    ),
}

# ---------------------------------------------------------------------------------------------------
# The database state


Snapshot = dict[str, dict[Any, dict[str, Any]]]  # table → primary key (id, or a tuple) → columns
FILES = "(documents_dir)"  # the stored files, as if a table: file name → {"content": its bytes}
CHANGED = object()  # the column must get a new value
MAY_CHANGE = object()  # the column may get a new value


# The bookkeeping of the requests themselves: every request touches its session, a download is an audit
# event. The matrix asks what a request does to the data; tests/test_sessions.py, test_throttling.py and
# test_audit.py ask what it leaves in these.
BOOKKEEPING = frozenset({"user_sessions", "remember_tokens", "throttle_hits"})
# Tables whose rows nothing changes or removes; a request may add to them (an audit event of what it did).
APPEND_ONLY = frozenset({"audit_events"})


def snapshot(session_factory: sessionmaker[Session]) -> Snapshot:
    """Every row of every table of the model but BOOKKEEPING, by table name and id (a tuple of the key's
    columns for a table without an id, such as application_experts)."""

    def key(table: Any, row: Any) -> Any:
        return row["id"] if "id" in table.c else tuple(row[column.name] for column in table.primary_key)

    with session_factory() as session:
        return {
            table.name: {key(table, row): dict(row) for row in session.execute(select(table)).mappings()}
            for table in Base.metadata.sorted_tables
            if table.name not in BOOKKEEPING
        }


def assert_diff(
    before: Snapshot,
    after: Snapshot,
    *,
    changed: dict[tuple[str, Any], dict[str, Any]] | None = None,
    added: dict[str, list[dict[str, Any]]] | None = None,
    removed: set[tuple[str, Any]] = frozenset(),
) -> None:
    """The database differs from `before` by exactly these changes, added and removed rows."""
    changed, added = changed or {}, added or {}
    for table, old_rows in before.items():
        new_rows = after[table]
        gone = {(table, pk) for pk in old_rows.keys() - new_rows.keys()}
        assert gone == {item for item in removed if item[0] == table}, f"rows removed from {table}"
        new_pks = sorted(new_rows.keys() - old_rows.keys())
        wanted = added.get(table, [])
        if table in APPEND_ONLY:
            new_pks = new_pks[: len(wanted)]
        assert len(new_pks) == len(wanted), f"{table}: {len(new_pks)} rows added, {len(wanted)} expected"
        for pk, columns in zip(new_pks, wanted, strict=True):
            row = new_rows[pk]
            assert {name: row[name] for name in columns} == columns, f"{table} {pk} added as {row}"
        for pk, old in old_rows.items():
            if (table, pk) in removed:
                continue
            new, expected = new_rows[pk], changed.get((table, pk), {})
            for name, old_value in old.items():
                want = expected.get(name, old_value)
                if want is MAY_CHANGE:
                    continue
                if want is CHANGED:
                    assert new[name] != old_value, f"{table} {pk}: {name} kept {old_value!r}"
                else:
                    assert new[name] == want, f"{table} {pk}: {name} is {new[name]!r}, expected {want!r}"


# ---------------------------------------------------------------------------------------------------
# The data: actors of every role, and the rows the views act on


ACTORS = {
    OPERATOR: "olga_operator",
    MUNICIPAL: "tomsk_coordinator",
    SCHOOL: "school_coordinator",
    EXPERT: "tomsk_reviewer",
}
OWN_MUNICIPALITY = "tomsk"  # every actor but the operator belongs to Томский район


@dataclass(frozen=True)
class StoredDocument:
    application: str
    uploader: RoleCode
    kind: DocumentKind
    filename: str
    content: bytes


# A document of each application, stored by the rules (admin_app.documents) as the world is built.
DOCUMENTS = {
    "document_tomsk": StoredDocument(
        "application_tomsk",
        SCHOOL,
        DocumentKind.APPLICATION,
        "Заявление Кузнецовой.pdf",
        b"%PDF-1.7\n% the inside application's document\n%%EOF\n",
    ),
    "document_seversk": StoredDocument(
        "application_seversk",
        OPERATOR,
        DocumentKind.PETITION,
        "Ходатайство из Северска.pdf",
        b"%PDF-1.7\n% the outside application's document\n%%EOF\n",
    ),
}


@dataclass
class World:
    """A migrated database with the rows below, the application on it, and a logged-in client per role."""

    app: Starlette
    session_factory: sessionmaker[Session]
    ids: dict[str, int] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)  # text that shows a named row on a page or in a CSV
    clients: dict[RoleCode, TestClient] = field(default_factory=dict)
    tokens: dict[RoleCode, str] = field(default_factory=dict)
    pristine: Snapshot = field(default_factory=dict)

    def send(
        self,
        role: RoleCode,
        method: str,
        url: str,
        data: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Response:
        if data is not None:
            data = {**data, "csrf_token": self.tokens[role]}
        return self.clients[role].request(method, url, data=data, files=files)

    def call(
        self,
        role: RoleCode,
        method: str,
        url: str,
        data: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Response:
        """A request as `role`: never a server error, and nothing outside a non-operator's scope shown."""
        response = self.send(role, method, url, data, files)
        assert response.status_code != 500, f"{method} {url} as {role}: server error"
        if role is not OPERATOR:
            for key in leaked_rows():
                assert self.markers[key] not in response.text, f"{method} {url} shows {key} to {role}"
        return response

    def snapshot(self) -> Snapshot:
        """The database, and the files stored under settings.documents_dir as the table FILES."""
        state = snapshot(self.session_factory)
        directory = self.app.state.settings.documents_dir
        paths = sorted(directory.iterdir()) if directory.is_dir() else []
        state[FILES] = {path.name: {"content": path.read_bytes()} for path in paths}
        return state

    def row(self, table: str, key: str) -> dict[str, Any]:
        return self.snapshot()[table][self.ids[key]]


def _add_user(session_factory: sessionmaker[Session], username: str, role: RoleCode, **fields: Any) -> int:
    with session_factory.begin() as session:
        email = fields.pop("email", f"{username}@example.com")
        user = create_user(
            session, role_code=role, username=username, email=email, password_hash=hash_password(PASSWORD, 4), **fields
        )
        return user.id


def _acting(session: Session, world: World, role: RoleCode) -> CurrentUser:
    return CurrentUser.of(session.get(User, world.ids[f"actor_{role}"]))


def _add_application(
    world: World,
    key: str,
    full_name: str,
    organization: str,
    submitter: RoleCode,
    registrar: RoleCode,
    experts: tuple[str, ...],
) -> None:
    """An application entered by `submitter`, registered by `registrar`, who assigns `experts`."""
    now = utcnow()
    teacher = Teacher(
        full_name=full_name,
        email=f"{key.replace('_', '.')}@example.com",
        phone="+7 913 000-00-00",
        position="учитель математики",
        organization_id=world.ids[organization],
        requested_category=Category.FIRST,
    )
    with world.session_factory.begin() as session:
        application = submit_application(session, teacher, actor=_acting(session, world, submitter), now=now)
        session.flush()
        registrar_user = _acting(session, world, registrar)
        settings = world.app.state.settings
        change_status(session, application, S.REGISTERED, actor=registrar_user, settings=settings, now=now)
        if experts:
            chosen = [world.ids[name] for name in experts]
            assign_experts(session, application, chosen, actor=registrar_user, settings=settings)
        session.flush()
        world.ids[key], world.markers[key] = application.id, full_name


def build_world(world: World, stack: ExitStack) -> None:
    ids, markers, session_factory = world.ids, world.markers, world.session_factory
    with session_factory() as session:
        municipalities = {name: id_ for name, id_ in session.execute(select(Municipality.name, Municipality.id))}
        roles = {code: id_ for code, id_ in session.execute(select(Role.code, Role.id))}
    ids.update(
        tomsk=municipalities["Томский район"],
        seversk=municipalities["ЗАТО Северск"],
        role_expert=roles[EXPERT],
        role_municipal_coordinator=roles[MUNICIPAL],
        role_operator=roles[OPERATOR],
    )
    markers.update(
        tomsk="Томский район",
        seversk="ЗАТО Северск",
        role_expert="Специалист по аттестации (эксперт)",
        role_municipal_coordinator="Муниципальный координатор по аттестации",
    )
    with session_factory.begin() as session:
        for key, name, municipality in (
            ("actors_school", "МБОУ СОШ № 1 Томского района", "tomsk"),
            ("school_tomsk", "Тестовая школа Томского района", "tomsk"),
            ("school_seversk", "Тестовая гимназия Северска", "seversk"),
        ):
            organization = Organization(name=name, municipality_id=ids[municipality])
            session.add(organization)
            session.flush()
            ids[key], markers[key] = organization.id, name
    tomsk = ids["tomsk"]
    actor_scopes = {
        OPERATOR: {},
        MUNICIPAL: {"municipality_id": tomsk},
        SCHOOL: {"organization_id": ids["actors_school"]},
        EXPERT: {"municipality_id": tomsk},
    }
    for role, username in ACTORS.items():
        ids[f"actor_{role}"] = _add_user(session_factory, username, role, **actor_scopes[role])
    for key, username, role, scope in (
        ("user_tomsk_expert", "tomsk_expert", EXPERT, {"municipality_id": tomsk}),
        ("user_seversk_expert", "seversk_expert", EXPERT, {"municipality_id": ids["seversk"]}),
        ("user_tomsk_coordinator", "second_coordinator", MUNICIPAL, {"municipality_id": tomsk}),
        ("user_tomsk_operator", "local_operator", OPERATOR, {}),
    ):
        email = f"{username.replace('_', '.')}@example.com"
        ids[key], markers[key] = _add_user(session_factory, username, role, email=email, **scope), email
    with session_factory.begin() as session:
        # An operator whose account carries a municipality (the operator's user form allows setting it):
        # in Томский район, yet not someone its coordinator manages.
        session.get(User, ids["user_tomsk_operator"]).municipality_id = tomsk
    # Sent by the operator, by the rules themselves, so each has its letter waiting in the outbox
    # (which resending and revoking give up).
    for key, email, municipality in (
        ("invitation_tomsk", "tomsk.invitee@example.com", "tomsk"),
        ("invitation_seversk", "seversk.invitee@example.com", "seversk"),
    ):
        with session_factory.begin() as session:
            invitation = create_invitation(
                session,
                _acting(session, world, OPERATOR),
                role=EXPERT.value,
                email=email,
                municipality_id=ids[municipality],
                organization_id=None,
                settings=world.app.state.settings,
                now=utcnow(),
            )
            session.flush()
            ids[key], markers[key] = invitation.id, email
            sent = select(AuditEvent.id).where(
                AuditEvent.target_type == "invitation", AuditEvent.target_id == invitation.id
            )
            ids[f"event_{municipality}"], markers[f"event_{municipality}"] = session.scalar(sent), email
    # Both registered today, by the rules themselves, so each has its history.
    _add_application(
        world, "application_tomsk", "Кузнецова Мария Ивановна", "actors_school", SCHOOL, MUNICIPAL, ("actor_expert",)
    )
    _add_application(world, "application_seversk", "Лебедев Игорь Северский", "school_seversk", OPERATOR, OPERATOR, ())
    settings = world.app.state.settings
    for key, document in DOCUMENTS.items():
        with session_factory.begin() as session:
            stored = store_document(
                session,
                session.get(Application, ids[document.application]),
                kind=document.kind.value,
                filename=document.filename,
                content=document.content,
                actor=_acting(session, world, document.uploader),
                storage_dir=settings.documents_dir,
                max_bytes=settings.document_max_mb * 1024 * 1024,
                now=utcnow(),
            )
            session.flush()
            ids[key], markers[key] = stored.id, document.filename
    for role, username in ACTORS.items():
        client = stack.enter_context(
            TestClient(world.app, base_url=BASE_URL, follow_redirects=False, raise_server_exceptions=False)
        )
        assert log_in(client, username).status_code == 302
        world.clients[role] = client
        # The token belongs to the session, so the cabinet's (every role opens it) serves every form.
        world.tokens[role] = csrf_from(client.get("/admin/").text)
    world.pristine = world.snapshot()


class Worlds:
    """Hands every test a world in its pristine state, built afresh when the previous test changed the
    database (a successful save) or failed; otherwise the previous one, checked row by row to be unchanged."""

    def __init__(self, databases: Any, var_dir: Path) -> None:
        self.databases, self.var_dir = databases, var_dir
        self.current: World | None = None
        self.stack = ExitStack()

    def get(self) -> World:
        if self.current is None:
            url = self.databases.migrated()
            app = create_app(load_settings(env_for(url, self.var_dir)))
            engine = make_engine(url)
            self.stack.callback(engine.dispose)
            self.current = World(app, make_session_factory(engine))
            build_world(self.current, self.stack)
        return self.current

    def discard(self) -> None:
        self.stack.close()
        self.current = None


@pytest.fixture(scope="module")
def worlds(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    cache = Worlds(databases, tmp_path_factory.mktemp("access-matrix-var"))
    yield cache
    cache.discard()


@pytest.fixture
def world(worlds: Worlds, request: pytest.FixtureRequest) -> Iterator[World]:
    failures = request.session.testsfailed
    current = worlds.get()
    if any(view._admin_ref is not registered_admin(current.app) for view in VIEWS):
        # SQLAdmin binds the database and the templates to the view classes, so an application created
        # since (another test's) has taken this one's views over: start again with a new one.
        worlds.discard()
        current = worlds.get()
    yield current
    if request.session.testsfailed != failures or current.snapshot() != current.pristine:
        worlds.discard()


# ---------------------------------------------------------------------------------------------------
# ROW_RULES: for every registered view, its rows and its forms


@dataclass(frozen=True)
class Change:
    """A valid form (or an action), and what saving it must do: the columns of the row it writes, rows added
    and rows changed elsewhere, and a part of the message the page then shows."""

    payload: dict[str, str]
    columns: dict[str, Any]
    added: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changed: dict[tuple[str, Any], dict[str, Any]] = field(default_factory=dict)
    message: str = ""
    # puts the database in the state the form acts on, before it is snapshotted (see _activate)
    prepare: Callable[[World], None] = lambda world: None


def _assert_status(response: Response, status: int) -> None:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code}"


def _answers(status: int, response: Response) -> None:
    _assert_status(response, status)


@dataclass(frozen=True)
class RowRule:
    table: str
    scoped: bool  # rows limited to the viewer's scope (admin_app.scopes)
    inside: str  # the row inside the municipal coordinator's scope
    outside: tuple[str, ...]  # rows outside it
    # the roles besides the operator whose scope holds the inside row
    inside_for: frozenset[RoleCode] = frozenset({MUNICIPAL})
    # (world, row) → an edit form for the row; None: the view has no edit form
    edit: Callable[[World, str], Change] | None = None
    # (world, submitted municipality, municipality the row must land in, acting role) → a create form; None: none
    create: Callable[[World, str, str, RoleCode], Change] | None = None
    routes: dict[str, Route] = field(default_factory=lambda: MODEL_ROUTES)
    # for the routes the view adds itself that change a row (@action, a form of the own account), by mounted path:
    # (world, row, acting role) → what it does to the row when the role may and the row is in its scope
    changes: dict[str, Callable[[World, str, RoleCode], Change]] = field(default_factory=dict)
    # what the view answers for a row the viewer may not see, and when it has saved a form
    not_found: Callable[[World, RoleCode, Response], None] = lambda world, role, response: _answers(404, response)
    saved: Callable[[World, RoleCode, Response], None] = lambda world, role, response: _answers(302, response)

    @property
    def rows(self) -> tuple[str, ...]:
        return (self.inside, *self.outside)


def _edit_user(world: World, key: str) -> Change:
    row = world.row("users", key)
    email = f"edited.{key}@example.com"
    payload = {"full_name": f"Исправленное ФИО {key}", "email": email, "role": str(row["role_id"]), "is_active": "y"}
    for name in ("municipality", "organization"):
        if row[f"{name}_id"] is not None:
            payload[name] = str(row[f"{name}_id"])
    return Change(payload, {"full_name": payload["full_name"], "email": email})


def _edit_organization(world: World, key: str) -> Change:
    row = world.row("organizations", key)
    name = f"{row['name']} (переименована)"
    return Change({"name": name, "municipality": str(row["municipality_id"])}, {"name": name})


def _create_organization(world: World, submitted: str, lands_in: str, role: RoleCode) -> Change:
    name = f"Новая школа ({submitted})"
    payload = {"name": name, "municipality": str(world.ids[submitted])}
    return Change(payload, {"name": name, "municipality_id": world.ids[lands_in]})


def _edit_municipality(world: World, key: str) -> Change:
    row = world.row("municipalities", key)
    name = f"{row['name']} (переименован)"
    return Change({"name": name, "kind": row["kind"]}, {"name": name})


def _create_municipality(world: World, submitted: str, lands_in: str, role: RoleCode) -> Change:
    name = f"Новый муниципалитет ({submitted})"
    return Change({"name": name, "kind": "departmental"}, {"name": name, "kind": "departmental"})


def _invite(world: World, submitted: str, lands_in: str, role: RoleCode) -> Change:
    email = f"new.{submitted}@example.com"
    payload = {"role": "expert", "email": email, "municipality_id": str(world.ids[submitted]), "organization_id": ""}
    columns = {
        "email": email,
        "role_id": world.ids["role_expert"],
        "municipality_id": world.ids[lands_in],
        "organization_id": None,
        "inviter_id": world.ids[f"actor_{role}"],
        "accepted_at": None,
    }
    return Change(payload, columns, {"outbox_messages": [{"recipient": email}]})


def _letters_given_up(world: World, key: str, reason: str) -> dict[tuple[str, Any], dict[str, Any]]:
    """What admin_app.mail.outbox.drop_pending does to the invitation's letters still waiting: given up unsent,
    with the reason, their bodies (which hold the dead link) gone."""
    given_up = {"status": OutboxStatus.DEAD.value, "last_error": reason, "body_text": None, "body_html": None}
    return {
        ("outbox_messages", pk): given_up
        for pk, letter in world.snapshot()["outbox_messages"].items()
        if letter["invitation_id"] == world.ids[key] and letter["status"] == OutboxStatus.PENDING
    }


def _resend(world: World, key: str) -> Change:
    """admin_app.invitations.resend_invitation: a new key and term, live again, a new letter that supersedes
    the waiting ones."""
    columns = {
        "key_hash": CHANGED,
        "expires_at": MAY_CHANGE,
        "sent_at": None,
        "revoked_at": None,
        "reminded_at": None,
        "delivery_state": DeliveryState.QUEUED.value,
    }
    letter = {"recipient": world.markers[key], "invitation_id": world.ids[key], "status": OutboxStatus.PENDING.value}
    return Change(
        {},
        columns,
        {"outbox_messages": [letter]},
        changed=_letters_given_up(world, key, SUPERSEDED),
        message=world.markers[key],
    )


def _resend_action(world: World, key: str, role: RoleCode) -> Change:
    return _resend(world, key)


def _revoke_action(world: World, key: str, role: RoleCode) -> Change:
    """admin_app.invitations.revoke_invitation: revoked now, its waiting letters given up, and then (drop_pending
    without a letter to keep) its delivery state says the letter was cancelled; nothing else."""
    letters = _letters_given_up(world, key, VOID_LETTER_REASONS[KeyProblem.REVOKED])
    columns: dict[str, Any] = {"revoked_at": CHANGED}
    if letters:
        columns["delivery_state"] = DeliveryState.CANCELLED.value
    return Change({}, columns, changed=letters, message=world.markers[key])


def _deactivate(world: World, key: str, role: RoleCode) -> Change:
    """admin_app.user_activity.set_active: the user switched off; the message names them by login."""
    return Change({}, {"is_active": False}, message=world.row("users", key)["username"])


def _switch_off_users(world: World) -> None:
    """The rows of the users' rule switched off directly in the database, so that «Включить» has work to do
    (the world is then no longer pristine: the fixture builds a new one for the next test)."""
    ids = [world.ids[key] for key in ROW_RULES["user"].rows]
    with world.session_factory.begin() as session:
        session.execute(update(User).where(User.id.in_(ids)).values(is_active=False))


def _activate(world: World, key: str, role: RoleCode) -> Change:
    return Change({}, {"is_active": True}, message=world.row("users", key)["username"], prepare=_switch_off_users)


OWN_ACCOUNT = "(own account)"  # the profile's row: the acting role's own account (actor_<role>)
NEW_PASSWORD = "другойпароль-2027"


def _own_account(role: RoleCode) -> str:
    return f"actor_{role}"


def _profile_contacts(world: World, key: str, role: RoleCode) -> Change:
    """Only the name: the address stays, so no current password is needed and no letter goes."""
    full_name = f"Новое ФИО ({role})"
    payload = {"full_name": full_name, "email": world.row("users", key)["email"], "current_password": ""}
    return Change(payload, {"full_name": full_name}, message="Данные сохранены.")


def _profile_password(world: World, key: str, role: RoleCode) -> Change:
    """admin_app.password_change.set_password: the new hash, the user's unused recovery links used up, and a
    letter to the owner."""
    state, user_id = world.snapshot(), world.ids[key]
    payload = {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    letter = {"recipient": state["users"][user_id]["email"], "subject": "Ваш пароль изменён", "invitation_id": None}
    used_up = {
        ("password_resets", pk): {"used_at": CHANGED}
        for pk, reset in state["password_resets"].items()
        if reset["user_id"] == user_id and reset["used_at"] is None
    }
    return Change(
        payload, {"password_hash": CHANGED}, {"outbox_messages": [letter]}, changed=used_up, message="Пароль изменён."
    )


def _listed(change: Change) -> Change:
    """The invitation form's Change as a pasted list of one address: the bulk form names it `addresses`."""
    payload = {("addresses" if name == "email" else name): value for name, value in change.payload.items()}
    return replace(change, payload=payload)


def _redirects_to(path: str) -> Callable[[World, RoleCode, Response], None]:
    def saved(world: World, role: RoleCode, response: Response) -> None:
        _assert_status(response, 302)
        assert response.headers["location"] == f"{BASE_URL}{path}"

    return saved


def _mailing_saved(world: World, role: RoleCode, response: Response) -> None:
    """Back to «Рассылка», which says what was done (read like a browser would, so no message piles up)."""
    _redirects_to("/admin/mailing")(world, role, response)
    assert 'class="alert alert-success"' in world.call(role, "GET", "/admin/mailing").text


ROW_RULES: dict[str, RowRule] = {
    "application": RowRule(
        table="applications",
        scoped=True,
        inside="application_tomsk",
        outside=("application_seversk",),
        inside_for=frozenset({MUNICIPAL, SCHOOL, EXPERT}),
        routes=APPLICATION_ROUTES,
    ),
    "mailing": RowRule(
        table="invitations",
        scoped=True,
        inside="invitation_tomsk",
        outside=("invitation_seversk",),
        edit=_resend,
        create=_invite,
        routes=MAILING_ROUTES,
        saved=_mailing_saved,
    ),
    "invitation": RowRule(
        table="invitations",
        scoped=True,
        inside="invitation_tomsk",
        outside=("invitation_seversk",),
        routes=INVITATION_ROUTES,
        changes={"/invitation/action/resend": _resend_action, "/invitation/action/revoke": _revoke_action},
    ),
    "user": RowRule(
        table="users",
        scoped=True,
        inside="user_tomsk_expert",
        outside=("user_seversk_expert", "user_tomsk_coordinator", "user_tomsk_operator"),
        edit=_edit_user,
        routes=USER_ROUTES,
        changes={"/user/action/deactivate": _deactivate, "/user/action/activate": _activate},
    ),
    "municipality": RowRule(
        table="municipalities",
        scoped=False,
        inside="tomsk",
        outside=("seversk",),
        edit=_edit_municipality,
        create=_create_municipality,
    ),
    "organization": RowRule(
        table="organizations",
        scoped=True,
        inside="school_tomsk",
        outside=("school_seversk",),
        edit=_edit_organization,
        create=_create_organization,
    ),
    "role": RowRule(table="roles", scoped=False, inside="role_expert", outside=("role_municipal_coordinator",)),
    # Operators only (admin_app.permissions), read-only: the events of the two invitations sent.
    "audit-event": RowRule(table="audit_events", scoped=False, inside="event_tomsk", outside=("event_seversk",)),
    # Everyone's own account and nobody else's: no id in any URL, so there is no row outside to ask for.
    "profile": RowRule(
        table="users",
        scoped=True,
        inside=OWN_ACCOUNT,
        outside=(),
        inside_for=frozenset(ROLES),
        routes=PROFILE_ROUTES,
        changes={"/profile/contacts": _profile_contacts, "/profile/password": _profile_password},
        saved=_redirects_to("/admin/profile"),
    ),
}


def leaked_rows() -> set[str]:
    """Rows no page may show to anyone but an operator: the outside rows of the scoped views, and the
    documents of the outside applications."""
    outside = {key for rule in ROW_RULES.values() if rule.scoped for key in rule.outside}
    return outside | {key for key, document in DOCUMENTS.items() if document.application in outside}


# ---------------------------------------------------------------------------------------------------
# The oracle: GRANTS, the can_* flags and the scope


def granted(role: RoleCode, identity: str, action: str) -> bool:
    grants = GRANTS[role]
    return any((view, act) in grants for view in (identity, "*") for act in (action, "*"))


def permitted(role: RoleCode, view: type, action: str) -> bool:
    if action.startswith(custom_action("")):
        # An @action: SQLAdmin lets in whoever may open the view, then asks for the action's own grant.
        return accessible(role, view) and granted(role, view.identity, action)
    flag = ACTION_FLAGS[action] if view.is_model else None
    return granted(role, view.identity, action) and (flag is None or bool(getattr(view, flag)))


def accessible(role: RoleCode, view: type) -> bool:
    """SQLAdmin lets a role into a model view when any action its flags leave on is granted."""
    actions = ACTION_FLAGS if view.is_model else ("list",)
    return any(permitted(role, view, action) for action in actions)


def sees(role: RoleCode, rule: RowRule, key: str) -> bool:
    if role is OPERATOR or not rule.scoped:
        return True
    return role in rule.inside_for and key == rule.inside


# ---------------------------------------------------------------------------------------------------
# The matrix


def _cases() -> Iterator[Any]:
    for role, view in itertools.product(ROLES, VIEWS):
        rule = ROW_RULES.get(view.identity)
        routes = rule.routes if rule else MODEL_ROUTES if view.is_model else {"(no rule)": None}
        for name in routes:
            yield pytest.param(role, view.identity, name, id=f"{role}-{view.identity}-{name}")


CASES = list(_cases())


@pytest.mark.parametrize(("role", "identity", "route_name"), CASES)
def test_access_matrix(world: World, role: RoleCode, identity: str, route_name: str) -> None:
    rule = ROW_RULES.get(identity)
    assert rule is not None, f"view «{identity}» has no entry in ROW_RULES"
    view = VIEW_CLASSES[identity]
    route = rule.routes[route_name]
    EXERCISE[route.kind](world, role, view, rule, route)


def _url(route: Route, view: type, pk: int | str = "", **fields: int | str) -> str:
    return route.path.format(identity=view.identity, pk=pk, **fields)


def _list(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    response = world.call(role, "GET", _url(route, view))
    if not accessible(role, view):
        _assert_status(response, 403)
        return
    # Without the list grant SQLAdmin still opens the page of an accessible view, with no rows.
    _assert_status(response, 200)
    for key in rule.rows:
        shown = permitted(role, view, "list") and sees(role, rule, key)
        assert (world.markers[key] in response.text) == shown, f"{key} listed: {not shown}"


def _export(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    response = world.call(role, "GET", _url(route, view))
    if not permitted(role, view, route.action):
        _assert_status(response, 403)
        return
    _assert_status(response, 200)
    assert response.headers["content-type"].startswith("text/csv")
    exported = response.content.decode("utf-8-sig")
    for key in rule.rows:
        assert (world.markers[key] in exported) == sees(role, rule, key), f"{key} exported: {not sees(role, rule, key)}"


def _page(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    response = world.call(role, "GET", _url(route, view))
    _assert_status(response, 200 if permitted(role, view, route.action) else 403)


def _row_page(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for key in rule.rows:
        response = world.call(role, "GET", _url(route, view, world.ids[key]))
        if not permitted(role, view, route.action):
            _assert_status(response, 403)
        elif sees(role, rule, key):
            _assert_status(response, 200)
            assert world.markers[key] in response.text
        else:
            rule.not_found(world, role, response)


def _row_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for key in rule.rows:
        may = permitted(role, view, route.action)
        assert rule.edit is not None or not may, f"«{view.identity}» lets {role} {route.action}: give it a form"
        change = rule.edit(world, key) if rule.edit else Change({}, {})
        before = world.snapshot()
        response = world.call(role, "POST", _url(route, view, world.ids[key]), {**change.payload, "save": "Save"})
        if not may:
            _assert_status(response, 403)
            assert_diff(before, world.snapshot())
        elif sees(role, rule, key):
            rule.saved(world, role, response)
            changed = {(rule.table, world.ids[key]): change.columns, **change.changed}
            assert_diff(before, world.snapshot(), changed=changed, added=change.added)
        else:
            rule.not_found(world, role, response)
            assert_diff(before, world.snapshot())


def _create_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    may = permitted(role, view, route.action)
    assert rule.create is not None or not may, f"«{view.identity}» lets {role} create: give it a form"
    for submitted in ("tomsk", "seversk"):
        # A non-operator's rows land in their own scope, whatever municipality the form names.
        lands_in = submitted if role is OPERATOR else OWN_MUNICIPALITY
        change = rule.create(world, submitted, lands_in, role) if rule.create else Change({}, {})
        before = world.snapshot()
        response = world.call(role, "POST", _url(route, view), {**change.payload, "save": "Save"})
        if not may:
            _assert_status(response, 403)
            assert_diff(before, world.snapshot())
        else:
            rule.saved(world, role, response)
            assert_diff(before, world.snapshot(), added={rule.table: [change.columns], **change.added})


def _delete(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for key in rule.rows:
        before = world.snapshot()
        response = world.call(role, "DELETE", _url(route, view, world.ids[key]))
        if not permitted(role, view, route.action):
            _assert_status(response, 403)
            assert_diff(before, world.snapshot())
        elif sees(role, rule, key):
            _assert_status(response, 200)
            assert "error=" not in response.text
            assert_diff(before, world.snapshot(), removed={(rule.table, world.ids[key])})
        else:
            rule.not_found(world, role, response)
            assert_diff(before, world.snapshot())


# ---------------------------------------------------------------------------------------------------
# The routes «Заявления на аттестацию» adds: the oracle is admin_app.applications' own tables

ALERT = re.compile(r'<div class="alert alert-(\w+)" role="alert">(.*?)</div>', re.S)
OPTION = re.compile(r'<option value="(\d+)"')
# What assign_experts and set_deadline answer a role that sees the application but may not use them.
NOT_FOR_EXPERTS = "Назначать специалистов по аттестации могут муниципальный координатор и оператор."
NOT_FOR_DEADLINE = "Устанавливать срок проведения аттестации могут муниципальный координатор и оператор."

# One status step after another on the same application, each expected from the status it is in then:
# refused ones (not a step of TRANSITIONS for the role, a return without a reason) change nothing.
STATUS_WALK: tuple[tuple[ApplicationStatus, str], ...] = (
    (S.REGISTERED, ""),
    (S.RETURNED, ""),
    (S.RETURNED, "Нет копии диплома"),
    (S.NEW, ""),
    (S.REGISTERED, ""),
    (S.EXPERTS_ASSIGNED, ""),
    (S.UNDER_REVIEW, ""),
    (S.REVIEW_DONE, ""),
    (S.GRANTED, ""),
    (S.ARCHIVED, ""),
    (S.WITHDRAWN, "Педагог отозвал заявление"),
)
# The experts each application's form assigns (the inside one keeps its expert and gets a second).
EXPERTS_FORM = {
    "application_tomsk": ("actor_expert", "user_tomsk_expert"),
    "application_seversk": ("user_seversk_expert",),
}
# The organizations the entry form is tried with: the school coordinator's, another of Томский район, Северск's.
ENTRY_AT = ("actors_school", "school_tomsk", "school_seversk")


@dataclass(frozen=True)
class Outcome:
    """What a step on an application's page must do: the message its page then shows, and the changes."""

    flash: tuple[str, str]  # (alert category, text)
    changed: dict[tuple[str, Any], dict[str, Any]] = field(default_factory=dict)
    added: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    removed: set[tuple[str, Any]] = field(default_factory=set)


def _refused(message: str) -> Outcome:
    return Outcome(("danger", message))


def _flashes(world: World, role: RoleCode, pk: int) -> list[tuple[str, str]]:
    """The messages on the application's page, read like a browser following the redirect (so none piles up)."""
    response = world.call(role, "GET", f"/admin/application/details/{pk}")
    _assert_status(response, 200)
    return [(category, html.unescape(text)) for category, text in ALERT.findall(response.text)]


def _offers(world: World, role: RoleCode, organization: str) -> bool:
    """Whether the organization is in the role's scope, so the entry form offers and accepts it."""
    if role is OPERATOR:
        return True
    if role is MUNICIPAL:
        return world.pristine["organizations"][world.ids[organization]]["municipality_id"] == world.ids["tomsk"]
    return role is SCHOOL and organization == "actors_school"


def _post_step(
    world: World,
    role: RoleCode,
    view: type,
    rule: RowRule,
    route: Route,
    key: str,
    data: dict[str, Any],
    *,
    before: Snapshot,
    outcome: Outcome,
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> None:
    """POST a step of an application's page, expecting `outcome` (from `before`) when the role sees the row."""
    pk = world.ids[key]
    response = world.call(role, "POST", _url(route, view, pk), data, files)
    if not accessible(role, view):
        _assert_status(response, 403)
        assert_diff(before, world.snapshot())
    elif not sees(role, rule, key):
        rule.not_found(world, role, response)
        assert_diff(before, world.snapshot())
    else:
        _assert_status(response, 302)
        assert response.headers["location"] == f"{BASE_URL}/admin/application/details/{pk}"
        assert_diff(before, world.snapshot(), changed=outcome.changed, added=outcome.added, removed=outcome.removed)
        assert _flashes(world, role, pk) == [outcome.flash]


def _status_outcome(world: World, role: RoleCode, key: str, before: Snapshot, to: S, comment: str) -> Outcome:
    pk = world.ids[key]
    row = before["applications"][pk]
    current, labels = S(row["status"]), APPLICATION_STATUS_LABELS
    if role not in TRANSITIONS[current].get(to, frozenset()):
        return _refused(f"Нельзя перевести заявление из статуса «{labels[current]}» в статус «{labels[to]}».")
    if to in NEEDS_COMMENT and not comment.strip():
        return _refused("Укажите причину в комментарии.")
    if to is S.EXPERTS_ASSIGNED and not any(application == pk for application, _ in before["application_experts"]):
        return _refused("Сначала назначьте хотя бы одного специалиста по аттестации.")
    columns: dict[str, Any] = {"status": to.value}
    if to is S.REGISTERED:
        # The next number of the municipality and year; the deadline set at the first registration stays.
        today = centre_today(utcnow())
        numbers = [
            other["registration_number"]
            for other in before["applications"].values()
            if other["municipality_id"] == row["municipality_id"] and other["registration_year"] == today.year
        ]
        days = timedelta(days=world.app.state.settings.application_deadline_days)
        columns.update(
            registration_year=today.year,
            registration_number=max(numbers, default=0) + 1,
            registered_at=today,
            deadline=row["deadline"] or today + days,
        )
    history = {
        "application_id": pk,
        "actor_id": world.ids[f"actor_{role}"],
        "from_status": current.value,
        "to_status": to.value,
        "comment": comment,
    }
    return Outcome(
        ("success", f"Статус заявления: «{labels[to]}»."),
        changed={("applications", pk): columns},
        added={"application_status_changes": [history]},
    )


def _status_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for key, (to, comment) in itertools.product(rule.rows, STATUS_WALK):
        before = world.snapshot()
        outcome = _status_outcome(world, role, key, before, to, comment)
        data = {"to": to.value, "comment": comment}
        _post_step(world, role, view, rule, route, key, data, before=before, outcome=outcome)


def _experts_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for key in rule.rows:
        pk = world.ids[key]
        chosen = {world.ids[name] for name in EXPERTS_FORM[key]}
        before = world.snapshot()
        outcome = _refused(NOT_FOR_EXPERTS)
        if role in COORDINATORS:
            assigned = {expert for application, expert in before["application_experts"] if application == pk}
            outcome = Outcome(
                ("success", "Специалисты по аттестации назначены."),
                added={
                    "application_experts": [{"application_id": pk, "expert_id": e} for e in sorted(chosen - assigned)],
                    # each newly assigned expert is told by e-mail
                    "outbox_messages": [{"recipient": before["users"][e]["email"]} for e in sorted(chosen - assigned)],
                },
                removed={("application_experts", (pk, expert)) for expert in assigned - chosen},
            )
        data = {"experts": [str(expert) for expert in sorted(chosen)]}
        _post_step(world, role, view, rule, route, key, data, before=before, outcome=outcome)


def _deadline_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for key in rule.rows:
        pk = world.ids[key]
        before = world.snapshot()
        deadline = before["applications"][pk]["registered_at"] + timedelta(days=90)
        outcome = _refused(NOT_FOR_DEADLINE)
        if role in COORDINATORS:
            message = f"Срок проведения аттестации: {deadline:%d.%m.%Y}."
            outcome = Outcome(("success", message), changed={("applications", pk): {"deadline": deadline}})
        data = {"deadline": deadline.isoformat()}
        _post_step(world, role, view, rule, route, key, data, before=before, outcome=outcome)


def _upload_kinds(role: RoleCode) -> tuple[DocumentKind, ...]:
    """A kind of document the role may attach, then one it may not, where there is one."""
    allowed = [kind for kind, roles in UPLOADERS.items() if role in roles]
    refused = [kind for kind, roles in UPLOADERS.items() if role not in roles]
    assert allowed, f"{role} may attach no document"
    return (allowed[0], *refused[:1])


def _pdf(text: str) -> bytes:
    return f"%PDF-1.7\n% {text}\n%%EOF\n".encode()


def _upload_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for key, kind in itertools.product(rule.rows, _upload_kinds(role)):
        pk = world.ids[key]
        filename = f"{DOCUMENT_KIND_LABELS[kind]} ({role}, {key}).pdf"
        content = _pdf(f"{kind} attached by {role} to {key}")
        before = world.snapshot()
        outcome = _refused(f"Документ «{DOCUMENT_KIND_LABELS[kind]}» вы прикрепить не можете.")
        if role in UPLOADERS[kind]:
            document = {
                "application_id": pk,
                "kind": kind.value,
                "filename": filename,
                "content_type": "application/pdf",
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "uploaded_by_id": world.ids[f"actor_{role}"],
                "recommendation": Recommendation.GRANT.value if kind is DocumentKind.CONCLUSION else None,
            }
            added = {"documents": [document], FILES: [{"content": content}]}
            outcome = Outcome(("success", f"Документ «{filename}» прикреплён."), added=added)
        files = {"file": (filename, content, "application/pdf")}
        data = {"kind": kind.value, "recommendation": Recommendation.GRANT.value}  # conclusions must recommend
        _post_step(world, role, view, rule, route, key, data, before=before, outcome=outcome, files=files)
        if outcome.added and accessible(role, view) and sees(role, rule, key):
            # The row names the file that holds the bytes, and the document downloads as uploaded.
            after = world.snapshot()
            (document_id,) = after["documents"].keys() - before["documents"].keys()
            assert after[FILES][after["documents"][document_id]["storage_name"]] == {"content": content}
            download = world.call(role, "GET", f"/admin/application/{pk}/documents/{document_id}")
            _assert_status(download, 200)
            assert download.content == content


def _download(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """Each application's URL with its own document's id and with the other's."""
    for key, document_key in itertools.product(rule.rows, DOCUMENTS):
        document = DOCUMENTS[document_key]
        url = _url(route, view, world.ids[key], document_id=world.ids[document_key])
        before = world.snapshot()
        response = world.call(role, "GET", url)
        if not accessible(role, view):
            _assert_status(response, 403)
        elif sees(role, rule, key) and document.application == key:
            _assert_status(response, 200)
            assert response.content == document.content
            assert response.headers["content-type"].startswith("application/pdf")
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["content-disposition"].startswith("attachment;")
        else:
            rule.not_found(world, role, response)
            assert response.content != document.content
        assert_diff(before, world.snapshot())


def _register(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """The register of the applications registered this year, in the role's scope (coordinators only)."""
    today = centre_today(utcnow())  # registration dates are the centre's (Tomsk) dates
    before = world.snapshot()
    response = world.call(role, "GET", _url(route, view) + f"?first={today - timedelta(days=180)}&last={today}")
    if not accessible(role, view) or role not in COORDINATORS:
        _assert_status(response, 403)
    else:
        _assert_status(response, 200)
        cells = {cell.value for row in load_workbook(io.BytesIO(response.content)).active.iter_rows() for cell in row}
        for key in rule.rows:
            assert (world.markers[key] in cells) == sees(role, rule, key), f"{key} in the register of {role}"
    assert_diff(before, world.snapshot())


def _notice(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """The notification of one registered application (coordinators only, within the scope)."""
    for key in rule.rows:
        before = world.snapshot()
        response = world.call(role, "GET", _url(route, view, world.ids[key]))
        if not accessible(role, view) or role not in COORDINATORS:
            _assert_status(response, 403)
        elif sees(role, rule, key):
            _assert_status(response, 200)
            text = "\n".join(paragraph.text for paragraph in WordDocument(io.BytesIO(response.content)).paragraphs)
            assert world.markers[key] in text
        else:
            rule.not_found(world, role, response)
        assert_diff(before, world.snapshot())


def _entry_page(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    response = world.call(role, "GET", _url(route, view))
    if not accessible(role, view) or role not in ENTRY_ROLES:
        _assert_status(response, 403)
        return
    _assert_status(response, 200)
    offered = {int(value) for value in OPTION.findall(response.text)}
    for organization in ENTRY_AT:
        shown = world.ids[organization] in offered
        assert shown == _offers(world, role, organization), f"{organization} offered to {role}: {shown}"


def _entry_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    for organization in ENTRY_AT:
        full_name = f"Новый педагог ({organization})"
        payload = {
            "full_name": full_name,
            "email": "new.teacher@example.com",
            "phone": "+7 913 111-11-11",
            "position": "учитель физики",
            "organization_id": str(world.ids[organization]),
            "requested_category": Category.FIRST.value,
            "current_category": "",
            "current_category_date": "",
        }
        before = world.snapshot()
        response = world.call(role, "POST", _url(route, view), payload)
        if not accessible(role, view) or role not in ENTRY_ROLES:
            _assert_status(response, 403)
            assert_diff(before, world.snapshot())
            continue
        refusal = None if _offers(world, role, organization) else "Выберите образовательную организацию из списка."
        if refusal is not None:
            # The form again, saying why.
            _assert_status(response, 400)
            assert refusal in html.unescape(response.text)
            assert_diff(before, world.snapshot())
            continue
        _assert_status(response, 302)
        after = world.snapshot()
        pk = max(after["applications"].keys() - before["applications"].keys(), default=None)
        assert response.headers["location"] == f"{BASE_URL}/admin/application/details/{pk}"
        application = {
            "teacher_full_name": full_name,
            "teacher_email": "new.teacher@example.com",
            "organization_id": world.ids[organization],
            "municipality_id": before["organizations"][world.ids[organization]]["municipality_id"],
            "requested_category": Category.FIRST.value,
            "status": S.NEW.value,
            "registration_number": None,
            "deadline": None,
            "created_by_id": world.ids[f"actor_{role}"],
        }
        history = {
            "application_id": pk,
            "actor_id": world.ids[f"actor_{role}"],
            "from_status": None,
            "to_status": S.NEW.value,
            "comment": "",
        }
        assert_diff(before, after, added={"applications": [application], "application_status_changes": [history]})
        assert _flashes(world, role, pk) == [("success", "Заявление сохранено.")]


# ---------------------------------------------------------------------------------------------------
# The routes other views add: list actions, the own account («Профиль»), invitations by a list («Рассылка»)

TOAST = re.compile(r'<div class="toast admin-toast text-bg-(\w+)".*?<div class="toast-body">(.*?)</div>', re.S)
HIDDEN_ROWS = re.compile(r'<input type="hidden" name="rows" value="([^"]*)"')
BULK_ROW = re.compile(r"<tbody>\s*<tr[^>]*>(.*?)</tr>\s*</tbody>", re.S)
CELL = re.compile(r"<td>(.*?)</td>", re.S)
TAG = re.compile(r"<[^>]+>")


def _toasts(world: World, role: RoleCode, url: str) -> list[tuple[str, str]]:
    """The messages SQLAdmin's list page shows (as toasts), read like a browser following the redirect."""
    response = world.call(role, "GET", url)
    _assert_status(response, 200)
    return [(category, html.unescape(text)) for category, text in TOAST.findall(response.text)]


def _alerts(world: World, role: RoleCode, url: str) -> list[tuple[str, str]]:
    """The messages a page of the panel's own templates shows (as alerts), read like a browser would."""
    response = world.call(role, "GET", url)
    _assert_status(response, 200)
    return [(category, html.unescape(text)) for category, text in ALERT.findall(response.text)]


def _action(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """An @action on one row: refused (403) without its grant; else back to the list, the row changed when it is
    in the role's scope, and for a row outside it nothing changed and the message says «Не найдено»."""
    may = permitted(role, view, route.action)
    act = rule.changes.get(route.mounted)
    assert act is not None or not may, f"«{view.identity}» lets {role} {route.action}: say what it does"
    for key in rule.rows:
        change = act(world, key, role) if act else Change({}, {})
        change.prepare(world)
        before = world.snapshot()
        response = world.call(role, "GET", _url(route, view, world.ids[key]))
        if not may:
            _assert_status(response, 403)
            assert_diff(before, world.snapshot())
            continue
        _assert_status(response, 302)
        location = response.headers["location"]
        assert location == f"{BASE_URL}/admin/{view.identity}/list"
        (category, message), *more = _toasts(world, role, location)
        assert not more, more
        if sees(role, rule, key):
            changed = {(rule.table, world.ids[key]): change.columns, **change.changed}
            assert_diff(before, world.snapshot(), changed=changed, added=change.added)
            assert category == "success" and change.message in message, (category, message)
        else:
            assert_diff(before, world.snapshot())
            assert category != "success" and "Не найдено" in message, (category, message)


def _own_page(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """The actor's own account: their login and address, and no one else's."""
    response = world.call(role, "GET", _url(route, view))
    if not permitted(role, view, route.action):
        _assert_status(response, 403)
        return
    _assert_status(response, 200)
    assert sees(role, rule, OWN_ACCOUNT)
    own = world.row("users", _own_account(role))
    assert own["username"] in response.text and own["email"] in response.text
    for other in ROLES:
        if other is not role:
            assert ACTORS[other] not in response.text, f"the profile of {role} shows {ACTORS[other]}"


def _own_form(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """A form of the actor's own account: exactly their own row changes, and the page then says so."""
    key = _own_account(role)
    may = permitted(role, view, route.action) and sees(role, rule, OWN_ACCOUNT)
    form = rule.changes.get(route.mounted)
    assert form is not None or not may, f"«{view.identity}» lets {role} post {route.mounted}: give it a form"
    change = form(world, key, role) if form else Change({}, {})
    change.prepare(world)
    before = world.snapshot()
    response = world.call(role, route.method, _url(route, view), change.payload)
    if not may:
        _assert_status(response, 403)
        assert_diff(before, world.snapshot())
        return
    rule.saved(world, role, response)
    changed = {(rule.table, world.ids[key]): change.columns, **change.changed}
    assert_diff(before, world.snapshot(), changed=changed, added=change.added)
    # Read like a browser following the redirect: the session goes on (a new password keeps it signed in).
    (category, message), *more = _alerts(world, role, response.headers["location"])
    assert not more and category == "success" and change.message in message, (category, message, more)


def _bulk_invitations(world: World, role: RoleCode, rule: RowRule) -> Iterator[tuple[str, Change]]:
    """The invitation form's cases (rule.create) as a pasted list of one address: the municipality each names,
    and what sending it must add (a non-operator's invitation lands in their own municipality)."""
    assert rule.create is not None, "a list of addresses invites like the invitation form: give the view one"
    for submitted in ("tomsk", "seversk"):
        lands_in = submitted if role is OPERATOR else OWN_MUNICIPALITY
        yield lands_in, _listed(rule.create(world, submitted, lands_in, role))


def _bulk_preview(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """The preview of a list: each row checked (here: ready, in the municipality it will land in), nothing written."""
    may = permitted(role, view, route.action)
    for lands_in, change in _bulk_invitations(world, role, rule):
        before = world.snapshot()
        response = world.call(role, "POST", _url(route, view), change.payload)
        assert_diff(before, world.snapshot())
        if not may:
            _assert_status(response, 403)
            continue
        _assert_status(response, 200)
        (row,) = BULK_ROW.findall(response.text)
        cells = [html.unescape(TAG.sub("", cell)).strip() for cell in CELL.findall(row)]
        email = change.payload["addresses"]
        assert cells == ["1", email, ROLE_NAMES[EXPERT], world.markers[lands_in], "—", "готово к отправке"], cells
        assert HIDDEN_ROWS.search(response.text), "the preview carries no rows to confirm"


def _bulk_confirm(world: World, role: RoleCode, view: type, rule: RowRule, route: Route) -> None:
    """The confirmation of a previewed list (mode «only the ready rows»): exactly its invitation and letter."""
    may = permitted(role, view, route.action)
    preview = next(other for other in rule.routes.values() if other.kind == "bulk_preview")
    settings = world.app.state.settings
    for _, change in _bulk_invitations(world, role, rule):
        if may:
            shown = world.call(role, "POST", _url(preview, view), change.payload)
            _assert_status(shown, 200)
            signed = html.unescape(HIDDEN_ROWS.search(shown.text).group(1))
        else:
            # The rows a preview would carry, signed for this very user: the refusal is no matter of the signature.
            submitted = int(change.payload["municipality_id"])
            row = BulkRow(1, change.payload["addresses"], change.payload["role"], submitted, None)
            signed = sign_rows([row], user_id=world.ids[_own_account(role)], secret_key=settings.secret_key)
        before = world.snapshot()
        response = world.call(role, "POST", _url(route, view), {"rows": signed, "mode": "valid"})
        if not may:
            _assert_status(response, 403)
            assert_diff(before, world.snapshot())
            continue
        _assert_status(response, 200)
        assert "Отправлено приглашений: 1, пропущено строк: 0." in response.text
        assert_diff(before, world.snapshot(), added={rule.table: [change.columns], **change.added})


EXERCISE: dict[str, Callable[[World, RoleCode, type, RowRule, Route], None]] = {
    "list": _list,
    "export": _export,
    "page": _page,
    "row_page": _row_page,
    "row_form": _row_form,
    "create_form": _create_form,
    "delete": _delete,
    "entry_page": _entry_page,
    "entry_form": _entry_form,
    "status_form": _status_form,
    "experts_form": _experts_form,
    "deadline_form": _deadline_form,
    "upload_form": _upload_form,
    "download": _download,
    "register": _register,
    "notice": _notice,
    "action": _action,
    "own_page": _own_page,
    "own_form": _own_form,
    "bulk_preview": _bulk_preview,
    "bulk_confirm": _bulk_confirm,
}

# ---------------------------------------------------------------------------------------------------
# The matrix covers what the panel registers


def _admin_routes(app: Starlette) -> list[Any]:
    mount = next(route for route in app.routes if isinstance(route, Mount) and route.name == "admin")
    return mount.routes


def registered_admin(app: Starlette) -> BaseAdmin:
    index = next(route for route in _admin_routes(app) if getattr(route, "name", None) == "index")
    return index.endpoint.__self__


def test_every_registered_view_has_a_row_rule(world: World) -> None:
    registered = {view.identity for view in registered_admin(world.app).views}
    assert registered == set(VIEW_CLASSES)
    assert set(ROW_RULES) == registered


def test_the_matrix_exercises_every_route_the_views_add(world: World) -> None:
    """Routes a view adds itself (@expose, @action) each need a rule; so do the built-in routes left out, and
    every action a list or a details page offers."""
    own_routes = {
        (route.path, method)
        for route in _admin_routes(world.app)
        if isinstance(getattr(getattr(route, "endpoint", None), "__self__", None), (BaseView, ModelView))
        for method in route.methods - {"HEAD"}
    }
    covered = {
        (route.mounted, route.method) for rule in ROW_RULES.values() for route in rule.routes.values() if route.mounted
    }
    assert own_routes == covered
    for view in registered_admin(world.app).views:
        if isinstance(view, ModelView):
            assert not view.can_import, f"«{view.identity}» imports CSV: add the import route to the matrix"
            assert not view.form_ajax_refs, f"«{view.identity}» has ajax lookups: add them to the matrix"
            offered = {*view._custom_actions_in_list, *view._custom_actions_in_detail}
            exercised = {
                route.action: route for route in ROW_RULES[view.identity].routes.values() if route.kind == "action"
            }
            for slug in offered:
                route = exercised.get(custom_action(slug))
                assert route is not None, f"«{view.identity}» offers the action «{slug}»: add it to the matrix"
                assert (route.method, route.mounted) == ("GET", f"/{view.identity}/action/{slug}"), route
                assert route.mounted in ROW_RULES[view.identity].changes, f"«{slug}»: say what it does"


# ---------------------------------------------------------------------------------------------------
# Bad input


def test_forged_fields_are_ignored_when_a_coordinator_edits_a_user(world: World) -> None:
    user_id = world.ids["user_tomsk_expert"]
    form = world.call(MUNICIPAL, "GET", f"/admin/user/edit/{user_id}")
    _assert_status(form, 200)
    for field_name in ("role", "municipality", "organization"):
        assert f'name="{field_name}"' not in form.text
    before = world.snapshot()
    forged = {
        "full_name": "Петрова Анна Ивановна",
        "email": "anna.petrova@example.com",
        "role": str(world.ids["role_operator"]),
        "municipality": str(world.ids["seversk"]),
        "organization": str(world.ids["school_seversk"]),
        "save": "Save",
        # no is_active: the box is unticked, which a coordinator may do
    }
    response = world.call(MUNICIPAL, "POST", f"/admin/user/edit/{user_id}", forged)
    _assert_status(response, 302)
    columns = {"full_name": "Петрова Анна Ивановна", "email": "anna.petrova@example.com", "is_active": False}
    assert_diff(before, world.snapshot(), changed={("users", user_id): columns})


def test_forged_municipality_is_ignored_when_a_coordinator_edits_an_organization(world: World) -> None:
    school_id = world.ids["school_tomsk"]
    before = world.snapshot()
    forged = {"name": "Школа с новым именем", "municipality": str(world.ids["seversk"]), "save": "Save"}
    response = world.call(MUNICIPAL, "POST", f"/admin/organization/edit/{school_id}", forged)
    _assert_status(response, 302)
    assert_diff(before, world.snapshot(), changed={("organizations", school_id): {"name": "Школа с новым именем"}})


def test_a_coordinator_creating_an_organization_elsewhere_gets_it_in_their_own_municipality(world: World) -> None:
    before = world.snapshot()
    forged = {"name": "Школа из другого района", "municipality": str(world.ids["seversk"]), "save": "Save"}
    response = world.call(MUNICIPAL, "POST", "/admin/organization/create", forged)
    _assert_status(response, 302)
    created = {"name": "Школа из другого района", "municipality_id": world.ids["tomsk"]}
    assert_diff(before, world.snapshot(), added={"organizations": [created]})
    listed = world.call(MUNICIPAL, "GET", "/admin/organization/list").text
    assert "Школа из другого района" in listed


MODEL_IDENTITIES = [view.identity for view in VIEWS if view.is_model]


@pytest.mark.parametrize("role", [MUNICIPAL, SCHOOL, EXPERT])
@pytest.mark.parametrize("identity", MODEL_IDENTITIES)
def test_a_foreign_id_in_a_delete_list_deletes_nothing(world: World, role: RoleCode, identity: str) -> None:
    rule, view = ROW_RULES[identity], VIEW_CLASSES[identity]
    for outside in rule.outside:
        before = world.snapshot()
        pks = f"{world.ids[rule.inside]},{world.ids[outside]}"
        response = world.call(role, "DELETE", f"/admin/{identity}/delete?pks={pks}")
        _assert_status(response, 404 if permitted(role, view, "delete") else 403)
        assert_diff(before, world.snapshot())


BAD_IDS = ("-1", "0", "abc", "2147483648", "9223372036854775807", "99999999999999999999", "1,2", "1.5", "%20", "１")
ROW_ROUTES = ("details", "edit-GET", "edit-POST", "delete")


@pytest.mark.parametrize("role", [OPERATOR, MUNICIPAL])
@pytest.mark.parametrize("identity", MODEL_IDENTITIES)
def test_malformed_ids_are_not_found(world: World, role: RoleCode, identity: str) -> None:
    view = VIEW_CLASSES[identity]
    before = world.snapshot()
    wrong = []
    for route_name, bad in itertools.product(ROW_ROUTES, BAD_IDS):
        route = MODEL_ROUTES[route_name]
        data = {"save": "Save"} if route.method == "POST" else None
        status = world.send(role, route.method, _url(route, view, bad), data).status_code
        # Refused either way when not permitted: SQLAdmin may look the row up before asking about the grant.
        expected = (404,) if permitted(role, view, route.action) else (403, 404)
        if status not in expected:
            wrong.append(f"{route.method} {_url(route, view, bad)} → {status}, expected {expected}")
    assert not wrong, "\n".join(wrong)
    assert_diff(before, world.snapshot())


@pytest.mark.parametrize("role", [OPERATOR, MUNICIPAL])
def test_malformed_invitation_ids_are_not_resent(world: World, role: RoleCode) -> None:
    """A resend of an id that can match no invitation is a 404, like any missing row."""
    before = world.snapshot()
    wrong = []
    for bad in ("-1", "0", "abc", "1,2", "2147483648", "99999999999999999999"):
        response = world.send(role, "POST", f"/admin/mailing/resend/{bad}", {})
        if response.status_code != 404:
            wrong.append(f"POST /admin/mailing/resend/{bad} → {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert_diff(before, world.snapshot())


BAD_PKS = ("abc", "-1", "0", "2147483648", str(10**20), "2147483647,abc", "1.5", ",", "", "9" * 5000)
ACTION_ROUTES = [
    pytest.param(identity, name, id=f"{identity}-{name}")
    for identity, rule in ROW_RULES.items()
    for name, route in rule.routes.items()
    if route.kind == "action"
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("identity", "route_name"), ACTION_ROUTES)
def test_malformed_action_pks_change_nothing(world: World, role: RoleCode, identity: str, route_name: str) -> None:
    """An action on ids that can match no row (or none at all: 2147483647), or on none: no server error, nothing
    changed; refused without the grant, else back to the list with a message that is no success."""
    view, route = VIEW_CLASSES[identity], ROW_RULES[identity].routes[route_name]
    before = world.snapshot()
    wrong = []
    for bad in BAD_PKS:
        url = _url(route, view, bad)
        response = world.send(role, "GET", url)
        shown = url if len(url) < 100 else f"{url[:100]}…"
        if response.status_code != (302 if permitted(role, view, route.action) else 403):
            wrong.append(f"GET {shown} → {response.status_code}")
        elif response.status_code == 302:
            # Read the message like a browser would, so that none piles up in the session.
            messages = _toasts(world, role, response.headers["location"])
            if [category for category, _ in messages] in ([], ["success"]):
                wrong.append(f"GET {shown} → {messages}")
    assert not wrong, "\n".join(wrong)
    assert_diff(before, world.snapshot())


APPLICATION_STEPS = {
    "status": {"to": S.WITHDRAWN.value, "comment": ""},
    "experts": {"experts": "1"},
    "deadline": {"deadline": "2030-01-01"},
}


@pytest.mark.parametrize("role", ROLES)
def test_malformed_application_ids_are_not_found(world: World, role: RoleCode) -> None:
    """A step on an id that can match no application (or none at all: 2147483647) is a 404, for every role."""
    before = world.snapshot()
    wrong = []
    for (step, data), bad in itertools.product(APPLICATION_STEPS.items(), (*BAD_IDS, "2147483647")):
        response = world.send(role, "POST", f"/admin/application/{bad}/{step}", data)
        if response.status_code != 404:
            wrong.append(f"POST /admin/application/{bad}/{step} → {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert_diff(before, world.snapshot())


def test_the_snapshot_holds_the_documents_and_their_files(world: World) -> None:
    """What the document routes are checked against: each application's document, a row and a file."""
    for key, document in DOCUMENTS.items():
        row = world.pristine["documents"][world.ids[key]]
        assert row["application_id"] == world.ids[document.application]
        assert world.pristine[FILES][row["storage_name"]] == {"content": document.content}


@pytest.mark.parametrize("role", ROLES)
def test_malformed_document_ids_are_not_found(world: World, role: RoleCode) -> None:
    """An upload to, or a download from, an id that can match no application or document (or none at all:
    2147483647) is a 404, for every role; nothing is stored."""
    application, document = world.ids["application_tomsk"], world.ids["document_tomsk"]
    kind = _upload_kinds(role)[0]
    before = world.snapshot()
    wrong = []
    for bad in (*BAD_IDS, "2147483647"):
        files = {"file": (f"{bad}.pdf", _pdf(f"upload to {bad}"), "application/pdf")}
        upload = f"/admin/application/{bad}/documents"
        response = world.send(role, "POST", upload, {"kind": kind.value}, files)
        if response.status_code != 404:
            wrong.append(f"POST {upload} → {response.status_code}")
        for url in (
            f"/admin/application/{bad}/documents/{document}",
            f"/admin/application/{application}/documents/{bad}",
            f"/admin/application/{bad}/documents/{bad}",
        ):
            response = world.send(role, "GET", url)
            if response.status_code != 404:
                wrong.append(f"GET {url} → {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert_diff(before, world.snapshot())


def test_an_expert_no_longer_assigned_neither_downloads_nor_attaches(world: World) -> None:
    """The expert's scope is the assignment: once the coordinator assigns another expert instead, the
    application's documents are not found for them."""
    pk, document = world.ids["application_tomsk"], world.ids["document_tomsk"]
    url = f"/admin/application/{pk}/documents/{document}"
    files = {"file": ("Заключение.pdf", _pdf("conclusion"), "application/pdf")}
    kind = {"kind": DocumentKind.CONCLUSION.value, "recommendation": Recommendation.GRANT.value}
    assert EXPERT in UPLOADERS[DocumentKind.CONCLUSION]
    _assert_status(world.call(EXPERT, "GET", url), 200)
    reassign = {"experts": [str(world.ids["user_tomsk_expert"])]}
    _assert_status(world.call(MUNICIPAL, "POST", f"/admin/application/{pk}/experts", reassign), 302)
    assigned = {expert for application, expert in world.snapshot()["application_experts"] if application == pk}
    assert assigned == {world.ids["user_tomsk_expert"]}
    before = world.snapshot()
    _assert_status(world.call(EXPERT, "GET", url), 404)
    _assert_status(world.call(EXPERT, "POST", f"/admin/application/{pk}/documents", kind, files), 404)
    assert_diff(before, world.snapshot())
    # The expert assigned now may do both.
    _assert_status(
        world.call(MUNICIPAL, "POST", f"/admin/application/{pk}/experts", _experts("actor_expert")(world)), 302
    )
    _assert_status(world.call(EXPERT, "GET", url), 200)
    _assert_status(world.call(EXPERT, "POST", f"/admin/application/{pk}/documents", kind, files), 302)
    assert _flashes(world, EXPERT, pk) == [("success", "Документ «Заключение.pdf» прикреплён.")]


def _experts(*keys: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"experts": [str(world.ids[key]) for key in keys]}


def _days_after_registration(days: int) -> Callable[[World], dict[str, Any]]:
    def form(world: World) -> dict[str, Any]:
        registered = world.row("applications", "application_tomsk")["registered_at"]
        return {"deadline": (registered + timedelta(days=days)).isoformat()}

    return form


NOT_SAME_MUNICIPALITY = (
    "не может быть экспертом по этому заявлению: нужен действующий специалист по аттестации того же муниципалитета."
)
REFUSED_STEPS = (
    ("status", lambda world: {"to": "bogus", "comment": ""}, "Выберите действие из предложенных."),
    ("experts", _experts(), "Выберите хотя бы одного специалиста по аттестации."),
    ("experts", _experts("user_seversk_expert"), f"seversk_expert {NOT_SAME_MUNICIPALITY}"),
    ("experts", _experts("actor_expert", "user_tomsk_coordinator"), f"second_coordinator {NOT_SAME_MUNICIPALITY}"),
    ("deadline", lambda world: {"deadline": ""}, "Укажите дату."),
    ("deadline", lambda world: {"deadline": "31.13.2030"}, "Укажите дату в формате ДД.ММ.ГГГГ."),
    ("deadline", _days_after_registration(-1), "Срок проведения аттестации не может быть раньше даты регистрации."),
)


def test_refused_application_steps_change_nothing(world: World) -> None:
    """The municipal coordinator may take these steps, yet not with these forms: an expert of another
    municipality or no expert at all, a status that is none, a deadline that is no date or before registration."""
    pk = world.ids["application_tomsk"]
    for step, data, message in REFUSED_STEPS:
        before = world.snapshot()
        response = world.call(MUNICIPAL, "POST", f"/admin/application/{pk}/{step}", data(world))
        _assert_status(response, 302)
        assert_diff(before, world.snapshot())
        assert _flashes(world, MUNICIPAL, pk) == [("danger", message)], step
