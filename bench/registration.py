"""Registration by invitation under load: one POST against one bcrypt hash, and /healthz beside 20 of them."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx2

from admin_app.passwords import hash_password
from bench.fill import PASSWORD, registration_form_token


@dataclass
class KeyPool:
    """The known registration keys; each is used once."""

    keys: list[str]
    secret_key: str
    taken: int = 0

    def take(self, count: int) -> list[tuple[str, str, str]]:
        """(key, form token, a new username) for `count` unused keys."""
        if self.taken + count > len(self.keys):
            raise RuntimeError("out of registration keys: fill with a larger --scale")
        chosen = self.keys[self.taken : self.taken + count]
        self.taken += count
        return [(key, registration_form_token(self.secret_key, key), f"reg{key[-6:]}") for key in chosen]


@dataclass
class RegistrationFigures:
    bcrypt_ms: float  # median of one hash at the configured cost, in this process
    post_ms: float  # median of one registration POST, one at a time
    healthz_idle_p99_ms: float
    healthz_busy_p50_ms: float
    healthz_busy_p99_ms: float
    healthz_busy_samples: int
    concurrent_seconds: float  # the 20 concurrent registrations, start to last answer


def measure(base_url: str, pool: KeyPool, rounds: int, concurrent: int = 20) -> RegistrationFigures:
    hashes = []
    for _ in range(5):
        started = time.perf_counter()
        hash_password(PASSWORD, rounds)
        hashes.append((time.perf_counter() - started) * 1000)
    return asyncio.run(_measure(base_url, pool, statistics.median(hashes), concurrent))


async def _measure(base_url: str, pool: KeyPool, bcrypt_ms: float, concurrent: int) -> RegistrationFigures:
    async with httpx2.AsyncClient(base_url=base_url, timeout=120) as client:
        posts = [await _register(client, *entry) for entry in pool.take(10)]
        idle = await _healthz_while(client, asyncio.create_task(asyncio.sleep(3)))
        started = time.perf_counter()
        burst = asyncio.gather(*(_register(client, *entry) for entry in pool.take(concurrent)))
        busy = await _healthz_while(client, burst)
        elapsed = time.perf_counter() - started
    return RegistrationFigures(
        bcrypt_ms=bcrypt_ms,
        post_ms=statistics.median(posts),
        healthz_idle_p99_ms=_p(idle, 99),
        healthz_busy_p50_ms=_p(busy, 50),
        healthz_busy_p99_ms=_p(busy, 99),
        healthz_busy_samples=len(busy),
        concurrent_seconds=elapsed,
    )


async def _register(client: httpx2.AsyncClient, key: str, token: str, username: str) -> float:
    data = {
        "csrf_token": token,
        "username": username,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "consent": "on",  # the required consent to the processing of personal data (152-ФЗ)
    }
    started = time.perf_counter()
    response = await client.post("/Account/RegisterByInvite", params={"k": key, "t": "Expert"}, data=data)
    if response.status_code != 200:
        raise RuntimeError(f"registration {username}: {response.status_code}")
    return (time.perf_counter() - started) * 1000


async def _healthz_while(client: httpx2.AsyncClient, task: asyncio.Future) -> list[float]:
    """/healthz latencies, one request after another, until `task` is done."""
    task = asyncio.ensure_future(task)
    latencies = []
    while not task.done():
        started = time.perf_counter()
        response = await client.get("/healthz")
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"/healthz: {response.status_code}")
    await task
    return latencies


def _p(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]
