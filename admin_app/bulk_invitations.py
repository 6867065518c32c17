"""Bulk invitations: a table or a pasted list of addresses becomes rows, each checked and sent by the rules
of a single invitation (admin_app.invitations.create_invitation), never by a copy of them.

`read_rows` reads the upload: columns by their Russian headers, roles by their names or short forms,
municipalities and organizations by name within the inviter's scope; whatever it cannot read is the
row's `problem`. `check_rows` runs every row through create_invitation in a savepoint that is rolled
back (the preview) or kept (`send_rows`, the confirmation, which checks everything again: things may
have changed). A repeated address with the same role is reported in its row. Between the preview and
the confirmation the rows travel in a signed form field (`sign_rows`, `unsign_rows`), bound to the user.
"""

from __future__ import annotations

import re
from dataclasses import astuple, dataclass, replace
from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from admin_app.accounts import AccountError, normalize_email
from admin_app.auth import CurrentUser
from admin_app.bulk_files import BulkInputError, TableRow, read_table
from admin_app.invitations import InvitationError, create_invitation, invitable_roles
from admin_app.scopes import scope_clause
from models import ROLE_NAMES, Municipality, Organization, RoleCode
from settings import Settings

SIGNING_SALT = "bulk-invitations"
SIGNED_MAX_AGE = 3600  # seconds between the preview and the confirmation
HEADER_SEARCH_ROWS = 10  # a title above the header row is allowed
QUOTED_MAX = 80  # characters of a cell quoted back in a message
FULL_NAME_MAX = 200  # Invitation.full_name
ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")

EMAIL, ROLE, MUNICIPALITY, ORGANIZATION, FULL_NAME = "email", "role", "municipality", "organization", "full_name"
HEADERS = {
    EMAIL: ("Электронная почта", "E-mail", "Email", "Почта", "Эл. почта", "Адрес электронной почты"),
    ROLE: ("Роль", "Роль пользователя"),
    MUNICIPALITY: ("Муниципалитет", "Муниципальное образование", "Муниципальный район", "Район"),
    ORGANIZATION: ("Образовательная организация", "Организация", "ОО", "Школа"),
    FULL_NAME: ("ФИО", "Фамилия имя отчество", "Фамилия, имя, отчество"),
}
EXPECTED_COLUMNS = (
    "«Электронная почта», «Роль», «Образовательная организация» (для координатора в образовательной "
    "организации), «Муниципалитет» (указывает только оператор), «ФИО» (необязательно)"
)

# How a role may be written besides its full name (models.ROLE_NAMES) and its code; the first is the short form.
ROLE_SHORT_NAMES = {
    RoleCode.EXPERT: ("эксперт", "специалист по аттестации"),
    RoleCode.ORGANIZATION_COORDINATOR: (
        "координатор ОО",
        "координатор в ОО",
        "координатор образовательной организации",
        "координатор в образовательной организации",
        "школьный координатор",
    ),
    RoleCode.MUNICIPAL_COORDINATOR: ("муниципальный координатор", "координатор муниципалитета"),
    RoleCode.OPERATOR: ("оператор", "сотрудник центра аттестации"),
}


def size_limit_message(max_kb: int) -> str:
    return f"Файл или список слишком большой: можно загрузить не больше {max_kb} КБ. Разделите его на части."


def _row_limit_message(max_rows: int) -> str:
    return (
        f"Строк с адресами больше {max_rows}: за один раз можно пригласить не больше {max_rows} человек. "
        "Разделите файл или список на части."
    )


def _word_key(text: str) -> str:
    """Letters and digits only, in lower case: «E-mail» and «email», «Ф.И.О.» and «ФИО» are one header."""
    return "".join(char for char in text.casefold().replace("ё", "е") if char.isalnum())


def _name_key(text: str) -> str:
    """Names of places compare without regard to case and spacing."""
    return " ".join(text.casefold().replace("ё", "е").split())


ROLE_CODES = frozenset(role.value for role in RoleCode)
COLUMN_OF_HEADER = {_word_key(header): column for column, headers in HEADERS.items() for header in headers}
ROLE_OF_WORDS = {
    _word_key(words): role for role in RoleCode for words in (role.value, ROLE_NAMES[role], *ROLE_SHORT_NAMES[role])
}


@dataclass(frozen=True)
class Choice:
    """What the form chose for every address of a pasted list, as submitted."""

    role: str
    municipality_id: int | None
    organization_id: int | None


@dataclass(frozen=True)
class BulkRow:
    line: int  # the row's number in the file, or the address's number in a pasted list
    email: str
    role: str  # a RoleCode value, or "" when the row names no role we know
    municipality_id: int | None
    organization_id: int | None
    full_name: str = ""
    problem: str = ""  # what reading the row found wrong; such a row is never sent


@dataclass(frozen=True)
class CheckedRow:
    row: BulkRow
    problem: str  # "" when the row is ready to be sent
    place: str  # the municipality or organization the invitation is (or would be) for

    @property
    def ready(self) -> bool:
        return not self.problem

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[RoleCode(self.row.role)] if self.row.role else "—"


class NotAllReady(Exception):
    """«Send all» was asked for, but some rows cannot be sent: nothing is."""

    def __init__(self, checked: list[CheckedRow]) -> None:
        super().__init__("not every row is ready")
        self.checked = checked


def read_rows(
    session: Session,
    inviter: CurrentUser,
    *,
    content: bytes | None,
    text: str,
    choice: Choice,
    settings: Settings,
) -> list[BulkRow]:
    """The rows of an uploaded file (`content`) or of a pasted list (`text`, all with the form's `choice`)."""
    if content is not None and text.strip():
        raise BulkInputError("Выберите что-то одно: файл или список адресов.")
    max_bytes = settings.bulk_max_kb * 1024
    if len(content or b"") > max_bytes or len(text.encode()) > max_bytes:
        raise BulkInputError(size_limit_message(settings.bulk_max_kb))
    if content is not None:
        table = read_table(content, max_rows=settings.bulk_max_rows + HEADER_SEARCH_ROWS)
        return _rows_from_table(session, inviter, table, settings.bulk_max_rows)
    addresses = [address for address in ADDRESS_SEPARATORS.split(text) if address]
    if not addresses:
        raise BulkInputError("Выберите файл с таблицей или вставьте список адресов.")
    if len(addresses) > settings.bulk_max_rows:
        raise BulkInputError(_row_limit_message(settings.bulk_max_rows))
    role = choice.role if choice.role in ROLE_CODES else ""  # create_invitation reports a missing role
    return [
        BulkRow(number, address, role, choice.municipality_id, choice.organization_id)
        for number, address in enumerate(addresses, start=1)
    ]


def _rows_from_table(session: Session, inviter: CurrentUser, table: list[TableRow], max_rows: int) -> list[BulkRow]:
    if not table:
        raise BulkInputError("Файл пустой: в нём нет ни одной строки.")
    header_at, columns = _header(table)
    rows = table[header_at + 1 :]
    if not rows:
        raise BulkInputError("В файле есть заголовки, но нет ни одной строки с адресом под ними.")
    if len(rows) > max_rows:
        raise BulkInputError(_row_limit_message(max_rows))
    places = _Places(session, inviter)
    return [_row_from_cells(row, columns, places, inviter) for row in rows]


def _header(table: list[TableRow]) -> tuple[int, dict[str, int]]:
    """The header row (the first with an e-mail column, among the first few) and the position of each column."""
    for index, row in enumerate(table[:HEADER_SEARCH_ROWS]):
        columns = _columns(row)
        if EMAIL in columns:
            if ROLE not in columns:
                raise _missing_columns([ROLE])
            return index, columns
    found = _columns(table[0])
    raise _missing_columns([column for column in (EMAIL, ROLE) if column not in found])


def _columns(row: TableRow) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, cell in enumerate(row.cells):
        column = COLUMN_OF_HEADER.get(_word_key(cell))
        if column is not None:
            columns.setdefault(column, position)
    return columns


def _missing_columns(columns: list[str]) -> BulkInputError:
    named = " и ".join(f"«{HEADERS[column][0]}»" for column in columns)
    return BulkInputError(
        f"В файле нет {'столбца' if len(columns) == 1 else 'столбцов'} {named}. "
        f"В первой строке таблицы должны быть заголовки столбцов: {EXPECTED_COLUMNS}. "
        "Если заголовки на месте, проверьте кодировку файла: нужна UTF-8 или Windows-1251."
    )


class _Places:
    """The municipalities and organizations the inviter may name, looked up by name."""

    def __init__(self, session: Session, inviter: CurrentUser) -> None:
        municipalities = select(Municipality.id, Municipality.name)
        organizations = select(Organization.id, Organization.name, Organization.municipality_id)
        self.municipalities = {
            _name_key(row.name): row.id for row in session.execute(_in_scope(municipalities, inviter, Municipality))
        }
        self.organizations: dict[str, list[tuple[int, int]]] = {}
        for row in session.execute(_in_scope(organizations, inviter, Organization)):
            self.organizations.setdefault(_name_key(row.name), []).append((row.id, row.municipality_id))

    def municipality(self, name: str) -> tuple[int | None, str]:
        if not name:
            return None, ""
        found = self.municipalities.get(_name_key(name))
        if found is None:
            return None, f"Муниципалитет «{_quoted(name)}» не найден среди доступных вам."
        return found, ""

    def organization(self, name: str, municipality_id: int | None) -> tuple[tuple[int, int] | None, str]:
        """The organization's id and municipality's id."""
        if not name:
            return None, ""
        found = [
            organization
            for organization in self.organizations.get(_name_key(name), [])
            if municipality_id is None or organization[1] == municipality_id
        ]
        if not found:
            return None, f"Образовательная организация «{_quoted(name)}» не найдена среди доступных вам."
        if len(found) > 1:
            return None, f"Организаций с названием «{_quoted(name)}» несколько: укажите муниципалитет."
        return found[0], ""


def _in_scope(statement: Select, inviter: CurrentUser, model: type) -> Select:
    clause = scope_clause(inviter, model)
    return statement if clause is None else statement.where(clause)


def _row_from_cells(row: TableRow, columns: dict[str, int], places: _Places, inviter: CurrentUser) -> BulkRow:
    def cell(column: str) -> str:
        position = columns.get(column)
        return row.cells[position] if position is not None and position < len(row.cells) else ""

    role, role_problem = _role(cell(ROLE), inviter)
    municipality_id, municipality_problem = places.municipality(cell(MUNICIPALITY))
    organization, organization_problem = places.organization(cell(ORGANIZATION), municipality_id)
    organization_id = None
    if organization is not None:
        organization_id, municipality_id = organization
    full_name = " ".join(cell(FULL_NAME).split())
    name_problem = f"ФИО длиннее {FULL_NAME_MAX} символов." if len(full_name) > FULL_NAME_MAX else ""
    problems = (role_problem, municipality_problem, organization_problem, name_problem)
    return BulkRow(
        line=row.line,
        email=cell(EMAIL),
        role=role,
        municipality_id=municipality_id,
        organization_id=organization_id,
        full_name=full_name[:FULL_NAME_MAX],
        problem=" ".join(problem for problem in problems if problem),
    )


def _role(text: str, inviter: CurrentUser) -> tuple[str, str]:
    """The role code a cell names; an unknown one is reported with the short forms of the roles one may invite."""
    if not text:
        return "", "Не указана роль."
    role = ROLE_OF_WORDS.get(_word_key(text))
    if role is not None:
        return role.value, ""
    known = ", ".join(f"«{ROLE_SHORT_NAMES[role][0]}»" for role in invitable_roles(inviter))
    return "", f"Неизвестная роль «{_quoted(text)}». Роли, которые вы можете указать: {known}."


def _quoted(text: str) -> str:
    return text if len(text) <= QUOTED_MAX else text[: QUOTED_MAX - 1] + "…"


def check_rows(
    session: Session,
    inviter: CurrentUser,
    rows: list[BulkRow],
    *,
    settings: Settings,
    now: datetime,
    keep: bool = False,
) -> list[CheckedRow]:
    """Each row through create_invitation in a savepoint: kept when `keep` and the row is ready, else rolled back."""
    first_line: dict[tuple[str, str], int] = {}
    checked = []
    for row in rows:
        earlier = first_line.setdefault((_address_key(row.email), row.role), row.line)
        if row.problem:
            problem = row.problem
        elif earlier != row.line:
            problem = f"Повтор строки {earlier}: этот адрес с этой ролью уже есть в списке."
        else:
            problem, row = _try(session, inviter, row, settings=settings, now=now, keep=keep)
        checked.append(CheckedRow(row, problem, _place(session, row)))
    return checked


def _try(
    session: Session, inviter: CurrentUser, row: BulkRow, *, settings: Settings, now: datetime, keep: bool
) -> tuple[str, BulkRow]:
    """The row's problem ("" if none) and the row as the invitation places it (a coordinator's own municipality)."""
    savepoint = session.begin_nested()
    try:
        invitation = create_invitation(
            session,
            inviter,
            role=row.role,
            email=row.email,
            municipality_id=row.municipality_id,
            organization_id=row.organization_id,
            full_name=row.full_name,
            settings=settings,
            now=now,
        )
    except InvitationError as error:
        savepoint.rollback()
        return str(error), row
    placed = replace(row, municipality_id=invitation.municipality_id, organization_id=invitation.organization_id)
    if keep:
        savepoint.commit()
    else:
        savepoint.rollback()
    return "", placed


def _address_key(email: str) -> str:
    try:
        return normalize_email(email).lower()
    except AccountError:
        return email.strip().lower()


def _place(session: Session, row: BulkRow) -> str:
    if row.role == RoleCode.OPERATOR:
        return "—"
    if row.organization_id is not None and (organization := session.get(Organization, row.organization_id)):
        return organization.name
    if row.municipality_id is not None and (municipality := session.get(Municipality, row.municipality_id)):
        return municipality.name
    return "—"


def send_rows(
    session: Session,
    inviter: CurrentUser,
    rows: list[BulkRow],
    *,
    everything: bool,
    settings: Settings,
    now: datetime,
) -> list[CheckedRow]:
    """Invite every ready row in the caller's transaction.

    With `everything`, all rows are checked first and nothing is written unless every one is ready
    (NotAllReady otherwise).
    """
    if everything:
        checked = check_rows(session, inviter, rows, settings=settings, now=now)
        if not all(row.ready for row in checked):
            raise NotAllReady(checked)
    return check_rows(session, inviter, rows, settings=settings, now=now, keep=True)


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SIGNING_SALT)


def sign_rows(rows: list[BulkRow], *, user_id: int, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"user": user_id, "rows": [astuple(row) for row in rows]})


def unsign_rows(token: object, *, user_id: int, secret_key: str) -> list[BulkRow]:
    """The rows of a preview this user saw less than an hour ago; anything else is refused."""
    again = "Загрузите файл или вставьте список ещё раз."
    try:
        payload = _serializer(secret_key).loads(str(token), max_age=SIGNED_MAX_AGE)
    except SignatureExpired:
        raise BulkInputError(f"Проверка списка устарела: с неё прошло больше часа. {again}") from None
    except BadSignature:
        payload = None
    if not isinstance(payload, dict) or payload.get("user") != user_id:
        raise BulkInputError(f"Данные проверки списка повреждены или относятся к другому пользователю. {again}")
    return [BulkRow(*fields) for fields in payload["rows"]]
