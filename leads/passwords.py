"""A password validator Django does not ship: the person's full name is not a password."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext


def _letters(value: str) -> str:
    return re.sub(r"[\W_]+", "", value.casefold())


class FullNameValidator:
    """Refuses a password that holds the user's full name, their first or last name (three
    letters or more), whatever the case, spaces or punctuation ("AvaPatel!", "ava.patel2026")."""

    def validate(self, password: str, user=None) -> None:
        if user is None:
            return
        typed = _letters(password)
        names = [getattr(user, "first_name", "") or "", getattr(user, "last_name", "") or ""]
        full = _letters(" ".join(names))
        parts = [_letters(n) for n in names if len(_letters(n)) >= 3]
        if (full and len(full) >= 3 and full in typed) or any(part in typed for part in parts):
            raise ValidationError(gettext("The password must not contain your name."), code="password_has_name")

    def get_help_text(self) -> str:
        return gettext("Your password must not contain your name.")


def login_attempt_username(request, credentials: dict | None = None) -> str:
    """The username a login attempt is counted under (django-axes): as typed, cut to the
    longest a username can be, so that a pasted essay is counted rather than refused by the
    database."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username", "")
    return str(value or "").replace("\x00", "")[:150]
