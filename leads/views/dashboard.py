"""The recruiter's start page at /."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from leads.selectors.dashboard import FUNNEL_DAYS, dashboard_data
from leads.services.saved_views import builtin_views
from leads.views.common import recruiter_view


@require_GET
@recruiter_view
def dashboard(request: HttpRequest) -> HttpResponse:
    # The cards link to the list's views: each card's number is that view's count.
    views = {view.key.split(":", 1)[1]: view for view in builtin_views(request.user)}
    context = {"data": dashboard_data(request.user, request.employers), "funnel_days": FUNNEL_DAYS, "views": views}
    return render(request, "leads/dashboard.html", context)
