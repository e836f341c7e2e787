"""The recruiter's own settings."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from leads.fields import CheckedForm
from leads.services.preferences import SESSION_KEY, user_set_time_zone
from leads.timezones import available_zones
from leads.views.common import recruiter_view, safe_next


class TimeZoneForm(CheckedForm):
    time_zone = forms.ChoiceField(required=False, label="Show times in")

    def __init__(self, *args, employer_zone: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", f"My employer's time zone ({employer_zone})")] + [
            (name, name.replace("_", " ")) for name in sorted(available_zones()) if "/" in name
        ]


@require_http_methods(["GET", "POST"])
@recruiter_view
def time_zone(request: HttpRequest) -> HttpResponse:
    employer_zone = request.employers[0].time_zone if request.employers else "UTC"
    form = TimeZoneForm(request.POST or None, employer_zone=employer_zone,
                        initial={"time_zone": request.session.get(SESSION_KEY, "")})
    if request.method == "POST" and form.is_valid():
        try:
            user_set_time_zone(user=request.user, time_zone=form.cleaned_data["time_zone"], session=request.session)
        except ValidationError as exc:
            form.add_error("time_zone", exc.messages[0])
        else:
            messages.success(request, "Your time zone is saved.")
            return redirect(safe_next(request, "leads:dashboard"))
    return render(request, "leads/time_zone.html", {"form": form}, status=400 if form.errors else 200)
