"""The client's address behind a reverse proxy: X-Forwarded-For believed only from a trusted peer."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from leads.ratelimit import client_ip, trusted_networks


def ip(peer: str, forwarded: str | None = None) -> str:
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))


@pytest.fixture
def proxies(settings):
    settings.RELOCATE_TRUSTED_PROXIES = "127.0.0.1, 10.0.0.0/8, fd00::/8"
    return settings


def test_no_trusted_proxies_means_the_peer_whatever_the_header_says(settings):
    settings.RELOCATE_TRUSTED_PROXIES = ""
    assert ip("203.0.113.7", "198.51.100.1") == "203.0.113.7"


def test_untrusted_peer_cannot_forge_its_address(proxies):
    assert ip("203.0.113.7", "198.51.100.1") == "203.0.113.7"


def test_trusted_proxy_gives_the_right_most_untrusted_address(proxies):
    assert ip("127.0.0.1", "198.51.100.1") == "198.51.100.1"
    # The client put a made-up address in front; the proxy appended the real one.
    assert ip("127.0.0.1", "192.0.2.66, 198.51.100.1") == "198.51.100.1"
    # Two proxies of ours in a row are skipped.
    assert ip("127.0.0.1", "192.0.2.66, 198.51.100.1, 10.1.2.3") == "198.51.100.1"


def test_ipv6_ranges_and_addresses(proxies):
    assert ip("fd00::1", "2001:db8::5") == "2001:db8::5"
    assert ip("fd00::1", "[2001:db8::5]:443") == "2001:db8::5"
    # An IPv4 client seen through an IPv6 socket is the IPv4 client.
    assert ip("::ffff:127.0.0.1", "::ffff:198.51.100.9") == "198.51.100.9"


@pytest.mark.parametrize("header", ["", "   ", "not-an-ip", "198.51.100.1, bogus", "198.51.100.1,,", "unknown"])
def test_malformed_header_falls_back_to_the_peer(proxies, header):
    assert ip("127.0.0.1", header) == "127.0.0.1"


def test_every_hop_trusted_is_the_left_most(proxies):
    assert ip("127.0.0.1", "10.0.0.5, 10.0.0.6") == "10.0.0.5"


def test_missing_peer_is_unknown(proxies):
    request = RequestFactory().get("/")
    request.META.pop("REMOTE_ADDR", None)
    assert client_ip(request) == "unknown"


def test_a_bad_trusted_proxy_value_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="not-a-network"):
        trusted_networks("127.0.0.1, not-a-network")
