"""Password hashing: bcrypt over a SHA-256 pre-hash, always off the event loop.

bcrypt reads at most 72 bytes and bcrypt 5 raises on longer input; 36 Cyrillic
letters already reach that. The password is therefore first reduced to the
base64 of its SHA-256 (44 bytes), so any length and any alphabet hash and
verify without raising. A malformed stored hash verifies as False.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

import anyio.to_thread
import bcrypt


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, stored_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), stored_hash.encode("ascii"))
    except ValueError:
        return False


@cache
def dummy_hash(rounds: int) -> str:
    """A hash to verify against when the login is unknown, so timing tells nothing."""
    return hash_password("dummy password that matches nothing", rounds)


async def hash_password_async(password: str, rounds: int) -> str:
    return await anyio.to_thread.run_sync(hash_password, password, rounds)


async def verify_password_async(password: str, stored_hash: str) -> bool:
    return await anyio.to_thread.run_sync(verify_password, password, stored_hash)
