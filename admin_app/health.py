"""GET /healthz: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse

from admin_app.db import database_answers


async def healthz(request: Request) -> JSONResponse:
    if await anyio.to_thread.run_sync(database_answers, request.app.state.engine):
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse({"status": "error", "database": "недоступна"}, status_code=503)
