"""The request the panel is handling, for code SQLAdmin calls without it (WTForms' CSRF)."""

from contextvars import ContextVar

from starlette.requests import Request

current_request: ContextVar[Request] = ContextVar("current_request")
