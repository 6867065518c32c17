"""Error pages outside the panel: Russian, and never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from admin_app.db import NulCharacter
from admin_app.public_templates import templates

logger = logging.getLogger(__name__)

MESSAGES = {
    400: "Неверный запрос.",
    403: "Доступ запрещён.",
    404: "Страница не найдена.",
    405: "Такой запрос здесь не принимается.",
    413: "Слишком большой запрос.",
    500: "Внутренняя ошибка сервера. Попробуйте позже.",
}


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


def exception_handlers(centre_name: str) -> dict[Any, ExceptionHandler]:
    """Handlers for the application and for SQLAdmin's sub-application (which has its own 500 page)."""

    def page(request: Request, status_code: int, message: str = "") -> Response:
        context = {
            "status_code": status_code,
            "message": message or MESSAGES.get(status_code, "Ошибка."),
            "centre_name": centre_name,
        }
        return templates.TemplateResponse(request, "public/error.html", context, status_code=status_code)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return page(request, exc.status_code)

    async def nul_character(request: Request, exc: Exception) -> Response:
        return page(request, 400, str(exc))

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return page(request, 500)

    return {HTTPException: http_error, NulCharacter: nul_character, Exception: server_error}
