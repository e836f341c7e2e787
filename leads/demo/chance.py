"""Chance for the demo: a fast seeded generator, weighted choices, and the calendar that says
how likely an inquiry is on each day (weekly rhythm, a slow trend, the surges)."""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from leads.demo import data
from leads.demo.setup import DemoEmployer

T = TypeVar("T")
DAY = dt.timedelta(days=1)
_WEEKEND_FACTOR = 0.55
_SURGE_DECAY = 0.85  # each surge day brings this share of the previous day's extra inquiries


class Dice(random.Random):
    """``random.Random`` with cheaper ``choice`` and ``randint``.

    The stock methods draw exact uniform integers by rejection sampling, which costs about a
    third of the generation time; a float scaled to the range is uniform enough for demo data.
    """

    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


class Weighted(Generic[T]):
    """A weighted choice with its cumulative weights computed once, not on every draw."""

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.options = [option for option, _ in pairs]
        self.cumulative: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            self.cumulative.append(total)

    def pick(self, rng: random.Random) -> T:
        return self.options[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


@dataclass(frozen=True)
class Calendar:
    """How likely an inquiry is on each of the last ``data.DAYS`` days (index: days ago)."""

    day_starts: tuple[dt.datetime, ...]
    day_spans: tuple[float, ...]  # seconds: the seed day is cut at the anchor
    days: Weighted[int]
    surge_share: tuple[float, ...]  # share of a day's inquiries that are a surge's extra
    surge_of: tuple[data.SurgeSpec | None, ...]  # the surge of that day, if any


def calendar_for(employer: DemoEmployer) -> Calendar:
    anchor = employer.anchor
    midnight = anchor.replace(hour=0, minute=0, second=0, microsecond=0)
    starts, spans, weights, shares, surges = [], [], [], [], []
    for days_ago in range(data.DAYS):
        start = midnight - days_ago * DAY
        span = (anchor - start).total_seconds() if days_ago == 0 else DAY.total_seconds()
        # A mild upward trend over two years, fewer inquiries at weekends.
        trend = 0.8 + 0.4 * (data.DAYS - days_ago) / data.DAYS
        base = trend * (_WEEKEND_FACTOR if start.weekday() >= 5 else 1.0)
        surge, multiple = _surge_multiple(employer.spec, days_ago)
        extra = trend * multiple
        starts.append(start)
        spans.append(span)
        weights.append((days_ago, (base + extra) * span / DAY.total_seconds()))
        shares.append(extra / (base + extra))
        surges.append(surge)
    return Calendar(tuple(starts), tuple(spans), Weighted(weights), tuple(shares), tuple(surges))


def _surge_multiple(spec: data.EmployerSpec, days_ago: int) -> tuple[data.SurgeSpec | None, float]:
    """Extra inquiries on a surge day: highest the day after the news, then fading."""
    for surge in data.SURGES:
        day_of_surge = surge.days_ago - days_ago
        if 0 <= day_of_surge < surge.length:
            return surge, getattr(spec, surge.peak_field) * _SURGE_DECAY**day_of_surge
    return None, 0.0
