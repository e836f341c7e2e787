"""What the public form needs of an employer, from the cache: it must render when the
database is slow or down.

The snapshot (name, branding, open openings, the privacy policy version in force and its
consent wording) is kept in the Django cache (Redis in production) and, as a last resort, in
this process's memory. Saving or deleting an employer, an opening or a policy version drops it
(``public_page_forget``), so a change shows on the next request. A version published ahead of
time takes effect without anybody saving anything: the snapshot knows when the next version
takes effect (``valid_until``), is cached no longer than that, and is loaded afresh once that
time has passed, wherever it was kept. The rendered page is kept by snapshot, so the new policy
id makes a new page.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from django_countries.fields import Country

from leads.i18n import enabled_languages
from leads.models import Employer, Opening
from leads.services.consent import (
    DEFAULT_INQUIRY_WORDING,
    DEFAULT_NEWS_WORDING,
    ConsentShown,
    policy_current,
    policy_next_effective_at,
)

logger = logging.getLogger(__name__)

_KEY = "public-page:v3:{slug}"
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
    # The policy version in force (None: the employer has published none) and its wording.
    policy_id: int | None = None
    inquiry_wording: str = DEFAULT_INQUIRY_WORDING
    news_wording: str = DEFAULT_NEWS_WORDING
    # When the next version takes effect: this snapshot is stale from then on.
    valid_until: dt.datetime | None = None
    # The languages the public pages offer, the default first (leads.i18n.enabled_languages).
    languages: tuple[str, ...] = ("en",)
    default_language: str = "en"

    @property
    def consent_shown(self) -> ConsentShown:
        return ConsentShown(policy_id=self.policy_id, inquiry_wording=self.inquiry_wording,
                            news_wording=self.news_wording)

    def is_stale(self, now: dt.datetime) -> bool:
        return self.valid_until is not None and now >= self.valid_until

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
    now = timezone.now()
    policy = policy_current(employer.pk, at=now)
    wording = {"policy_id": policy.pk, "inquiry_wording": policy.inquiry_wording,
               "news_wording": policy.news_wording} if policy else {}
    return PublicEmployer(
        pk=employer.pk, slug=employer.slug, name=employer.name, destination_code=employer.destination_country.code,
        brand_colour=employer.brand_colour, has_logo=bool(employer.logo), openings=openings,
        privacy_policy_url=(policy.url if policy and policy.url else employer.privacy_policy_url),
        valid_until=policy_next_effective_at(employer.pk, after=now),
        languages=enabled_languages(employer.languages, employer.default_language),
        default_language=employer.default_language, **wording,
    )


_MISSING = object()


def public_employer(slug: str) -> PublicEmployer | None:
    """The snapshot of an employer that takes public inquiries, or None (unknown or closed).

    Raises PublicPageUnavailable when it cannot be known at all.
    """
    key = _KEY.format(slug=slug)
    now = timezone.now()
    try:
        cached = cache.get(key, _MISSING)
    except Exception:  # noqa: BLE001 - the cache server is down: the database answers
        cached = _MISSING
    if cached is not _MISSING and not (cached is not None and cached.is_stale(now)):
        return cached
    try:
        snapshot = _load(slug)
    except DatabaseError as exc:
        with _lock:
            if slug in _last_known:
                # Even with a version due: the old wording is better than no page at all.
                return _last_known[slug]
        raise PublicPageUnavailable(slug) from exc
    try:
        cache.set(key, snapshot, _timeout(snapshot, now))
    except Exception:
        logger.warning("public page cache unavailable", exc_info=True)
    with _lock:
        _last_known[slug] = snapshot
    return snapshot


def _timeout(snapshot: PublicEmployer | None, now: dt.datetime) -> int:
    if snapshot is None or snapshot.valid_until is None:
        return _TIMEOUT_SECONDS
    return max(1, min(_TIMEOUT_SECONDS, int((snapshot.valid_until - now).total_seconds()) + 1))


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
