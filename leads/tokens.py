"""Signed links in emails to a lead: one salt per purpose, so that a link made for one thing
never works for another, and an age limit where the link grants access to personal data.

- unsubscribe: no age limit (RFC 8058: a one-click unsubscribe keeps working in old emails);
- still-interested: RELOCATE_STILL_INTERESTED_LINK_DAYS (the question is answered or moot by then);
- my-data (see and erase what the employer holds): RELOCATE_MY_DATA_LINK_DAYS, 30 by default;
  a forwarded acknowledgement stops granting it, and the person can ask for a fresh link.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.core import signing


class Purpose(Enum):
    UNSUBSCRIBE = "relocate.unsubscribe"
    STILL_INTERESTED = "relocate.still-interested"
    MY_DATA = "relocate.my-data.v2"

    @property
    def max_age(self) -> dt.timedelta | None:
        days = {
            Purpose.UNSUBSCRIBE: None,
            Purpose.STILL_INTERESTED: settings.RELOCATE_STILL_INTERESTED_LINK_DAYS,
            Purpose.MY_DATA: settings.RELOCATE_MY_DATA_LINK_DAYS,
        }[self]
        return None if days is None else dt.timedelta(days=days)


@dataclass(frozen=True)
class Reading:
    """What a token says: the lead, and whether the link is past its age (still the lead's:
    an expired link can ask for a fresh one, sent to the lead's own address)."""

    lead_id: int | None
    expired: bool = False

    @property
    def valid(self) -> bool:
        return self.lead_id is not None and not self.expired


def token_make(purpose: Purpose, lead_id: int) -> str:
    if purpose.max_age is None:
        return signing.Signer(salt=purpose.value).sign(str(lead_id))
    return signing.TimestampSigner(salt=purpose.value).sign(str(lead_id))


def token_read(purpose: Purpose, token: str) -> Reading:
    """Never raises: an altered, foreign or malformed token reads as no lead."""
    token = (token or "")[:300]
    try:
        if purpose.max_age is None:
            value = signing.Signer(salt=purpose.value).unsign(token)
            return Reading(_lead_id(value))
        signer = signing.TimestampSigner(salt=purpose.value)
        try:
            value = signer.unsign(token, max_age=purpose.max_age)
        except signing.SignatureExpired:
            return Reading(_lead_id(signer.unsign(token)), expired=True)
        return Reading(_lead_id(value))
    except (signing.BadSignature, ValueError):
        return Reading(None)


def _lead_id(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None
