"""Choice lists shared by the forms; the long ones are built once."""

from __future__ import annotations

import functools

from django.utils.translation import get_language, override
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from leads.timezones import available_zones

YES_NO_UNSURE = [("", _("Not sure")), ("yes", _("Yes")), ("no", _("No"))]


def country_choices(blank: str = "—") -> list[tuple[str, str]]:
    return [("", blank), *[(code, name) for code, name in countries]]


# Callables, not lists: Django copies a form's fields for every form it builds, and copying
# lists of ~250 countries and ~600 zones was most of the public form's own cost. Built once per
# language: django-countries names (and sorts) them in the active one.
def countries_or_none() -> tuple[tuple[str, str], ...]:
    return _countries_in(get_language() or "en")


def countries_only() -> tuple[tuple[str, str], ...]:
    return _countries_in(get_language() or "en")[1:]


@functools.cache
def _countries_in(language: str) -> tuple[tuple[str, str], ...]:
    with override(language):
        return tuple((code, str(name)) for code, name in country_choices())


@functools.cache
def zone_choices() -> tuple[tuple[str, str], ...]:
    # Built once: sorting ~600 zone names on every form was a tenth of a submission's time.
    return (("", "—"), *((z, z) for z in sorted(available_zones())))


def yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def as_yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "")


def choices_of(enum, blank: str = "—") -> list[tuple[str, str]]:
    return [("", blank), *enum.choices]
