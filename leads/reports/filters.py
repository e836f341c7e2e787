"""The filters every report takes from the query string, and the scope they apply within.

Who sees what: a superuser any employer or all of them; other staff only the employers
where they are an employer admin. An employer or opening outside that scope answers 404,
never its data. Values that do not parse are form errors shown on the page.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, QueryDict
from django.utils import dateformat, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from leads.access import employer_ids
from leads.fields import BoundedDateField, CheckedForm
from leads.models import Employer, Lead, Opening, Role, Source

MAX_DAYS = 3 * 366 + 1  # keeps every per-day series small, whatever the data size
# Dates a report may cover; the previous period and the year-before baseline must still be dates.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
UTC = zoneinfo.ZoneInfo("UTC")
DEFAULT_SURGE_MULTIPLE = Decimal("1.5")
DEFAULT_RESPONSE_HOURS = 24

BREAKDOWNS: dict[str, str] = {
    "source": _("Source"),
    "citizenship": _("Citizenship"),
    "country": _("Current country"),
    "opening": _("Opening"),
    "owner": _("Owner"),
    "timeline": _("Move timeline"),
    "sponsorship": _("Needs sponsorship"),
}
PERIODS = {"week": _("Week"), "month": _("Month")}


@dataclass(frozen=True)
class EmployerRef:
    id: int
    name: str
    time_zone: str
    surge_multiple: Decimal
    response_target_hours: int


@dataclass(frozen=True)
class Scope:
    """The employers a user may report on: one query per request."""

    employers: tuple[EmployerRef, ...]
    is_superuser: bool

    @property
    def employer_names(self) -> str:
        return ", ".join(employer.name for employer in self.employers)

    def get(self, employer_id: int) -> EmployerRef:
        for employer in self.employers:
            if employer.id == employer_id:
                return employer
        raise Http404("No such employer.")


def report_scope(user) -> Scope:
    """The employers the user reports on; staff who are nobody's admin may not see reports."""
    queryset = Employer.objects.order_by("name")
    if not user.is_superuser:
        queryset = queryset.filter(pk__in=employer_ids(user, role=Role.ADMIN))
    employers = tuple(
        EmployerRef(row["id"], row["name"], row["time_zone"], row["surge_multiple"], row["response_target_hours"])
        for row in queryset.values("id", "name", "time_zone", "surge_multiple", "response_target_hours")
    )
    if not employers and not user.is_superuser:
        raise PermissionDenied(gettext("Reports are for employer admins."))
    return Scope(employers=employers, is_superuser=user.is_superuser)


@dataclass(frozen=True)
class ReportFilters:
    """A validated set of filters: what every report query is built from."""

    employers: tuple[EmployerRef, ...]  # the employers reported on (all in scope when none was picked)
    all_employers: bool  # a superuser's "every employer": no employer condition at all
    start_date: dt.date
    end_date: dt.date  # inclusive
    zone: zoneinfo.ZoneInfo
    opening_id: int | None = None
    source: str = ""
    country: str = ""
    breakdown: str = "source"
    period: str = "week"
    params: tuple[tuple[str, str], ...] = ()  # the query string as given, for links

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.start_date, dt.time(), self.zone)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: local midnight after the last day."""
        return dt.datetime.combine(self.end_date + dt.timedelta(days=1), dt.time(), self.zone)

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    @property
    def employer_ids(self) -> list[int]:
        return [employer.id for employer in self.employers]

    @property
    def single(self) -> EmployerRef | None:
        return self.employers[0] if len(self.employers) == 1 else None

    @property
    def surge_multiple(self) -> Decimal:
        return self.single.surge_multiple if self.single else DEFAULT_SURGE_MULTIPLE

    @property
    def response_hours(self) -> int:
        return self.single.response_target_hours if self.single else DEFAULT_RESPONSE_HOURS

    def shifted(self, days: int) -> ReportFilters:
        delta = dt.timedelta(days=days)
        return replace(self, start_date=self.start_date + delta, end_date=self.end_date + delta)

    def previous(self) -> ReportFilters:
        """The period of the same length just before this one."""
        return self.shifted(-self.days)

    def employer_q(self, path: str = "employer_id") -> Q:
        return Q() if self.all_employers else Q(**{f"{path}__in": self.employer_ids})

    def lead_q(self, prefix: str = "") -> Q:
        """Tenancy and the lead filters (opening, source, country), from a model reaching a lead."""
        q = self.employer_q(f"{prefix}employer_id")
        if self.opening_id:
            q &= Q(**{f"{prefix}opening_id": self.opening_id})
        if self.source:
            q &= Q(**{f"{prefix}source": self.source})
        if self.country:
            q &= Q(**{f"{prefix}current_country": self.country})
        return q

    def leads(self) -> QuerySet[Lead]:
        """The cohort: leads created in the range, within scope and filters."""
        return Lead.objects.filter(self.lead_q(), created_at__gte=self.start, created_at__lt=self.end)

    def query_string(self, **overrides: str) -> str:
        params = dict(self.params)
        params.update(overrides)
        return urlencode({key: value for key, value in params.items() if value not in ("", None)})

    def describe(self) -> str:
        who = gettext("every employer") if self.all_employers else ", ".join(e.name for e in self.employers)
        return gettext("%(employers)s, %(start)s to %(end)s (%(zone)s)") % {
            "employers": who, "start": dateformat.format(self.start_date, "d M Y"),
            "end": dateformat.format(self.end_date, "d M Y"), "zone": self.zone.key,
        }


class ReportFilterForm(CheckedForm):
    """Parses the query string; ``filters()`` gives the validated ReportFilters."""

    employer = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    opening = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    source = forms.ChoiceField(required=False, choices=[("", _("Any source")), *Source.choices])
    country = forms.CharField(required=False, max_length=2)
    by = forms.ChoiceField(required=False, choices=list(BREAKDOWNS.items()), label=_("Break down by"))
    period = forms.ChoiceField(required=False, choices=list(PERIODS.items()), label=_("Cohorts by"))

    def __init__(self, data: QueryDict, *, scope: Scope, default_days: int, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.scope = scope
        self.default_days = default_days
        # "from" is a Python keyword: these two fields are added by name.
        self.fields["from"] = BoundedDateField(required=False, label=_("From"),
                                               widget=forms.DateInput({"type": "date"}))
        self.fields["to"] = BoundedDateField(required=False, label=_("To"), widget=forms.DateInput({"type": "date"}))
        self.order_fields(["from", "to", "employer", "opening", "source", "country", "by", "period"])

    def clean_country(self) -> str:
        code = (self.cleaned_data.get("country") or "").strip().upper()
        if code and code not in dict(countries):
            raise forms.ValidationError(gettext("Enter a two-letter country code, for example US."))
        return code

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("from", "to"):
            value = cleaned.get(name)
            if value and not EARLIEST <= value <= LATEST:
                self.add_error(name, gettext("Choose a date between %(earliest)s and %(latest)s.")
                               % {"earliest": f"{EARLIEST:%Y}", "latest": f"{LATEST:%Y}"})
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            self.add_error("to", gettext("The end of the range is before its start."))
        elif start and end and (end - start).days + 1 > MAX_DAYS:
            self.add_error("to", gettext("A report covers at most %(days)s days; choose a shorter range.")
                           % {"days": MAX_DAYS})
        return cleaned

    def filters(self) -> ReportFilters:
        """Call after is_valid(). Raises Http404 for an employer or opening out of scope."""
        data = self.cleaned_data
        employers, all_employers = self._employers(data.get("employer"))
        zone = zoneinfo.ZoneInfo(employers[0].time_zone) if len(employers) == 1 else UTC
        today = timezone.now().astimezone(zone).date()
        end = data.get("to") or (today if not data.get("from") else data["from"] + dt.timedelta(self.default_days - 1))
        start = data.get("from") or end - dt.timedelta(days=self.default_days - 1)
        return ReportFilters(
            employers=employers, all_employers=all_employers, start_date=start, end_date=end, zone=zone,
            opening_id=self._opening(data.get("opening"), employers, all_employers),
            source=data.get("source") or "", country=data.get("country") or "",
            breakdown=data.get("by") or "source", period=data.get("period") or "week",
            params=tuple((key, value) for key, value in self.data.items() if key in self.fields and value),
        )

    def _employers(self, employer_id: int | None) -> tuple[tuple[EmployerRef, ...], bool]:
        if employer_id is not None:
            return (self.scope.get(employer_id),), False
        return self.scope.employers, self.scope.is_superuser

    def _opening(self, opening_id: int | None, employers: tuple[EmployerRef, ...], all_employers: bool) -> int | None:
        if opening_id is None:
            return None
        openings = Opening.objects.filter(pk=opening_id)
        if not all_employers:
            openings = openings.filter(employer_id__in=[e.id for e in employers])
        if not openings.exists():
            raise Http404("No such opening.")
        return opening_id
