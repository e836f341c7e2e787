"""The recruiter's start page at /."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from leads.selectors.dashboard import FUNNEL_DAYS, dashboard_data
from leads.views.common import recruiter_view


@require_GET
@recruiter_view
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {"data": dashboard_data(request.user, request.employers), "funnel_days": FUNNEL_DAYS}
    return render(request, "leads/dashboard.html", context)
