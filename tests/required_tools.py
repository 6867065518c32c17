"""A system tool a test needs and the machine lacks: the test is skipped, except in CI.

.ci/run sets REQUIRE_BROWSER=1, REQUIRE_LIBREOFFICE=1 and REQUIRE_WRK=1, which turn each such skip into a
failure, so that CI never passes by leaving out what it was meant to check.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(message: str, require_variable: str) -> NoReturn:
    """Skip the test with `message`, or fail it when `require_variable` is set to 1."""
    if os.environ.get(require_variable) == "1":
        pytest.fail(message)
    pytest.skip(message)
