"""Merging a flagged duplicate into the lead being viewed."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from leads.services.merge import duplicates_dismiss, lead_merge, merge_preview
from leads.views.common import lead_or_404, recruiter_view


@require_http_methods(["GET", "POST"])
@recruiter_view
def lead_merge_view(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    """GET: what the merge keeps, to confirm; POST: merge (final: the other lead's page then
    leads here)."""
    lead = lead_or_404(request, pk)
    other = lead_or_404(request, other_pk, employer_id=lead.employer_id, include_erased=True)
    if request.method == "GET":
        return render(request, "leads/lead_merge.html", {"lead": lead, "other": other, **merge_preview(lead, other)})
    try:
        lead_merge(lead=lead, other=other, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("%(name)s <%(email)s> was merged into this lead.")
                         % {"name": other.name, "email": other.email})
    return redirect("leads:lead_detail", pk=lead.pk)


@require_POST
@recruiter_view
def duplicates_dismiss_view(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk, include_erased=True)
    other = lead_or_404(request, other_pk, employer_id=lead.employer_id, include_erased=True)
    try:
        duplicates_dismiss(lead=lead, other=other, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("Marked as a different person from %(name)s.") % {"name": other.name})
    return redirect("leads:lead_detail", pk=lead.pk)
