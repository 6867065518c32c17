"""What a client over a limit of admin_app.throttle is told: 429, when to try again, and `Retry-After`."""

from __future__ import annotations

import math

from admin_app.recovery import minutes_text

TOO_MANY_REQUESTS = 429


def try_again(seconds: int) -> str:
    """«Попробуйте снова через 15 минут.»: the wait rounded up to whole minutes."""
    return f"Попробуйте снова через {minutes_text(max(1, math.ceil(seconds / 60)))}."


def retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}
