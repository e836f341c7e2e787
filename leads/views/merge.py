"""Merging a flagged duplicate into the lead being viewed."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from leads.access import get_for_user_or_404
from leads.models import Lead
from leads.services.merge import duplicates_dismiss, lead_merge
from leads.views.common import recruiter_view


@require_POST
@recruiter_view
def lead_merge_view(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    lead = get_for_user_or_404(Lead.objects.all(), request.user, pk=pk, erased_at__isnull=True)
    other = get_for_user_or_404(Lead.objects.all(), request.user, pk=other_pk, employer_id=lead.employer_id)
    try:
        lead_merge(lead=lead, other=other, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{other.name} <{other.email}> was merged into this lead.")
    return redirect("leads:lead_detail", pk=lead.pk)


@require_POST
@recruiter_view
def duplicates_dismiss_view(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    lead = get_for_user_or_404(Lead.objects.all(), request.user, pk=pk)
    other = get_for_user_or_404(Lead.objects.all(), request.user, pk=other_pk, employer_id=lead.employer_id)
    try:
        duplicates_dismiss(lead=lead, other=other, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Marked as a different person from {other.name}.")
    return redirect("leads:lead_detail", pk=lead.pk)
