"""Normalising what people type: emails, phone numbers, profile URLs."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext


def normalise_email(value: str) -> str:
    """Trimmed and lower-cased; raises ValidationError when it is not an email address.

    The whole address is lower-cased: mailbox names are case-sensitive in theory, but no
    provider people use treats them so, and two leads for one person are worse.
    """
    email = (value or "").strip().lower()
    validate_email(email)
    return email


def normalise_phone(value: str, country_code: str = "") -> str:
    """E.164 ("+64211234567"), reading a local number in the person's country; '' when empty."""
    raw = (value or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, (country_code or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            gettext("Enter a phone number with its country code, for example +64 21 123 4567.")
        ) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(
            gettext("This phone number does not look complete: write it with its country code, "
                    "for example +64 21 123 4567.")
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_profile_url(value: str) -> str:
    """Lower-case host, no 'www.', no query or fragment, no trailing slash: one form per profile."""
    raw = (value or "").strip()
    if not raw:
        return ""
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return urlunsplit(("https", host, path, "", ""))
