"""trust_x_forwarded_for_only_from_the_proxy: the client address behind a trusted proxy, and only there."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from admin_app.client_address import client_address
from settings import SettingsError, load_settings


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 50000)})


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.7", None, (), "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),  # nobody trusted: the header is the client's own claim
        ("10.0.0.5", "198.51.100.1", ("127.0.0.1",), "10.0.0.5"),  # a peer that is not the proxy
        ("127.0.0.1", "198.51.100.1", ("127.0.0.1",), "198.51.100.1"),
        ("10.0.0.5", "1.2.3.4, 198.51.100.1, 10.0.0.9", ("10.0.0.0/8",), "198.51.100.1"),  # a spoofed first entry
        ("127.0.0.1", "", ("127.0.0.1",), "127.0.0.1"),
        ("127.0.0.1", "not-an-address", ("127.0.0.1",), "not-an-address"),
        ("::1", "2001:db8::1", ("::1",), "2001:db8::1"),
    ],
)
def test_trust_x_forwarded_for_only_from_the_proxy(peer, forwarded, trusted, expected) -> None:
    assert client_address(_request(peer, forwarded), trusted) == expected


def test_a_bad_trusted_proxies_setting_is_named(tmp_path) -> None:
    with pytest.raises(SettingsError, match=r"TRUSTED_PROXIES: «proxy\.local»"):
        load_settings({"VAR_DIR": str(tmp_path), "TRUSTED_PROXIES": "127.0.0.1, proxy.local"})
