"""The client's address, and a fixed-window rate limit on the Django cache (Redis when
REDIS_URL is set).

Good enough against one noisy address; not a defence against a botnet, which nothing
short of a third-party service is.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def trusted_networks(value: str) -> tuple[Network, ...]:
    """RELOCATE_TRUSTED_PROXIES parsed: comma-separated addresses or CIDR ranges, v4 or v6."""
    networks = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"RELOCATE_TRUSTED_PROXIES: {item!r} is not an IP address or a CIDR range."
            ) from None
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443" as some proxies write it
        value = value[1:value.index("]")]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:192.0.2.1) is the IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request: HttpRequest) -> str:
    """The address of the person, not of our own reverse proxy.

    X-Forwarded-For is believed only when the direct peer is one of RELOCATE_TRUSTED_PROXIES;
    then the client is the right-most address in it that is not itself trusted (the left part
    is whatever the client chose to send). A malformed header falls back to the peer.
    """
    peer_raw = request.META.get("REMOTE_ADDR") or ""
    peer = _address(peer_raw)
    if peer is None:
        return peer_raw or "unknown"
    networks = trusted_networks(settings.RELOCATE_TRUSTED_PROXIES)
    if not networks or not _trusted(peer, networks):
        return str(peer)
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = header.split(",") if header.strip() else []
    addresses = [_address(hop) for hop in hops]
    if not addresses or any(a is None for a in addresses):
        return str(peer)
    for address in reversed(addresses):
        if not _trusted(address, networks):
            return str(address)
    # Every hop is one of ours: the left-most is the closest thing to a client there is.
    return str(addresses[0])


def client_ip_or_none(request: HttpRequest) -> str | None:
    address = client_ip(request)
    return None if address == "unknown" else address


def rate_limit_hit(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one hit; True while the key is within ``limit`` hits in the current window."""
    bucket = int(time.time() // window)
    cache_key = f"ratelimit:{scope}:{key}:{bucket}"
    try:
        # add() is atomic and only sets a missing key, so concurrent first hits do not reset it.
        cache.add(cache_key, 0, timeout=window + 1)
        try:
            count = cache.incr(cache_key)
        except ValueError:
            # Evicted between add() and incr(): count this hit as the first.
            cache.set(cache_key, 1, timeout=window + 1)
            count = 1
    except Exception:  # the cache server is down
        # Fail open: with Redis down an inquiry is still accepted, never turned into an error.
        logger.warning("rate limit cache unavailable; %s allowed", scope, exc_info=True)
        return True
    return count <= limit
