"""Which address a request is counted under for per-IP rate limits."""

from __future__ import annotations

import pytest

from app.client_ip import TrustedProxies
from app.settings import SettingsError

NONE = TrustedProxies(())
PROXY = TrustedProxies(["10.0.0.1"])
CHAIN = TrustedProxies(["10.0.0.0/8", "fd00::/8"])


def test_without_trusted_proxies_the_socket_peer_is_the_client() -> None:
    assert NONE.client_ip("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert PROXY.client_ip("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() -> None:
    # The client prepended a fake address; the proxy appended the real one.
    assert PROXY.client_ip("10.0.0.1", ["6.6.6.6, 198.51.100.7"]) == "198.51.100.7"


def test_trusted_hops_are_skipped_from_the_right() -> None:
    assert (
        CHAIN.client_ip("10.0.0.1", ["6.6.6.6, 198.51.100.7, 10.1.1.1", "10.2.2.2"])
        == "198.51.100.7"
    )


def test_all_hops_trusted_gives_the_left_most() -> None:
    assert CHAIN.client_ip("10.0.0.1", ["10.9.9.9, 10.1.1.1"]) == "10.9.9.9"


def test_trusted_peer_without_header_is_the_client() -> None:
    assert PROXY.client_ip("10.0.0.1", []) == "10.0.0.1"


def test_ports_brackets_and_mapped_ipv4_are_normalised() -> None:
    assert PROXY.client_ip("::ffff:10.0.0.1", ["[2001:db8::1]:443"]) == "2001:db8::1"
    assert PROXY.client_ip("10.0.0.1", ["198.51.100.7:5555"]) == "198.51.100.7"
    assert CHAIN.client_ip("fd00::1", ["198.51.100.8"]) == "198.51.100.8"


def test_a_non_address_hop_is_used_as_a_key_as_is() -> None:
    assert PROXY.client_ip("10.0.0.1", ["unknown"]) == "unknown"


def test_unknown_peer_is_none() -> None:
    assert NONE.client_ip(None, ["1.2.3.4"]) is None


def test_invalid_trusted_proxy_entries_refuse_to_start() -> None:
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        TrustedProxies(["10.0.0.1", "proxy.example"])
