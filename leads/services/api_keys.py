"""API keys: how another system (a careers site, an ATS, a data warehouse) reaches one employer.

Scopes say what a key may do (docs/api.md): intake (send inquiries, list openings), read
(leads and their history) and write (move stages, add notes).

A key reads ``rk_<prefix>_<secret>``. Only the SHA-256 of the whole key is stored: the key
carries 256 bits from ``secrets``, so a fast hash is as good as a slow one here (there is
nothing to guess), and checking a key costs one indexed lookup by its prefix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from leads.models import ApiKey, ApiScope, Employer

KEY_SCHEME = "rk"
PREFIX_LENGTH = 8
# The prefix is split off at underscores, so it is drawn from letters and digits only.
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
# Writing last_used_at on every call would make each API call a write; once a minute is plenty.
LAST_USED_PRECISION = dt.timedelta(minutes=1)
_MAX_KEY_LENGTH = 200


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, employer: Employer, name: str, scopes: Iterable[str] = (ApiScope.INTAKE,)) -> tuple[ApiKey, str]:
    """A new key for the employer with ``scopes`` (intake, read, write). The plaintext is
    returned once and never stored."""
    scopes = set(scopes)
    if not scopes or scopes - set(ApiScope.values):
        raise ValidationError(
            {"scopes": gettext("Choose one or more of: %(scopes)s.") % {"scopes": ", ".join(ApiScope.values)}})
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": gettext("Say who will use this key, for example “careers site”.")})
    if len(name) > ApiKey._meta.get_field("name").max_length:
        raise ValidationError({"name": gettext("Keep the name under 120 characters.")})
    for _ in range(5):
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        raw = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(employer=employer, name=name, prefix=prefix, key_hash=_hash(raw),
                                            **{f"scope_{scope}": scope in scopes for scope in ApiScope.values})
        except IntegrityError:
            continue  # a prefix clash (1 in 36^8 per key): draw again
        return key, raw
    raise RuntimeError("Could not draw a unique API key prefix.")


def api_key_authenticate(raw: str | None) -> ApiKey | None:
    """The live key the caller presented, with its employer; None for anything else."""
    raw = (raw or "").strip()
    if not raw or len(raw) > _MAX_KEY_LENGTH:
        return None
    scheme, _, rest = raw.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    key = ApiKey.objects.select_related("employer").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw)):
        return None
    if key.revoked_at is not None:
        return None
    _touch(key)
    return key


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is not None and key.last_used_at >= now - LAST_USED_PRECISION:
        return
    # A conditional UPDATE: concurrent calls write at most once a minute between them.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    if ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now):
        key.last_used_at = now


def api_keys_revoke(*, keys: QuerySet[ApiKey]) -> int:
    """Revoke the keys not yet revoked; they stop working at once. Returns how many."""
    return keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


__all__ = ["api_key_authenticate", "api_key_create", "api_keys_revoke"]
