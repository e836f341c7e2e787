"""A recruiter's own settings: the time zone the UI shows times in, and its language."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from leads.i18n import SESSION_KEY as LANGUAGE_SESSION_KEY
from leads.models import UserPreference
from leads.timezones import available_zones

# The session carries the zone, so that pages need no extra query to know it.
SESSION_KEY = "relocate_time_zone"


def user_set_preferences(*, user, time_zone: str, language: str, session=None) -> UserPreference:
    """The zone and the UI language together; empty values mean the employer's zone and the
    browser's language. Nothing is saved if either is unknown."""
    time_zone = (time_zone or "").strip()
    language = (language or "").strip()
    errors = {}
    if time_zone and time_zone not in available_zones():
        errors["time_zone"] = [_("%(zone)s is not a known time zone.") % {"zone": time_zone}]
    if language and language not in settings.RECRUITER_LANGUAGES:
        errors["language"] = [_("The pages are not available in that language.")]
    if errors:
        raise ValidationError(errors)
    preference, _created = UserPreference.objects.update_or_create(
        user=user, defaults={"time_zone": time_zone, "language": language})
    if session is not None:
        session_store_time_zone(session, time_zone)
        if language:
            session[LANGUAGE_SESSION_KEY] = language
        else:
            session.pop(LANGUAGE_SESSION_KEY, None)
    return preference


def session_store_time_zone(session, time_zone: str) -> None:
    if time_zone:
        session[SESSION_KEY] = time_zone
    else:
        session.pop(SESSION_KEY, None)


def session_store_preferences(session, user) -> None:
    """At login: the recruiter's saved zone and UI language follow them into the new session."""
    zone, language = UserPreference.objects.filter(user_id=user.pk).values_list(
        "time_zone", "language").first() or ("", "")
    session_store_time_zone(session, zone)
    if language:
        session[LANGUAGE_SESSION_KEY] = language
    else:
        session.pop(LANGUAGE_SESSION_KEY, None)


def user_time_zone(user) -> str:
    preference = UserPreference.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    return preference or ""
