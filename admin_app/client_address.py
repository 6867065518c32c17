"""Who is asking: the client's address, as throttling and the audit trail record it.

The peer address of the connection is the client's, unless the peer is one of the
reverse proxies named in TRUSTED_PROXIES: then the rightmost address in
X-Forwarded-For that is not itself a trusted proxy is. A header from anyone else
is ignored, so a client cannot choose its own address to slip past a limit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

MAX_ADDRESS_LENGTH = 45  # the longest textual IPv6 address


def client_address(connection: HTTPConnection, trusted_proxies: Iterable[str]) -> str:
    peer = connection.client.host if connection.client else ""
    networks = [ipaddress.ip_network(network, strict=False) for network in trusted_proxies]
    if not _is_trusted(peer, networks):
        return peer[:MAX_ADDRESS_LENGTH]
    forwarded = [part.strip() for part in connection.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    for address in reversed(forwarded):
        if not _is_trusted(address, networks):
            return address[:MAX_ADDRESS_LENGTH]
    return peer[:MAX_ADDRESS_LENGTH]


def _is_trusted(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
