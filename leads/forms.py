"""Forms of the recruiter UI and the public inquiry form.

Forms check and convert input; writes go through the services. Every field has a bound
length so that oversized input is a clear field error, never a database error.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import time
import uuid
import zipfile
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Fieldset, Layout, Submit
from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django_countries import countries

from leads.fields import BoundedDateField, CheckedForm
from leads.models import (
    ActivityKind,
    ClosedReason,
    MoveTimeline,
    Opening,
    RelocatingWith,
    Source,
    Stage,
    VisaPathway,
    display_name,
)
from leads.services.intake import check_profile
from leads.timezones import available_zones

CV_MAX_BYTES = 5 * 1024 * 1024
_STARTED_SALT = "relocate.public-form.started"
_STARTED_MAX_AGE = 86_400
_YES_NO_UNSURE = [("", "Not sure"), ("yes", "Yes"), ("no", "No")]


def _country_choices(blank: str = "—") -> list[tuple[str, str]]:
    return [("", blank), *[(code, name) for code, name in countries]]


# Callables, not lists: Django copies a form's fields for every form it builds, and copying
# lists of ~250 countries and ~600 zones was most of the public form's own cost.
@functools.cache
def _countries_or_none() -> tuple[tuple[str, str], ...]:
    return tuple(_country_choices())


@functools.cache
def _countries_only() -> tuple[tuple[str, str], ...]:
    return tuple(_country_choices()[1:])


@functools.cache
def _zone_choices() -> tuple[tuple[str, str], ...]:
    # Built once: sorting ~600 zone names on every form was a tenth of a submission's time.
    return (("", "—"), *((z, z) for z in sorted(available_zones())))


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _choices(enum, blank: str = "—") -> list[tuple[str, str]]:
    return [("", blank), *enum.choices]


# --- CV files ---------------------------------------------------------------------------------

def _sniff_cv(head: bytes, upload: UploadedFile) -> str | None:
    """The real type of an uploaded CV from its first bytes, or None when it is not one we take."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(bytes.fromhex("D0CF11E0A1B11AE1")):
        return "doc"
    if head.startswith(b"PK\x03\x04"):
        try:
            upload.seek(0)
            with zipfile.ZipFile(upload) as archive:
                # Reading the directory only: a zip bomb is never decompressed here.
                return "docx" if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
    return None


def clean_cv_upload(upload: UploadedFile | None) -> UploadedFile | None:
    """A CV must be a real PDF, DOC or DOCX of at most 5 MB; it is stored under a random name."""
    if not upload:
        return None
    if upload.size > CV_MAX_BYTES:
        raise ValidationError("The CV is larger than 5 MB. Please upload a smaller file.")
    extension = os.path.splitext(upload.name or "")[1].lower().lstrip(".")
    if extension not in {"pdf", "doc", "docx"}:
        raise ValidationError("Upload the CV as a PDF, DOC or DOCX file.")
    upload.seek(0)
    kind = _sniff_cv(upload.read(8), upload)
    upload.seek(0)
    if kind != extension:
        raise ValidationError("This file is not a real PDF, DOC or DOCX document.")
    # The person's file name may hold anything; the stored name is ours.
    upload.name = f"{uuid.uuid4().hex}.{kind}"
    return upload


# --- Selects with hundreds of options ---------------------------------------------------------

class FastSelect(forms.Select):
    """A <select> rendered by string joining. Django renders each <option> through a template,
    which for the two country lists (250 options each) took ~100 ms on every list and board page."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = {"" if v is None else str(v) for v in (value if isinstance(value, list | tuple) else [value])}
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((key, mark_safe(" selected") if str(key) in chosen else "", label)
             for key, label in self._flat_choices()),
        )
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)

    def _flat_choices(self):
        for key, label in self.choices:
            if isinstance(label, list | tuple):  # an optgroup: flattened, groups are not used here
                yield from label
            else:
                yield ("" if key is None else getattr(key, "value", key), label)


class FastSelectMultiple(FastSelect):
    """FastSelect for a multiple choice; submitted as a list, as SelectMultiple is."""

    allow_multiple_selected = True

    def __init__(self, attrs=None, choices=()) -> None:
        super().__init__({**(attrs or {}), "multiple": True}, choices)

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        return getter(name) if getter else data.get(name)

    def value_omitted_from_data(self, data, files, name) -> bool:
        return False


# --- The lead's profile, shared by the public form, manual entry and editing ----------------

class LeadProfileForm(CheckedForm):
    """The person's details and relocation readiness, as DESIGN.md lists them."""

    name = forms.CharField(max_length=200, label="Full name")
    email = forms.EmailField(max_length=254)
    phone = forms.CharField(max_length=40, required=False, help_text="With the country code, e.g. +1 415 555 2671.")
    current_country = forms.ChoiceField(choices=_countries_or_none, required=False, label="Country you live in")
    current_city = forms.CharField(max_length=120, required=False, label="City")
    citizenships = forms.MultipleChoiceField(
        choices=_countries_only, required=False, label="Citizenships",
        help_text="Hold Ctrl (or ⌘) to choose more than one.",
    )
    time_zone = forms.ChoiceField(choices=_zone_choices, required=False, label="Your time zone",
                                  help_text="Leave empty to use your country's.")
    profile_url = forms.URLField(max_length=500, required=False, label="LinkedIn or portfolio URL",
                                 assume_scheme="https")
    opening = forms.ModelChoiceField(queryset=Opening.objects.none(), required=False, label="Opening of interest",
                                     empty_label="Any suitable role")
    role_of_interest = forms.CharField(max_length=200, required=False, label="Role you are looking for")
    years_experience = forms.IntegerField(min_value=0, max_value=70, required=False, label="Years of experience")
    skills = forms.CharField(max_length=1000, required=False, help_text="Separated by commas, e.g. Python, Go, SQL.")
    needs_sponsorship = forms.TypedChoiceField(
        choices=_YES_NO_UNSURE, coerce=_yes_no, empty_value=None, required=False,
        label="Do you need visa sponsorship?",
    )
    visa_pathway = forms.ChoiceField(choices=_choices(VisaPathway, "Not sure"), required=False,
                                     label="Visa pathway of interest")
    earliest_move_date = BoundedDateField(required=False, label="Earliest move date",
                                         widget=forms.DateInput(attrs={"type": "date"}))
    move_timeline = forms.ChoiceField(choices=_choices(MoveTimeline), required=False, label="When could you move?")
    relocating_with = forms.ChoiceField(choices=_choices(RelocatingWith), required=False, label="Relocating")
    dependants = forms.IntegerField(min_value=0, max_value=20, required=False, label="Number of dependants")
    partner_needs_work_rights = forms.TypedChoiceField(
        choices=_YES_NO_UNSURE, coerce=_yes_no, empty_value=None, required=False,
        label="Does your partner need work rights?",
    )
    credentials_to_recognise = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        label="Qualifications that need recognition",
    )
    motivation = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                 label="Why do you want to move?")

    # Fields passed to the intake service as lead fields, as they are named on the model.
    PROFILE_FIELDS: tuple[str, ...] = (
        "phone", "current_country", "current_city", "time_zone", "profile_url", "opening",
        "role_of_interest", "years_experience", "needs_sponsorship", "visa_pathway",
        "earliest_move_date", "move_timeline", "relocating_with", "dependants",
        "partner_needs_work_rights", "credentials_to_recognise", "motivation",
    )

    def __init__(self, *args, openings=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.fields.get("opening"), forms.ModelChoiceField):
            self.fields["opening"].queryset = openings if openings is not None else Opening.objects.none()

    def lead_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {key: data.get(key) for key in self.PROFILE_FIELDS if key in self.fields}

    def skill_names(self) -> list[str]:
        return [s.strip() for s in (self.cleaned_data.get("skills") or "").split(",") if s.strip()][:30]

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError on the fields it names, the rest on the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, errors in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, errors)


# --- The public inquiry form --------------------------------------------------------------------

def started_token() -> str:
    """When the form was served, signed, with a random part so that no two are alike."""
    return signing.dumps(f"{time.time():.6f}:{secrets.token_hex(6)}", salt=_STARTED_SALT)


def started_token_claim(token: str) -> bool:
    """One submission per served form: the first accepted submission with this token claims
    it for a day (its lifetime); a replay gets False. Without the cache server it allows."""
    key = "public-form:started:" + hashlib.sha256(token.encode()).hexdigest()
    try:
        return bool(cache.add(key, 1, timeout=_STARTED_MAX_AGE + 60))
    except Exception:  # noqa: BLE001 - the cache is down: a replay is less bad than a lost inquiry
        return True


class PublicInquiryForm(LeadProfileForm):
    """What a person fills in at /apply/<slug>/; honeypot and fill time keep simple bots out.

    It needs no database: the openings come from the employer's cached snapshot, and every
    rule of the intake service that can be checked without the database is checked here, so a
    submission accepted now is one the worker can store.
    """

    opening = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Opening of interest")
    cv = forms.FileField(required=False, label="CV (PDF, DOC or DOCX, up to 5 MB)",
                         widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.doc,.docx"}))
    privacy_accepted = forms.BooleanField(
        required=True, label="I agree that my details are stored to handle my inquiry (privacy policy).",
        error_messages={"required": "Please accept the privacy terms so that we can store your inquiry."},
    )
    marketing_opt_in = forms.BooleanField(required=False, label="Send me news about openings.")
    # Honeypot: hidden from people, filled by form-filling bots.
    website = forms.CharField(required=False, max_length=200, label="Leave this field empty")
    started = forms.CharField(widget=forms.HiddenInput, max_length=200)
    utm_source = forms.CharField(widget=forms.HiddenInput, required=False, max_length=120)
    utm_medium = forms.CharField(widget=forms.HiddenInput, required=False, max_length=120)
    utm_campaign = forms.CharField(widget=forms.HiddenInput, required=False, max_length=120)
    utm_term = forms.CharField(widget=forms.HiddenInput, required=False, max_length=120)
    utm_content = forms.CharField(widget=forms.HiddenInput, required=False, max_length=120)

    PROFILE_FIELDS = (
        *LeadProfileForm.PROFILE_FIELDS, "cv", "marketing_opt_in",
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    )
    # Not kept in the inquiry's raw fields.
    NOT_RAW = frozenset({"csrfmiddlewaretoken", "website", "started"})
    # Long lists: rendered by string joining, and searchable where JavaScript runs.
    SEARCHABLE = {
        "current_country": "Type to search countries.",
        "citizenships": "Type to search; choose every country whose passport you hold.",
        "time_zone": "Type a city, e.g. Chicago. Leave empty to use your country's.",
    }

    def __init__(self, *args, openings: tuple[tuple[int, str], ...] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.refused = False
        self.fields["opening"].choices = [("", "Any suitable role"), *openings]
        self.fields["started"].error_messages["required"] = "The form was incomplete. Please try again."
        for name, js_help in self.SEARCHABLE.items():
            field = self.fields[name]
            widget_class = FastSelectMultiple if name == "citizenships" else FastSelect
            field.widget = widget_class(
                attrs={"data-searchable": "true", "data-js-help": js_help}, choices=field.choices
            )
        self.helper = self._helper()

    @staticmethod
    def _helper() -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.layout = Layout(
            Fieldset("About you", "name", "email", "phone", "current_country", "current_city", "citizenships",
                     "time_zone", "profile_url"),
            Fieldset("The role", "opening", "role_of_interest", "years_experience", "skills", "cv"),
            Fieldset("Your move", "needs_sponsorship", "visa_pathway", "move_timeline", "earliest_move_date",
                     "relocating_with", "dependants", "partner_needs_work_rights", "credentials_to_recognise",
                     "motivation"),
            Fieldset("Consent", "privacy_accepted", "marketing_opt_in"),
            Div("website", css_class="d-none", aria_hidden="true"),
            "started", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
            Submit("submit", "Send my inquiry", css_class="btn-lg"),
        )
        return helper

    def clean_cv(self) -> UploadedFile | None:
        return clean_cv_upload(self.cleaned_data.get("cv"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("website"):
            self.refused = True
            raise ValidationError("Your inquiry could not be accepted. Please leave the hidden field empty.")
        self._check_fill_time(data.get("started"))
        if not self.errors:
            self._check_as_intake_will()
        return data

    def _check_as_intake_will(self) -> None:
        """The intake service's own rules (phone numbers, URLs, the model's limits), now: once
        the person has seen the thank-you page there is nobody left to show an error to."""
        fields = {k: v for k, v in self.lead_fields().items() if k not in ("cv", "opening")}
        try:
            checked = check_profile(fields)
        except ValidationError as exc:
            self.add_service_errors(exc)
            return
        self.cleaned_data.update({k: v for k, v in checked.items() if k in ("phone", "profile_url")})

    def _check_fill_time(self, token: str | None) -> None:
        if not token:
            return  # the field's own "required" error says it
        try:
            value = signing.loads(token, salt=_STARTED_SALT, max_age=_STARTED_MAX_AGE)
            started = float(str(value).split(":", 1)[0])
        except (signing.BadSignature, TypeError, ValueError):
            self.refused = True
            raise ValidationError("The form has expired. Please fill it in again.") from None
        if time.time() - started < settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS:
            raise ValidationError("That was very quick. Please check your answers and send the form again.")

    def submission_data(self) -> dict[str, Any]:
        """What the intake worker passes to inquiry_receive (the CV travels as a file name)."""
        data = self.cleaned_data
        return {
            "email": data["email"], "name": data["name"],
            "fields": {k: v for k, v in self.lead_fields().items() if k != "cv"},
            "citizenships": list(data.get("citizenships") or []), "skills": self.skill_names(),
            "subject": "Inquiry from the web form", "body": data.get("motivation", ""),
        }

    def raw_fields(self, post) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for key, values in post.lists():
            if key in self.NOT_RAW:
                continue
            raw[key] = values[0] if len(values) == 1 else values
        cv = self.cleaned_data.get("cv")
        if cv:
            raw["cv"] = cv.name
        return raw


# --- The lead list's filters ------------------------------------------------------------------

def member_choices(employer_ids: list[int]) -> list[tuple[str, str]]:
    """The users of these employers, for owner filters and assignment (one query)."""
    from django.contrib.auth import get_user_model

    users = (
        get_user_model().objects.filter(memberships__employer_id__in=employer_ids, is_active=True)
        .distinct().order_by("username").only("pk", "username", "first_name", "last_name")
    )
    return [(str(u.pk), display_name(u)) for u in users]


class LeadFilterForm(CheckedForm):
    """The list's filters, read from the query string; an invalid one is shown and ignored."""

    q = forms.CharField(required=False, max_length=200, label="Search",
                        widget=forms.TextInput(attrs={"placeholder": "Name, email, phone or skill", "type": "search"}))
    stage = forms.ChoiceField(required=False)
    source = forms.ChoiceField(required=False)
    current_country = forms.ChoiceField(choices=_country_choices("Any"), required=False, label="Country")
    citizenship = forms.ChoiceField(choices=_country_choices("Any"), required=False)
    opening = forms.ModelChoiceField(queryset=Opening.objects.none(), required=False, empty_label="Any")
    owner = forms.ChoiceField(required=False)
    move_timeline = forms.ChoiceField(choices=_choices(MoveTimeline, "Any"), required=False, label="Move timeline")
    needs_sponsorship = forms.TypedChoiceField(
        choices=[("", "Any"), ("yes", "Yes"), ("no", "No")], coerce=_yes_no, empty_value=None, required=False,
        label="Needs sponsorship",
    )
    created_from = BoundedDateField(required=False, label="Created from",
                                    widget=forms.DateInput(attrs={"type": "date"}))
    created_to = BoundedDateField(required=False, label="Created to", widget=forms.DateInput(attrs={"type": "date"}))
    duplicate = forms.BooleanField(required=False, label="Possible duplicates only")
    sort = forms.ChoiceField(required=False, choices=[("newest", "Newest first"), ("oldest", "Oldest first"),
                                                      ("active", "Recently active")])
    size = forms.TypedChoiceField(required=False, coerce=int, empty_value=50,
                                  choices=[("25", "25"), ("50", "50"), ("100", "100"), ("200", "200")],
                                  label="Per page")

    def __init__(self, data=None, *, employer_ids: list[int], owners: list[tuple[str, str]]) -> None:
        super().__init__(data)
        self.fields["stage"].choices = [("", "Any"), *Stage.choices]
        self.fields["source"].choices = [("", "Any"), *Source.choices]
        self.fields["owner"].choices = [("", "Anyone"), ("none", "Nobody"), *owners]
        self.fields["opening"].queryset = Opening.objects.filter(employer_id__in=employer_ids).order_by("title")
        for bound in self:
            if type(bound.field.widget) is forms.Select:
                bound.field.widget = FastSelect(choices=bound.field.widget.choices)
            widget = bound.field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "form-check-input"
            else:
                widget.attrs["class"] = "form-select form-select-sm" if isinstance(widget, forms.Select) \
                    else "form-control form-control-sm"

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid field is left out, and its error shown)."""
        self.is_valid()
        data = dict(getattr(self, "cleaned_data", {}))
        data.pop("sort", None)
        data.pop("size", None)
        return data

    @property
    def sort_order(self) -> str:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("sort") or "newest"

    @property
    def page_size(self) -> int:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("size") or 50


# --- Actions on one lead -----------------------------------------------------------------------

class MoveStageForm(CheckedForm):
    to_stage = forms.ChoiceField(label="Move to")
    reason = forms.CharField(required=False, max_length=2000, label="Reason",
                             help_text="Needed to move backwards or reopen a closed lead.",
                             widget=forms.TextInput())
    closed_reason = forms.ModelChoiceField(queryset=None, required=False, label="Closed because",
                                           help_text="Needed to close a lead (declined, withdrawn, unresponsive).")

    def __init__(self, *args, lead, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [(v, label) for v, label in Stage.choices if v != lead.stage]
        self.fields["closed_reason"].queryset = ClosedReason.objects.filter(
            employer_id=lead.employer_id, active=True
        ).order_by("position", "label")


class AssignForm(CheckedForm):
    owner = forms.ChoiceField(required=False, label="Owner")

    def __init__(self, *args, owners: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Nobody"), *owners]


class NoteForm(CheckedForm):
    body = forms.CharField(max_length=20_000, label="Note", widget=forms.Textarea(attrs={"rows": 3}))


class ActivityForm(CheckedForm):
    kind = forms.ChoiceField(
        choices=[(k, label) for k, label in ActivityKind.choices if k != ActivityKind.SYSTEM], label="What"
    )
    summary = forms.CharField(max_length=300, label="Summary")
    details = forms.CharField(max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class LeadEditForm(LeadProfileForm):
    """A recruiter corrects the profile; the email is the lead's identity and stays as it is."""

    marketing_opt_in = forms.BooleanField(required=False, label="Marketing opt-in")
    PROFILE_FIELDS = (*LeadProfileForm.PROFILE_FIELDS, "marketing_opt_in")

    def __init__(self, *args, lead, **kwargs) -> None:
        if "initial" not in kwargs and not args:
            kwargs["initial"] = self.initial_from(lead)
        super().__init__(*args, openings=Opening.objects.filter(employer_id=lead.employer_id), **kwargs)
        del self.fields["email"]
        del self.fields["citizenships"]
        del self.fields["skills"]
        self.fields["name"].label = "Name"

    @classmethod
    def initial_from(cls, lead) -> dict[str, Any]:
        def as_choice(value):
            return {True: "yes", False: "no"}.get(value, "")

        initial = {name: getattr(lead, name) for name in cls.PROFILE_FIELDS if hasattr(lead, name)}
        initial.update(
            name=lead.name, current_country=lead.current_country.code if lead.current_country else "",
            needs_sponsorship=as_choice(lead.needs_sponsorship),
            partner_needs_work_rights=as_choice(lead.partner_needs_work_rights),
            opening=lead.opening_id,
        )
        return initial


class ManualLeadForm(LeadProfileForm):
    """A recruiter adds a lead from a phone call, a LinkedIn message or an event."""

    employer = forms.ChoiceField(label="Employer")
    how = forms.CharField(max_length=300, required=False, label="How they got in touch",
                          help_text="For example: phone call, LinkedIn message, job fair in Austin.")

    def __init__(self, *args, employers, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.employers = {str(e.pk): e for e in employers}
        self.fields["employer"].choices = [(str(e.pk), e.name) for e in employers]
        self.fields["opening"].queryset = Opening.objects.filter(
            employer_id__in=[e.pk for e in employers], status=Opening.Status.OPEN
        ).order_by("title")
        if len(employers) == 1:
            self.fields["employer"].widget = forms.HiddenInput()
            self.fields["employer"].initial = str(employers[0].pk)
        self.order_fields(["employer", "name", "email", "how"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        employer = self.employers.get(data.get("employer") or "")
        opening = data.get("opening")
        if employer and opening and opening.employer_id != employer.pk:
            self.add_error("opening", "Choose an opening of this employer.")
        data["employer_obj"] = employer
        return data


# --- Bulk actions on a selection of the list ------------------------------------------------------

class LeadIdsField(forms.Field):
    """The ticked leads: whole numbers, at most 500."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) > 500:
            raise ValidationError("Select at most 500 leads at a time.")
        try:
            return sorted({int(v) for v in values})
        except (TypeError, ValueError):
            raise ValidationError("The selection is not valid.") from None


class BulkActionForm(CheckedForm):
    ACTIONS = [("assign", "Assign owner"), ("move", "Move stage"), ("pause", "Pause follow-ups"),
               ("export", "Export CSV")]

    action = forms.ChoiceField(choices=ACTIONS)
    ids = LeadIdsField(error_messages={"required": "Tick at least one lead."})
    owner = forms.ChoiceField(required=False)
    to_stage = forms.ChoiceField(required=False, choices=[("", "—"), *Stage.choices], label="Stage")
    reason = forms.CharField(required=False, max_length=2000)
    closed_reason = forms.ModelChoiceField(queryset=ClosedReason.objects.none(), required=False)

    def __init__(self, *args, employer_ids: list[int], owners: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Nobody"), *owners]
        self.fields["closed_reason"].queryset = ClosedReason.objects.filter(
            employer_id__in=employer_ids, active=True
        ).order_by("position", "label")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "move" and not data.get("to_stage"):
            self.add_error("to_stage", "Choose the stage to move the leads to.")
        return data

