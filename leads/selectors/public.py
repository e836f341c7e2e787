"""What the public form needs of an employer, from the cache: it must render when the
database is slow or down.

The snapshot (name, branding, open openings) is kept in the Django cache (Redis in
production) and, as a last resort, in this process's memory. Saving or deleting an employer or
an opening drops it (``public_page_forget``), so a change shows on the next request.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.core.cache import cache
from django.db import DatabaseError
from django_countries.fields import Country

from leads.models import Employer, Opening

logger = logging.getLogger(__name__)

_KEY = "public-page:v1:{slug}"
# Saves and deletes drop the snapshot at once; the timeout only bounds a bulk change made
# without them (a data migration, a raw UPDATE).
_TIMEOUT_SECONDS = 3600
# Last snapshots this process saw, for when neither the cache nor the database answers.
_last_known: dict[str, PublicEmployer | None] = {}
_lock = threading.Lock()


class PublicPageUnavailable(Exception):
    """Neither the cache, the database nor this process knows the employer now."""


@dataclass(frozen=True)
class PublicEmployer:
    """The employer as the public pages show it; hashable, so rendered pages can be kept by it."""

    pk: int
    slug: str
    name: str
    destination_code: str
    brand_colour: str
    has_logo: bool
    openings: tuple[tuple[int, str], ...]
    privacy_policy_url: str = ""

    @property
    def destination_country(self) -> Country:
        return Country(self.destination_code)

    @property
    def logo(self) -> bool:
        return self.has_logo


def _load(slug: str) -> PublicEmployer | None:
    employer = Employer.objects.filter(slug=slug, public_intake_enabled=True).first()
    if employer is None:
        return None
    openings = tuple(
        Opening.objects.filter(employer=employer, status=Opening.Status.OPEN)
        .order_by("title", "id").values_list("pk", "title")
    )
    return PublicEmployer(
        pk=employer.pk, slug=employer.slug, name=employer.name, destination_code=employer.destination_country.code,
        brand_colour=employer.brand_colour, has_logo=bool(employer.logo), openings=openings,
        privacy_policy_url=employer.privacy_policy_url,
    )


_MISSING = object()


def public_employer(slug: str) -> PublicEmployer | None:
    """The snapshot of an employer that takes public inquiries, or None (unknown or closed).

    Raises PublicPageUnavailable when it cannot be known at all.
    """
    key = _KEY.format(slug=slug)
    try:
        cached = cache.get(key, _MISSING)
    except Exception:  # noqa: BLE001 - the cache server is down: the database answers
        cached = _MISSING
    if cached is not _MISSING:
        return cached
    try:
        snapshot = _load(slug)
    except DatabaseError as exc:
        with _lock:
            if slug in _last_known:
                return _last_known[slug]
        raise PublicPageUnavailable(slug) from exc
    try:
        cache.set(key, snapshot, _TIMEOUT_SECONDS)
    except Exception:
        logger.warning("public page cache unavailable", exc_info=True)
    with _lock:
        _last_known[slug] = snapshot
    return snapshot


def public_page_forget(*slugs: str) -> None:
    """An employer or one of its openings changed: the next request loads it afresh."""
    keys = [_KEY.format(slug=slug) for slug in slugs if slug]
    with _lock:
        for slug in slugs:
            _last_known.pop(slug, None)
    try:
        cache.delete_many(keys)
    except Exception:
        logger.warning("public page cache unavailable; could not drop %s", keys, exc_info=True)
