"""Saving the lead list's filters as a named view, and deleting one."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from leads.fields import CheckedForm
from leads.models import SavedView
from leads.services.saved_views import saved_view_delete, saved_view_save
from leads.views.common import recruiter_view


class SavedViewForm(CheckedForm):
    name = forms.CharField(max_length=80)
    query = forms.CharField(max_length=2000, required=False)
    shared = forms.BooleanField(required=False)
    employer = forms.IntegerField(required=False)


@require_POST
@recruiter_view
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    back = reverse("leads:lead_list")
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(back)
    data = form.cleaned_data
    employers = {e.pk: e for e in request.employers}
    employer = employers.get(data["employer"]) if data["employer"] else (request.employers or [None])[0]
    if employer is None:
        messages.error(request, gettext("Choose one of your employers for the view."))
        return redirect(f"{back}?{data['query']}")
    try:
        view = saved_view_save(user=request.user, employer=employer, name=data["name"], query=data["query"],
                               shared=data["shared"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{back}?{data['query']}")
    messages.success(request, (gettext("View “%(name)s” saved and shared.") if view.shared
                              else gettext("View “%(name)s” saved.")) % {"name": view.name})
    return redirect(f"{back}?{view.query}&view=saved:{view.pk}")


@require_POST
@recruiter_view
def saved_view_remove(request: HttpRequest, view_pk: int) -> HttpResponse:
    view = SavedView.objects.filter(pk=view_pk, employer_id__in=request.employer_ids).first()
    if view is None or (view.owner_id != request.user.pk and not view.shared):
        raise Http404("No such view.")
    try:
        saved_view_delete(view=view, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("leads:lead_list")
