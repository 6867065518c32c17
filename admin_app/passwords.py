"""Password hashing: bcrypt over a SHA-256 pre-hash, always off the event loop.

bcrypt reads at most 72 bytes and bcrypt 5 raises on longer input; 36 Cyrillic
letters already reach that. The password is therefore first reduced to the
base64 of its SHA-256 (44 bytes), so any length and any alphabet hash and
verify without raising. A malformed stored hash verifies as False.

A hash takes about a quarter of a second of one core (cost 12), and twenty people registering at once
would otherwise take every core and starve the event loop: at most HASHING_SLOTS hashes run at a time
in a process (one core is left to everything else); the others wait in their threads, not on the loop.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from functools import cache

import anyio.to_thread
import bcrypt

HASHING_SLOTS = max(1, (os.cpu_count() or 1) - 1)
_hashing = threading.BoundedSemaphore(HASHING_SLOTS)


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


def hash_password(password: str, rounds: int) -> str:
    with _hashing:
        return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, stored_hash: str) -> bool:
    try:
        with _hashing:
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
