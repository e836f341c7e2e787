"""What every recruiter page shares: login, the user's employers, their time zone, safe redirects."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from leads.models import Employer, Lead
from leads.services.preferences import SESSION_KEY
from leads.timezones import available_zones


def user_employers(user) -> list[Employer]:
    """The employers a user works for; every employer for a superuser."""
    if user.is_superuser:
        return list(Employer.objects.order_by("name"))
    return list(Employer.objects.filter(memberships__user_id=user.pk).order_by("name"))


def recruiter_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; ``request.employers`` set; times shown in the user's zone (their own
    choice, else their first employer's).

    One query for the employers, whatever the page. The zone is overridden only for this
    request (the thread's zone is restored afterwards, so it never leaks to the next one).
    """

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.employers = user_employers(request.user)
        request.employer_ids = [e.pk for e in request.employers]
        # The recruiter's own choice (kept in the session, no query), else the first employer's.
        zone_name = request.session.get(SESSION_KEY) or (request.employers[0].time_zone if request.employers else "UTC")
        zone = zoneinfo.ZoneInfo(zone_name if zone_name in available_zones() else "UTC")
        with timezone.override(zone):
            return view(request, *args, **kwargs)

    return wrapped


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` parameter when it is a path on this site ("/leads/?stage=new"), else the
    fallback. Only a path: "foo" would be taken for a URL name by redirect() and fail after the
    action had been saved; "//host" and "/\\host" lead elsewhere."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\\" not in target
        and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    ):
        return target
    return fallback


def lead_or_404(request: HttpRequest, pk, *, for_page: bool = False, include_erased: bool = False,
                employer_id: int | None = None) -> Lead:
    """The one way a recruiter view gets a lead: one of the user's employers' (``request.employer_ids``,
    set by recruiter_view), else 404, never 403. ``for_page`` loads what the lead page shows;
    an erased lead is not found unless asked for."""
    from leads.selectors.leads import lead_page_queryset

    queryset = Lead.objects.filter(employer_id__in=request.employer_ids)
    queryset = lead_page_queryset(queryset) if for_page else queryset.select_related("employer")
    if not include_erased:
        queryset = queryset.filter(erased_at__isnull=True)
    if employer_id is not None:
        queryset = queryset.filter(employer_id=employer_id)
    try:
        return queryset.get(pk=pk)
    except (Lead.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such lead.") from exc
