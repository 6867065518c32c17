"""Every public form and the login, driven by Hypothesis: no input gives a 500, and refused input writes nothing.

A request is the form's valid submission changed by Hypothesis: its key (the valid one, an unknown one,
bytes of any kind), extra query parameters, fields replaced by arbitrary values, repeated, dropped or added,
and the body sent urlencoded, as multipart (one field as a file), as JSON, or as bytes under any content
type. Values are bytes: any code point (NUL and control characters too), lone surrogates and invalid
UTF-8, Cyrillic, HTML and template syntax, and strings of up to about 10,000 characters.

The property, for each request: the status is below 500 and the body carries no traceback; unless the
answer is the form's success page, the database is as it was before the request (GET of the page
included). Two tables are left out of the comparison: `throttle_hits` and `audit_events` record refused
attempts by design (throttling and the audit trail). A success may write only the tables the form names
(FormCase.writes); then the key it used is renewed, and the next request is compared with the new state.

Each request comes from a new client address, so that throttling by address does not hide the forms from
the later examples; a 429 is a refusal like any other. Examples are derandomized: every run sends the same.
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any
from urllib.parse import parse_qs, quote_from_bytes, urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.testclient import TestClient

from admin_app.accounts import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from models import Base, OutboxMessage
from tests.conftest import BASE_URL, PASSWORD, csrf_from
from tests.invitation_helpers import add_organization, invite, municipality_id

RUNS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: an example is real requests, and shrinking takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
UNCOMPARED = frozenset({"throttle_hits", "audit_events"})  # refusals are counted and recorded there on purpose
PASSPHRASE = "лиса прыгает через забор"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"')
BOUNDARY = b"hypothesis-boundary"

CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ -"
HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7 * 7 }}{% for x in range(9) %}",
    "'; DROP TABLE users; --",
    "\u202eexe.pdf",
    "ﬃ İ ß ǅ",
    "../../../../etc/passwd",
    "%00%0d%0aSet-Cookie: x=1",
    "\r\nX-Injected: 1",
)
TEXT = st.one_of(
    st.text(max_size=30),  # any code point but a lone surrogate
    st.text(st.sampled_from(CYRILLIC), max_size=60),
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl"]), max_size=10),
    st.sampled_from(HOSTILE),
)
SHORT_VALUE = st.one_of(
    TEXT.map(str.encode),
    TEXT.map(lambda text: f"{text}\x00{text}".encode()),  # PostgreSQL's text cannot hold a NUL
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=4).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=100),
)
LONG_VALUE = st.builds(operator.mul, st.text(min_size=1, max_size=3), st.integers(20, 3_500)).map(str.encode)
VALUE = st.one_of(SHORT_VALUE, LONG_VALUE)  # in a body; a URL keeps to SHORT_VALUE
NAME = st.one_of(
    SHORT_VALUE, st.sampled_from([b"role", b"email", b"is_superuser", b"user_id", b"municipality_id", b"next"])
)
PASSWORD_VALUE = st.one_of(
    st.text(st.sampled_from(CYRILLIC), min_size=37, max_size=128).map(str.encode),  # past bcrypt's 72 bytes
    st.text(min_size=10, max_size=128).map(str.encode),  # any code points, of a length the policy allows
    st.builds(
        operator.mul,
        st.sampled_from(["я", "ё", "a", "😀", "\x00", " ", "ﬃ"]),
        st.one_of(st.sampled_from([9, 10, 36, 37, 72, 73, 128, 129]), st.integers(1, 10_000)),
    ).map(str.encode),
    VALUE,
)
OTHER_KEY = st.one_of(st.from_regex(r"\A[\w-]{43}\Z").map(str.encode), SHORT_VALUE)  # unknown, or no key at all
KEY = st.sampled_from(["valid", "valid", "valid", "other"]).flatmap(lambda k: st.none() if k == "valid" else OTHER_KEY)
CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json", "")


@dataclass(frozen=True)
class FormCase:
    name: str
    path: str
    key: str | None  # which of World.keys goes into `k`
    fields: tuple[str, ...]  # the form's fields, csrf_token aside
    valid: Callable[[World], dict[str, str]]  # their values in a valid submission
    success: int | None  # the status of the success page; None: a page that is only read
    writes: frozenset[str] = frozenset()  # the tables a success may change


@dataclass(frozen=True)
class Submission:
    """How a request differs from the form's valid submission."""

    key: bytes | None = None  # None: the valid key
    query: tuple[tuple[bytes, bytes], ...] = ()
    changes: dict[str, tuple[bytes, ...]] = field(default_factory=dict)  # a field's values; () drops it
    extra: tuple[tuple[bytes, bytes], ...] = ()
    encoding: str = "urlencoded"  # or "multipart", "json", "raw"
    file_field: str = "csrf_token"  # multipart: this field is sent as a file
    raw: bytes = b""
    raw_type: str = ""


TEACHER_FIELDS = (
    "full_name",
    "email",
    "phone",
    "position",
    "organization_id",
    "requested_category",
    "current_category",
    "current_category_date",
    "consent",
)


def _teacher(world: World) -> dict[str, str]:
    return {
        "full_name": "Петрова Анна Ивановна",
        "email": "petrova@example.ru",
        "phone": "+7 913 000-00-00",
        "position": "учитель математики",
        "organization_id": str(world.organization_id),
        "requested_category": "first",
        "consent": "on",
    }


CASES = (
    FormCase(
        "login",
        "/admin/login",
        None,
        ("username", "password", "remember"),
        lambda world: {"username": "olesya", "password": PASSWORD, "remember": "on"},
        302,
        frozenset({"user_sessions", "remember_tokens", "users"}),
    ),
    FormCase(
        "registration",
        "/Account/RegisterByInvite",
        "invitation",
        ("username", "password", "password_confirm", "municipality_id", "consent"),
        lambda world: {
            "username": world.names["invitation"],
            "password": PASSPHRASE,
            "password_confirm": PASSPHRASE,
            "consent": "on",
        },
        200,
        frozenset({"users", "invitations", "outbox_messages"}),
    ),
    FormCase(
        "forgot_password",
        "/Account/ForgotPassword",
        None,
        ("login",),
        lambda world: {"login": "olesya"},
        200,
        frozenset({"password_resets", "outbox_messages"}),
    ),
    FormCase(
        "forgot_username",
        "/Account/ForgotUsername",
        None,
        ("email",),
        lambda world: {"email": "olesya@example.com"},
        200,
        frozenset({"outbox_messages"}),
    ),
    FormCase(
        "reset_password",
        "/Account/ResetPassword",
        "reset",
        ("password", "password_confirm"),
        lambda world: {"password": PASSPHRASE, "password_confirm": PASSPHRASE},
        200,
        frozenset({"users", "password_resets", "outbox_messages", "user_sessions", "remember_tokens"}),
    ),
    FormCase(
        "application",
        "/Application/Submit",
        None,
        TEACHER_FIELDS,
        _teacher,
        200,
        frozenset({"applications", "application_status_changes", "outbox_messages"}),
    ),
    FormCase("application_status", "/Application/Status", "status", (), lambda world: {}, None),
)
PASSWORD_CASES = tuple(case for case in CASES if case.name in ("login", "registration", "reset_password"))


def submissions(case: FormCase) -> st.SearchStrategy[Submission]:
    names = ("csrf_token", *case.fields)
    return st.builds(
        Submission,
        key=st.none() if case.key is None else KEY,
        query=st.lists(st.tuples(NAME, SHORT_VALUE), max_size=2).map(tuple),
        changes=st.dictionaries(st.sampled_from(names), st.lists(VALUE, max_size=3).map(tuple), max_size=2),
        extra=st.lists(st.tuples(NAME, VALUE), max_size=3).map(tuple),
        encoding=st.sampled_from(["urlencoded", "urlencoded", "multipart", "multipart", "json", "raw"]),
        file_field=st.sampled_from(names),
        raw=st.binary(max_size=300),
        raw_type=st.sampled_from(CONTENT_TYPES),
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_public_forms_never_answer_500_and_refusals_write_nothing(world: World, case: FormCase) -> None:
    @RUNS
    @given(submissions(case))
    def any_request(submission: Submission) -> None:
        world.check(case, submission)

    any_request()


@pytest.mark.parametrize("case", PASSWORD_CASES, ids=lambda case: case.name)
def test_long_or_unicode_passwords_never_cause_a_500(world: World, case: FormCase) -> None:
    """Checklist 2: any password, up to 10,000 characters, reaches the password check; none is a 500.

    The login refuses it (400, or 429 once throttled) whether the account exists or not; a new password is
    refused unless it has 10 to 128 characters, and with more than 128 the page says so."""

    @RUNS
    @given(PASSWORD_VALUE, st.booleans())
    def any_password(password: bytes, known_account: bool) -> None:
        changes = {"password": (password,), "password_confirm": (password,)}
        if case.name == "login":
            changes = {"password": (password,), "username": (b"olesya" if known_account else world.new_name(),)}
        response = world.check(case, Submission(changes=changes))
        typed = password.decode("utf-8", "replace")
        if case.name == "login":
            assert response.status_code in (400, 429)
        elif response.status_code == case.success:
            assert PASSWORD_MIN_LENGTH <= len(typed) <= PASSWORD_MAX_LENGTH
        elif len(typed) > PASSWORD_MAX_LENGTH:
            assert "Пароль слишком длинный" in response.text

    any_password()


# ---------------------------------------------------------------------------------------------------
# The application, its database and the keys a valid request needs


class World:
    """The application on a database of its own, with an operator, an organization and a valid key of each kind."""

    def __init__(self, app: Any, operator_client: TestClient, make_user: Callable[..., Any], session_factory: Any):
        self.app, self.operator_client, self.make_user, self.session_factory = (
            app,
            operator_client,
            make_user,
            session_factory,
        )
        self.counter = itertools.count(1)
        self.organization_id = add_organization(session_factory, "Корниловская СОШ", "Томский район")
        self.keys: dict[str, str] = {}
        self.names: dict[str, str] = {}
        for kind in ("invitation", "reset", "status"):
            self.renew(kind)

    def client(self) -> TestClient:
        address = str(IPv6Address("2001:db8::") + next(self.counter))  # a documentation address, new each time
        return TestClient(self.app, base_url=BASE_URL, follow_redirects=False, client=(address, 50000))

    def new_name(self) -> bytes:
        return f"nobody{next(self.counter)}".encode()

    def renew(self, kind: str | None) -> None:
        """A new valid key of this kind (and the name that goes with it), the old one being used up."""
        number = next(self.counter)
        if kind == "invitation":
            email = f"expert{number}@example.ru"
            district = municipality_id(self.session_factory, "Томский район")
            assert (
                invite(self.operator_client, role="expert", email=email, municipality_id=str(district)).status_code
                == 302
            )
            self.keys[kind], self.names[kind] = (
                self._key_in_letter(email, "/Account/RegisterByInvite"),
                f"teacher{number}",
            )
        elif kind == "reset":
            self.make_user(f"reader{number}", email=f"reader{number}@example.ru")
            self._post_form("/Account/ForgotPassword", {"login": f"reader{number}"})
            self.keys[kind] = self._key_in_letter(f"reader{number}@example.ru", "/Account/ResetPassword")
        elif kind == "status":
            email = f"teacher{number}@example.ru"
            self._post_form("/Application/Submit", {**_teacher(self), "email": email})
            self.keys[kind] = self._key_in_letter(email, "/Application/Status")

    def check(self, case: FormCase, submission: Submission) -> Any:
        """Send the request; assert the property; return the answer."""
        before = snapshot(self.session_factory)
        response = self._send(case, submission)
        written = {table for table, rows in snapshot(self.session_factory).items() if rows != before[table]}
        if response.status_code == case.success:
            assert written <= case.writes, f"{case.name}: the success page wrote to {written - case.writes}"
            self.renew(case.key)
        else:
            assert not written, f"{case.name}: a refused request ({response.status_code}) wrote to {sorted(written)}"
        return response

    def _send(self, case: FormCase, submission: Submission) -> Any:
        client = self.client()
        url = case.path + _query(submission, self.keys.get(case.key or ""))
        page = _answered(client.get(url))
        if case.success is None:
            return page
        token = CSRF_INPUT.search(page.text)
        valid = {**case.valid(self), "csrf_token": token.group(1) if token else ""}
        fields = [(name.encode(), value.encode()) for name, value in valid.items() if name not in submission.changes]
        fields += [(name.encode(), value) for name, values in submission.changes.items() for value in values]
        content, content_type = _body(submission, [*fields, *submission.extra])
        return _answered(client.post(url, content=content, headers={"content-type": content_type}))

    def _post_form(self, path: str, fields: dict[str, str]) -> None:
        client = self.client()
        token = csrf_from(client.get(path).text)
        assert client.post(path, data={**fields, "csrf_token": token}).status_code == 200

    def _key_in_letter(self, email: str, path: str) -> str:
        with self.session_factory() as session:
            body = session.scalar(
                select(OutboxMessage.body_text)
                .where(OutboxMessage.recipient == email)
                .order_by(OutboxMessage.id.desc())
            )
        link = re.search(re.escape(path) + r"\?\S+", body or "")
        assert link, f"no {path} link in the letter to {email}"
        return parse_qs(urlsplit(link.group(0)).query)["k"][0]


@pytest.fixture
def world(app, operator_client, make_user, session_factory) -> World:
    return World(app, operator_client, make_user, session_factory)


def snapshot(session_factory: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row of every compared table, in primary key order."""
    with session_factory() as session:
        return {
            table.name: [dict(row) for row in session.execute(select(table).order_by(*table.primary_key)).mappings()]
            for table in Base.metadata.sorted_tables
            if table.name not in UNCOMPARED
        }


def _answered(response: Any) -> Any:
    assert response.status_code < 500, f"{response.status_code} for {response.request.method} {response.request.url}"
    assert "Traceback" not in response.text
    return response


def _query(submission: Submission, valid_key: str | None) -> str:
    key = submission.key if submission.key is not None else (valid_key or "").encode()
    pairs = [(b"k", key), (b"t", b"expert")] if valid_key is not None else []
    pairs += submission.query
    return (
        "?" + "&".join(f"{quote_from_bytes(name)}={quote_from_bytes(value)}" for name, value in pairs) if pairs else ""
    )


def _body(submission: Submission, fields: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    if submission.encoding == "multipart":
        return _multipart(fields, submission.file_field.encode()), f"multipart/form-data; boundary={BOUNDARY.decode()}"
    if submission.encoding == "json":
        as_text = {name.decode("utf-8", "replace"): value.decode("utf-8", "replace") for name, value in fields}
        return json.dumps(as_text).encode(), "application/json"
    if submission.encoding == "raw":
        return submission.raw, submission.raw_type
    encoded = "&".join(f"{quote_from_bytes(name)}={quote_from_bytes(value)}" for name, value in fields)
    return encoded.encode(), "application/x-www-form-urlencoded"


def _multipart(fields: list[tuple[bytes, bytes]], file_field: bytes) -> bytes:
    parts = []
    for name, value in fields:
        filename = b'; filename="field.txt"\r\nContent-Type: text/plain' if name == file_field else b""
        parts.append(
            b'--%s\r\nContent-Disposition: form-data; name="%s"%s\r\n\r\n%s\r\n' % (BOUNDARY, name, filename, value)
        )
    return b"".join(parts) + b"--%s--\r\n" % BOUNDARY
