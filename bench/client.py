"""Logging in through the real login form and reading CSRF tokens, as a browser would."""

from __future__ import annotations

import re

import httpx2

CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = CSRF_INPUT.search(html)
    if not found:
        raise RuntimeError("the page has no csrf_token input")
    return found.group(1)


class Browser:
    """A logged-in user: the Cookie header of their session, and the CSRF token of a form."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx2.Client(base_url=base_url, follow_redirects=False, timeout=60)
        token = csrf_from(self.client.get("/admin/login").text)
        response = self.client.post(
            "/admin/login", data={"username": username, "password": password, "csrf_token": token}
        )
        if response.status_code != 302 or "/login" in response.headers.get("location", ""):
            raise RuntimeError(f"login of {username} failed: {response.status_code}")
        self.cookie = "; ".join(f"{name}={value}" for name, value in self.client.cookies.items())

    def form_token(self, path: str) -> str:
        """The CSRF token of the form at `path`; the session that now holds it becomes the one sent."""
        token = csrf_from(self.get(path).text)
        cookies = dict(part.split("=", 1) for part in self.cookie.split("; "))
        cookies.update(self.client.cookies.items())
        self.cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        return token

    def get(self, path: str) -> httpx2.Response:
        """A GET with the session as it was after login (cookies the response sets are not kept, like wrk)."""
        self.client.cookies.clear()
        response = self.client.get(path, headers={"Cookie": self.cookie})
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}")
        return response

    def close(self) -> None:
        self.client.close()
