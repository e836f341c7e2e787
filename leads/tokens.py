"""Signed links in emails to a lead: one salt per purpose, so that a link made for one thing
never works for another, and an age limit where the link grants access to personal data.

- unsubscribe: no age limit (RFC 8058: a one-click unsubscribe keeps working in old emails);
- still-interested: RELOCATE_STILL_INTERESTED_LINK_DAYS (the question is answered or moot by then);
- my-data (see and erase what the employer holds): RELOCATE_MY_DATA_LINK_DAYS, 30 by default;
  a forwarded acknowledgement stops granting it, and the person can ask for a fresh link;
- reply (the per-lead Reply-To address, ``replies+<token>@...``): no age limit, since a person
  may answer an old email. It only lets a message land on that lead's timeline, never read
  anything. Its own compact format (``reply_token_make``), not django.core.signing's: it must fit
  an address's local part and survive relays that lowercase addresses.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac


class Purpose(Enum):
    UNSUBSCRIBE = "relocate.unsubscribe"
    STILL_INTERESTED = "relocate.still-interested"
    MY_DATA = "relocate.my-data.v2"
    REPLY = "relocate.reply"

    @property
    def max_age(self) -> dt.timedelta | None:
        days = {
            Purpose.UNSUBSCRIBE: None,
            Purpose.REPLY: None,
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


# 24 base32 characters: 120 bits of HMAC-SHA256, far beyond guessing, and with the lead id and
# the separator a token stays under 45 characters (an address's local part holds 64).
_REPLY_SIGNATURE_CHARS = 24


def _reply_signature(lead_id: int, secret: str | bytes) -> str:
    digest = salted_hmac(Purpose.REPLY.value, str(lead_id), secret=secret, algorithm="sha256").digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_REPLY_SIGNATURE_CHARS]


def reply_token_make(lead_id: int) -> str:
    """``<lead id>-<signature>``, lower case letters and digits only."""
    return f"{lead_id}-{_reply_signature(lead_id, settings.SECRET_KEY)}"


def reply_token_read(token: str) -> int | None:
    """The lead of a reply token; None when it was altered, made for another lead, or garbled.
    Case-insensitive (relays may lowercase or uppercase an address); old secret keys
    (SECRET_KEY_FALLBACKS) still verify, so a key rotation does not orphan replies."""
    lead_part, _, signature = (token or "")[:80].strip().lower().partition("-")
    lead_id = _lead_id(lead_part)
    if lead_id is None or len(signature) != _REPLY_SIGNATURE_CHARS:
        return None
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        if constant_time_compare(signature, _reply_signature(lead_id, secret)):
            return lead_id
    return None
