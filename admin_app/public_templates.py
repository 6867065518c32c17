"""The templates of the pages outside the panel (registration, the teacher's application, error pages)."""

from __future__ import annotations

from datetime import date

from starlette.templating import Jinja2Templates

from settings import PROJECT_DIR

templates = Jinja2Templates(directory=PROJECT_DIR / "templates")
templates.env.globals["today"] = date.today
