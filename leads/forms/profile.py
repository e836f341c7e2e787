"""The lead's profile as forms: built from the declaration in ``leads/profile.py``.

The public form, manual entry and the recruiter's edit form take their profile fields from
the one declaration (kind, labels, limits); only the identity (name, email) and the lists
(citizenships, skills) are declared here, as they are not columns of the lead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.forms import DeclarativeFieldsMetaclass
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads import profile
from leads.fields import BoundedDateField, CheckedForm
from leads.forms.choices import (
    YES_NO_UNSURE,
    as_yes_no,
    choices_of,
    countries_only,
    countries_or_none,
    yes_no,
    zone_choices,
)
from leads.models import LegalBasis, Opening
from leads.profile import Kind

APPLICANT = "applicant"
RECRUITER = "recruiter"


def profile_form_field(spec: profile.Field, audience: str) -> forms.Field:
    """The form field of one declared profile field, labelled for recruiters or applicants."""
    label = spec.applicant_label if audience == APPLICANT else spec.label
    help_text = spec.help if audience == APPLICANT else ""
    common: dict[str, Any] = {"required": False, "label": label, "help_text": help_text}
    builders: dict[Kind, Callable[[], forms.Field]] = {
        Kind.TEXT: lambda: forms.CharField(max_length=spec.max_length, **common),
        Kind.PHONE: lambda: forms.CharField(max_length=spec.max_length, **common),
        Kind.LONG_TEXT: lambda: forms.CharField(
            max_length=spec.max_length, widget=forms.Textarea(attrs={"rows": spec.extra.get("rows", 3)}), **common
        ),
        Kind.URL: lambda: forms.URLField(max_length=spec.max_length, assume_scheme="https", **common),
        Kind.COUNTRY: lambda: forms.ChoiceField(choices=countries_or_none, **common),
        Kind.ZONE: lambda: forms.ChoiceField(choices=zone_choices, **common),
        Kind.OPENING: lambda: forms.ModelChoiceField(
            queryset=Opening.objects.none(), empty_label=_("Any suitable role"), **common
        ),
        Kind.INTEGER: lambda: forms.IntegerField(min_value=0, max_value=spec.maximum, **common),
        Kind.YES_NO: lambda: forms.TypedChoiceField(
            choices=YES_NO_UNSURE, coerce=yes_no, empty_value=None, **common
        ),
        Kind.CHOICE: lambda: forms.ChoiceField(
            choices=choices_of(spec.choices, _("Not sure") if audience == APPLICANT else "—"), **common
        ),
        Kind.DATE: lambda: BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), **common),
        Kind.FLAG: lambda: forms.BooleanField(**common),
        Kind.FILE: lambda: forms.FileField(
            widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.doc,.docx"}), **common
        ),
        Kind.HIDDEN: lambda: forms.CharField(widget=forms.HiddenInput, max_length=spec.max_length, required=False),
    }
    return builders[spec.kind]()


# What a person answers about themselves: the declared fields a form shows by default.
def _answered(spec: profile.Field) -> bool:
    return spec.from_inquiry and spec.editable and spec.section in ("about", "role", "move")


def _identity_fields() -> dict[str, forms.Field]:
    return {
        "name": forms.CharField(max_length=200, label=_("Full name")),
        "email": forms.EmailField(max_length=254, label=_("Email")),
        "citizenships": forms.MultipleChoiceField(
            choices=countries_only, required=False, label=_("Citizenships"),
            help_text=_("Hold Ctrl (or ⌘) to choose more than one."),
        ),
        "skills": forms.CharField(max_length=1000, required=False, label=_("Skills"),
                                  help_text=_("Separated by commas, e.g. Python, Go, SQL.")),
    }


# Where the lists sit among the declared fields.
_AFTER = {"current_city": "citizenships", "years_experience": "skills"}


def profile_fields(audience: str, include: Callable[[profile.Field], bool] = _answered) -> dict[str, forms.Field]:
    """name, email, then the declared fields ``include`` picks, in the declaration's order."""
    identity = _identity_fields()
    fields = {"name": identity.pop("name"), "email": identity.pop("email")}
    for spec in profile.FIELDS:
        if include(spec):
            fields[spec.name] = profile_form_field(spec, audience)
        if spec.name in _AFTER:
            extra = _AFTER[spec.name]
            fields[extra] = identity.pop(extra)
    return fields


def profile_form_class(name: str, base: type, fields: dict[str, forms.Field], doc: str) -> type:
    """A form class whose declared fields are ``fields`` (as if written in its class body)."""
    return DeclarativeFieldsMetaclass(name, (base,), {"__module__": __name__, "__qualname__": name,
                                                     "__doc__": doc, **fields})


class ProfileFormBase(CheckedForm):
    """What every profile form does: the openings offered, the fields handed to the services,
    the skills as a list, and a service's errors put on the fields they name."""

    def __init__(self, *args, openings=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.fields.get("opening"), forms.ModelChoiceField):
            self.fields["opening"].queryset = openings if openings is not None else Opening.objects.none()

    @property
    def profile_names(self) -> list[str]:
        return [name for name in self.fields if name in profile.BY_NAME]

    def lead_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {key: data.get(key) for key in self.profile_names}

    def skill_names(self) -> list[str]:
        return [s.strip() for s in (self.cleaned_data.get("skills") or "").split(",") if s.strip()][:30]

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError on the fields it names, the rest on the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, errors in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, errors)


LeadProfileForm = profile_form_class(
    "LeadProfileForm", ProfileFormBase, profile_fields(APPLICANT),
    "The person's details and relocation readiness, as leads/profile.py declares them.",
)


def _legal_basis_field(choices: Iterable[tuple[str, str]], *, required: bool) -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=list(choices), required=required, label=_("Legal basis"),
        help_text=_("Why we may hold and email this person. Without one, nothing is sent to them."),
    )


def _recruiter_sets(spec: profile.Field) -> bool:
    return _answered(spec) or (spec.editable and spec.section == profile.RECRUITER_ONLY)


_RecruiterProfileForm = profile_form_class(
    "RecruiterProfileForm", ProfileFormBase,
    profile_fields(RECRUITER, _recruiter_sets),
    "The profile as recruiters read it.",
)


class LeadEditForm(_RecruiterProfileForm):
    """A recruiter corrects the profile, the email (to an address no other lead has), the
    citizenships and the skills."""

    legal_basis = _legal_basis_field([("", _("None recorded")), *LegalBasis.choices], required=False)

    def __init__(self, *args, lead, **kwargs) -> None:
        if "initial" not in kwargs and not args:
            kwargs["initial"] = self.initial_from(lead)
        super().__init__(*args, openings=Opening.objects.filter(employer_id=lead.employer_id), **kwargs)
        self.fields["name"].label = gettext("Name")
        self.fields["email"].help_text = gettext(
            "The lead's identity: a later inquiry from the old address makes a new lead.")
        self.fields["citizenships"].help_text = ""
        self.fields["language"].help_text = gettext(
            "Of the emails to this lead; empty: the employer's default language.")

    def identity_and_lists(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"name": data["name"], "email": data["email"], "citizenships": list(data.get("citizenships") or []),
                "skills": self.skill_names()}

    @classmethod
    def initial_from(cls, lead) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": lead.name, "email": lead.email,
            "citizenships": [c.country.code for c in lead.citizenships.all()],
            "skills": ", ".join(s.name for s in lead.skills.all()),
        }
        for name in profile.EDITABLE_FIELDS:
            value = profile.lead_value(lead, name)
            kind = profile.BY_NAME[name].kind
            if kind is Kind.YES_NO:
                value = as_yes_no(value)
            elif kind is Kind.COUNTRY:
                value = value.code if value else ""
            initial[name] = value
        return initial


class ManualLeadForm(_RecruiterProfileForm):
    """A recruiter adds a lead from a phone call, a LinkedIn message or an event."""

    employer = forms.ChoiceField(label=_("Employer"))
    how = forms.CharField(max_length=300, required=False, label=_("How they got in touch"),
                          help_text=_("For example: phone call, LinkedIn message, job fair in Austin."))
    legal_basis = _legal_basis_field(
        [("", _("Choose…")), (LegalBasis.CONSENT_IN_PERSON, LegalBasis.CONSENT_IN_PERSON.label),
         (LegalBasis.LEGITIMATE_INTEREST, LegalBasis.LEGITIMATE_INTEREST.label)],
        required=True,
    )

    def __init__(self, *args, employers, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["legal_basis"].error_messages["required"] = gettext(
            "Choose the legal basis: consent given in person, or legitimate interest (they asked us)."
        )
        self.employers = {str(e.pk): e for e in employers}
        self.fields["employer"].choices = [(str(e.pk), e.name) for e in employers]
        self.fields["opening"].queryset = Opening.objects.filter(
            employer_id__in=[e.pk for e in employers], status=Opening.Status.OPEN
        ).order_by("title")
        if len(employers) == 1:
            self.fields["employer"].widget = forms.HiddenInput()
            self.fields["employer"].initial = str(employers[0].pk)
        self.order_fields(["employer", "name", "email", "how", "legal_basis"])

    @property
    def profile_names(self) -> list[str]:
        return [name for name in super().profile_names if name != "legal_basis"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        employer = self.employers.get(data.get("employer") or "")
        opening = data.get("opening")
        if employer and opening and opening.employer_id != employer.pk:
            self.add_error("opening", gettext("Choose an opening of this employer."))
        data["employer_obj"] = employer
        return data
