"""Every patch of SQLAdmin's templates still finds its snippet (an upgrade would otherwise drop it silently)."""

from __future__ import annotations

from importlib.resources import files

import pytest

from admin_app.template_patches import PATCHES

SQLADMIN_TEMPLATES = "\n".join(
    path.read_text(encoding="utf-8")
    for path in files("sqladmin").joinpath("templates").rglob("*.html")  # type: ignore[attr-defined]
)


@pytest.mark.parametrize("snippet", list(PATCHES))
def test_patch_finds_its_snippet(snippet) -> None:
    assert snippet in SQLADMIN_TEMPLATES
