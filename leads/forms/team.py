"""The forms of the team page (employer admins) and of the invitation link."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _

from leads.fields import CheckedForm
from leads.models import Employer, Role


class InviteForm(CheckedForm):
    employer = forms.TypedChoiceField(coerce=int, widget=forms.HiddenInput)
    email = forms.EmailField(max_length=254, label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RECRUITER, label=_("Role"))
    first_name = forms.CharField(max_length=150, required=False, label=_("First name (optional)"))
    last_name = forms.CharField(max_length=150, required=False, label=_("Last name (optional)"))

    def __init__(self, *args, employers: list[Employer], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["employer"].choices = [(e.pk, e.name) for e in employers]
        self.employers = {e.pk: e for e in employers}


class RoleForm(CheckedForm):
    role = forms.ChoiceField(choices=Role.choices)


class RoundRobinForm(CheckedForm):
    receives_assignments = forms.TypedChoiceField(
        choices=[("on", _("On")), ("off", _("Off"))], coerce=lambda value: value == "on"
    )


class InviteAcceptForm(CheckedForm, SetPasswordForm):
    """Django's set-password form: the two fields and every AUTH_PASSWORD_VALIDATORS check,
    run against the invited user (a password like their name or email is refused)."""
