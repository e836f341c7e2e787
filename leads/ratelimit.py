"""A fixed-window rate limit on the Django cache (Redis when REDIS_URL is set).

Good enough against one noisy address; not a defence against a botnet, which nothing
short of a third-party service is.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy
    # rewrites it, and trusting it would let anyone pick a fresh address per request.
    return request.META.get("REMOTE_ADDR") or "unknown"


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
