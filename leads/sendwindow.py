"""When a follow-up may go out: inside the employer's send window, in the lead's own time zone,
on a working day that is not a public holiday of the lead's current country."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import holidays


@functools.lru_cache(maxsize=512)
def _holidays(country_code: str, year: int) -> frozenset[dt.date]:
    try:
        return frozenset(holidays.country_holidays(country_code, years=year).keys())
    except (NotImplementedError, KeyError):
        # A country the holidays package does not know: no holidays to skip.
        return frozenset()


def is_holiday(day: dt.date, country_code: str) -> bool:
    return bool(country_code) and day in _holidays(country_code.upper(), day.year)


def holiday_name(day: dt.date, country_code: str) -> str:
    if not is_holiday(day, country_code):
        return ""
    return holidays.country_holidays(country_code.upper(), years=day.year).get(day) or "public holiday"


@functools.lru_cache(maxsize=64)
def parse_weekdays(spec: str) -> frozenset[int]:
    return frozenset(int(part) for part in spec.split(",") if part.strip())


def next_send_time(
    now: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    *,
    start: dt.time,
    end: dt.time,
    weekdays: frozenset[int],
    country_code: str = "",
) -> dt.datetime:
    """``now`` when it is inside the window, else the moment the window next opens (in UTC).

    Works on local wall-clock dates, so a window of 9:00-17:00 stays 9:00-17:00 across a DST
    change; a start time that does not exist on a spring-forward day resolves to the instant
    after the gap (zoneinfo's fold rules).
    """
    local = now.astimezone(zone)
    for offset in range(0, 370):
        day = local.date() + dt.timedelta(days=offset)
        if day.weekday() not in weekdays or is_holiday(day, country_code):
            continue
        opens = _aware(day, start, zone)
        closes = _aware(day, end, zone)
        if offset == 0 and opens <= local < closes:
            return now
        if local < opens:
            return opens.astimezone(dt.UTC)
    # No working day in a year (an empty weekday list is refused by validation): send now
    # rather than hold an email for ever.
    return now


def _aware(day: dt.date, at: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    naive = dt.datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    # Round-trip through UTC normalises a wall time that falls in a DST gap.
    return aware.astimezone(dt.UTC).astimezone(zone)
