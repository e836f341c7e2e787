"""The recruiter's own settings."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from leads.fields import CheckedForm
from leads.i18n import SESSION_KEY as LANGUAGE_SESSION_KEY
from leads.i18n import recruiter_language
from leads.services.preferences import SESSION_KEY, user_set_preferences
from leads.timezones import available_zones
from leads.views.common import recruiter_view, safe_next


class PreferencesForm(CheckedForm):
    time_zone = forms.ChoiceField(required=False, label=_("Show times in"))
    language = forms.ChoiceField(required=False, label=_("Language of the pages"))

    def __init__(self, *args, employer_zone: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [
            ("", gettext("My employer's time zone (%(zone)s)") % {"zone": employer_zone})
        ] + [(name, name.replace("_", " ")) for name in sorted(available_zones()) if "/" in name]
        names = dict(settings.LANGUAGES)
        # Each language is named in itself, so that a person can find theirs in any page language.
        self.fields["language"].choices = [("", gettext("My browser's language"))] + [
            (code, names[code]) for code in settings.RECRUITER_LANGUAGES
        ]


@require_http_methods(["GET", "POST"])
@recruiter_view
def preferences(request: HttpRequest) -> HttpResponse:
    """The recruiter's time zone and the language of their pages."""
    employer_zone = request.employers[0].time_zone if request.employers else "UTC"
    form = PreferencesForm(request.POST or None, employer_zone=employer_zone, initial={
        "time_zone": request.session.get(SESSION_KEY, ""),
        "language": request.session.get(LANGUAGE_SESSION_KEY, ""),
    })
    if request.method == "POST" and form.is_valid():
        try:
            user_set_preferences(user=request.user, session=request.session, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field, errors)
        else:
            # The page that follows speaks the language just chosen.
            with translation.override(recruiter_language(request)):
                messages.success(request, gettext("Your preferences are saved."))
            return redirect(safe_next(request, "leads:dashboard"))
    return render(request, "leads/preferences.html", {"form": form}, status=400 if form.errors else 200)
