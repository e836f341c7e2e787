"""Time zones: validation, and a lead's zone derived from their country when not asked."""

from __future__ import annotations

import functools
import zoneinfo
from importlib import resources

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

# zone.tab lists each country's zones, but not always its most populous first.
_PREFERRED = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CD": "Africa/Kinshasa",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "MX": "America/Mexico_City",
    "RU": "Europe/Moscow",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "CL": "America/Santiago",
    "EC": "America/Guayaquil",
    "MN": "Asia/Ulaanbaatar",
    "UA": "Europe/Kyiv",
}


@functools.cache
def _country_zones() -> dict[str, str]:
    zones: dict[str, str] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, _coords, name, *_ = line.split("\t")
        zones.setdefault(code, name)
    zones.update(_PREFERRED)
    return zones


@functools.cache
def available_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value and value not in available_zones():
        raise ValidationError(gettext("%(value)s is not a known time zone (use a name such as Europe/Berlin)."),
                              params={"value": value})


def zone_name_for_country(country_code: str) -> str:
    """The usual time zone of a country (ISO 3166 alpha-2), or '' when unknown."""
    return _country_zones().get((country_code or "").upper(), "")


def zone_for(time_zone: str, country_code: str = "") -> zoneinfo.ZoneInfo:
    name = time_zone if time_zone in available_zones() else zone_name_for_country(country_code)
    return zoneinfo.ZoneInfo(name or "UTC")
