"""One-time keys sent by e-mail (invitation keys, later recovery links).

Threat model: whoever holds the database (a dump, a backup) must not be able
to use a key. So a key is 192 random bits shown once, in the letter, and only
its SHA-256 is stored; a lookup hashes the presented key and compares hashes.
The key is long and random, so an unsalted fast hash is enough: there is
nothing to guess. `token_hash` accepts any string and never raises.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 24


def make_token() -> tuple[str, str]:
    """A new key and the hash to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
