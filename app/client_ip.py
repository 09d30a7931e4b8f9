"""The client's IP address, for per-IP rate limits.

The socket's peer is the client, unless that peer is one of the operator's
``TRUSTED_PROXIES``: then ``X-Forwarded-For`` is read from the right (each
proxy appends the address it saw) and the first address that is not itself a
trusted proxy is the client. Entries left of it are whatever the client sent
and are never believed, so a client cannot pick its own rate-limit key.
uvicorn's own proxy-header handling is off (``app/server.py``), so the peer
seen here is the socket's, whatever the request's headers say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from app.settings import SettingsError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Longest forwarded entry kept as a key when it is not an address at all.
_MAX_RAW = 64


def _address(text: str) -> Address | None:
    """An IP from ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80`` or ``::1``; else None."""
    value = text.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed (IPs or CIDR networks)."""

    def __init__(self, entries: Iterable[str]) -> None:
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise SettingsError(
                    f"TRUSTED_PROXIES entries must be IP addresses or networks, got {entry!r}"
                ) from exc
        self._networks = tuple(networks)

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in net for net in self._networks)

    def client_ip(self, peer: str | None, forwarded_for: Iterable[str] = ()) -> str | None:
        """The client address for a connection from ``peer``.

        Args:
            peer: the socket's remote address (None when unknown).
            forwarded_for: every ``X-Forwarded-For`` header value, in order.
        """
        peer_address = _address(peer) if peer else None
        if not self.trusts(peer_address):
            return str(peer_address) if peer_address is not None else peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        hops = [hop for hop in hops if hop]
        client = str(peer_address)
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                # A trusted proxy wrote something that is no address; it is
                # still the best key there is for this client.
                return hop[:_MAX_RAW]
            client = str(address)
            if not self.trusts(address):
                return client
        # Every hop was a trusted proxy: the left-most one is the best we know.
        return client

    def for_connection(self, connection: HTTPConnection) -> str | None:
        """The client address of a Starlette request or WebSocket."""
        peer = connection.client.host if connection.client else None
        return self.client_ip(peer, connection.headers.getlist("x-forwarded-for"))
