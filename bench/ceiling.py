"""The stack's ceiling: a bare Starlette endpoint that renders 50 invitation rows with Jinja2 from memory.

No session, no authentication, no database per request: the rows are read once at startup. Run as
`python -m bench.ceiling --host … --port …` with DATABASE_URL set; uvicorn is started as `serve` starts it.
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from admin_app.db import make_engine, make_session_factory
from models import Invitation

ROWS = 50
PAGE = Environment(autoescape=True).from_string(
    """<!DOCTYPE html><html lang="ru"><head><meta charset="UTF-8"><title>Приглашения</title></head><body>
<table class="table"><thead><tr><th></th><th>Почта получателя</th><th>Статус</th><th>Имя пользователя</th>
<th>Дата регистрации</th><th>Доставка</th><th>Роль</th><th>Муниципалитет / организация</th><th>Пригласил</th>
<th>Отправлено</th></tr></thead><tbody>
{% for row in rows %}<tr><td><input type="checkbox" value="{{ row.id }}">
<a href="/admin/invitation/details/{{ row.id }}"><i class="fa-solid fa-eye"></i></a></td>
<td>{{ row.email }}</td><td>{{ row.status }}</td>
<td><a href="/admin/user/details/{{ row.user_id }}">{{ row.username }}</a></td><td>{{ row.accepted_at }}</td>
<td>{{ row.delivery }}</td><td><a href="/admin/role/details/{{ row.role_id }}">{{ row.role }}</a></td>
<td>{{ row.place }}</td><td><a href="/admin/user/details/{{ row.inviter_id }}">{{ row.inviter }}</a></td>
<td>{{ row.sent_at }}</td></tr>
{% endfor %}</tbody></table><p>Показано 1–{{ rows | length }}</p></body></html>"""
)


def load_rows(database_url: str) -> list[dict[str, object]]:
    engine = make_engine(database_url)
    related = (Invitation.role, Invitation.municipality, Invitation.organization, Invitation.inviter)
    query = (
        select(Invitation)
        .options(*(selectinload(relation) for relation in related), selectinload(Invitation.accepted_user))
        .order_by(Invitation.created_at.desc())
        .limit(ROWS)
    )
    with make_session_factory(engine)() as session:
        rows = [
            {
                "id": i.id,
                "email": i.email,
                "status": "ожидает регистрации" if i.accepted_at is None else "зарегистрирован",
                "user_id": i.accepted_user_id,
                "username": i.accepted_user.username if i.accepted_user else "",
                "accepted_at": f"{i.accepted_at:%d.%m.%Y %H:%M}" if i.accepted_at else "",
                "delivery": "Отправлено",
                "role_id": i.role_id,
                "role": i.role.name,
                "place": str(i.organization or i.municipality or ""),
                "inviter_id": i.inviter_id,
                "inviter": str(i.inviter or ""),
                "sent_at": f"{i.sent_at:%d.%m.%Y %H:%M}" if i.sent_at else "",
            }
            for i in session.scalars(query)
        ]
    engine.dispose()
    return rows


def create_app(rows: list[dict[str, object]]) -> Starlette:
    async def page(_request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.render(rows=rows))

    async def healthz(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/ceiling", page), Route("/healthz", healthz)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    app = create_app(load_rows(os.environ["DATABASE_URL"]))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
