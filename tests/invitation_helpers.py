"""Helpers for tests that invite: send through «Рассылка» as a logged-in user, read the link from the outbox."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from models import Municipality, Organization, OutboxMessage
from tests.conftest import BASE_URL, csrf_from

LINK = re.compile(r"https?://\S+/Account/RegisterByInvite\?k=[\w-]+&t=\w+")


def invite(client: TestClient, **fields: str):
    token = csrf_from(client.get("/admin/mailing/invite").text)
    return client.post("/admin/mailing/invite", data={"csrf_token": token, **fields})


def last_link(session_factory, email: str) -> str:
    """The registration link of the newest letter to `email`, as a path for the test client."""
    with session_factory() as session:
        body = session.scalar(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.recipient == email)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    found = LINK.search(body or "")
    assert found, f"no registration link in the letter to {email}: {body!r}"
    return found.group(0).removeprefix(BASE_URL)


def municipality_id(session_factory, name: str) -> int:
    with session_factory() as session:
        return session.scalar(select(Municipality.id).where(Municipality.name == name))


def add_organization(session_factory, name: str, municipality: str) -> int:
    with session_factory.begin() as session:
        organization = Organization(name=name, municipality_id=municipality_id(session_factory, municipality))
        session.add(organization)
        session.flush()
        return organization.id


def register(client: TestClient, path: str, username: str, password: str, **extra: str):
    token = csrf_from(client.get(path).text)
    data = {"csrf_token": token, "username": username, "password": password, "password_confirm": password}
    data |= {"consent": "on", **extra}  # the consent to the processing of personal data, ticked
    return client.post(path, data=data)
