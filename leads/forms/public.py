"""The public inquiry form at /apply/<slug>/ and the signed token that times its filling in."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
import uuid
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Fieldset, Layout, Submit
from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.forms.utils import pretty_name
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language, gettext, gettext_lazy

from leads import profile
from leads.forms.profile import APPLICANT, ProfileFormBase, profile_fields, profile_form_class
from leads.forms.uploads import clean_cv_upload
from leads.forms.widgets import FastSelect, FastSelectMultiple
from leads.profile import Kind
from leads.services.consent import DEFAULT_INQUIRY_WORDING, DEFAULT_NEWS_WORDING, ConsentShown
from leads.services.intake import check_profile

_STARTED_SALT = "relocate.public-form.started"
_STARTED_MAX_AGE = 86_400
_CV_KEPT_SALT = "relocate.public-form.cv-kept"

_PublicProfileForm = profile_form_class(
    "PublicProfileForm", ProfileFormBase,
    profile_fields(APPLICANT, lambda spec: (spec.from_inquiry and spec.section in ("about", "role", "move", "consent"))
                   or (spec.from_inquiry and spec.kind is Kind.HIDDEN)),
    "Every declared field an inquiry may set, labelled for the person applying.",
)


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


class PublicInquiryForm(_PublicProfileForm):
    """What a person fills in at /apply/<slug>/; honeypot and fill time keep simple bots out.

    It needs no database: the openings come from the employer's cached snapshot, and every
    rule of the intake service that can be checked without the database is checked here, so a
    submission accepted now is one the worker can store.
    """

    opening = forms.TypedChoiceField(coerce=int, empty_value=None, required=False,
                                     label=gettext_lazy("Opening of interest"))
    privacy_accepted = forms.BooleanField(
        required=True, label=DEFAULT_INQUIRY_WORDING,
        error_messages={"required": gettext_lazy("Please accept the privacy terms so that we can store your inquiry.")},
    )
    # Honeypot: hidden from people, filled by form-filling bots.
    website = forms.CharField(required=False, max_length=200, label=gettext_lazy("Leave this field empty"))
    started = forms.CharField(widget=forms.HiddenInput, max_length=200)
    # A CV that passed its checks on a round that had other errors: stored, and signed here, so
    # that the person need not choose the file again (a browser cannot keep it in the field).
    cv_kept = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)

    # Not kept in the inquiry's raw fields.
    NOT_RAW = frozenset({"csrfmiddlewaretoken", "website", "started", "cv_kept"})
    # Long lists: rendered by string joining, and searchable where JavaScript runs.
    SEARCHABLE = {
        "current_country": gettext_lazy("Type to search countries."),
        "citizenships": gettext_lazy("Type to search; choose every country whose passport you hold."),
        "time_zone": gettext_lazy("Type a city, e.g. Chicago. Leave empty to use your country's."),
    }

    def __init__(self, *args, openings: tuple[tuple[int, str], ...] = (), privacy_policy_url: str = "",
                 consent: ConsentShown | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.refused = False
        self.cv_is_kept = False
        self._translate_declared()
        # Each consent's wording is shown exactly as the policy version words it (and stored so
        # with the consent, as shown: translated when it is our default wording; an employer's
        # own wording is theirs and shown as they wrote it); the link to the policy comes after it.
        self.consent = _translated_consent(consent or ConsentShown(None, DEFAULT_INQUIRY_WORDING,
                                                                   DEFAULT_NEWS_WORDING))
        if privacy_policy_url:
            self.fields["privacy_accepted"].label = format_html(
                '{} (<a href="{}" target="_blank" rel="noopener">{}</a>)',
                self.consent.inquiry_wording, privacy_policy_url, gettext("privacy policy"),
            )
        else:
            self.fields["privacy_accepted"].label = self.consent.inquiry_wording
        self.fields["marketing_opt_in"].label = self.consent.news_wording
        self.fields["opening"].choices = [("", gettext("Any suitable role")), *openings]
        self.fields["started"].error_messages["required"] = gettext("The form was incomplete. Please try again.")
        for name, js_help in self.SEARCHABLE.items():
            field = self.fields[name]
            widget_class = FastSelectMultiple if name == "citizenships" else FastSelect
            field.widget = widget_class(
                attrs={"data-searchable": "true", "data-js-help": str(js_help),
                       "data-placeholder": gettext("Type to search")}, choices=field.choices
            )
        self.helper = self._helper()

    def _translate_declared(self) -> None:
        """Labels, help texts and choices come from the declaration (leads/profile.py) in
        English; here they are put in the page's language, as the form is built.
        ``leads/i18n_strings.py`` puts each of them in the catalogues."""
        for name, field in self.fields.items():
            if field.widget.is_hidden:
                continue
            field.label = gettext(str(field.label)) if field.label else gettext(pretty_name(name))
            if field.help_text:
                field.help_text = gettext(str(field.help_text))
            # Only short lists written here: countries and zones are callables, named by their own library.
            if isinstance(field, forms.ChoiceField) and isinstance(field.choices, list) and name != "opening":
                field.choices = [(value, gettext(str(label))) for value, label in field.choices]

    def add_service_errors(self, exc: ValidationError) -> None:
        # The intake's own rules word their errors in English (leads/profile.py): translated here.
        if hasattr(exc, "error_dict"):
            exc = ValidationError({field: [gettext(m) for m in messages]
                                   for field, messages in exc.message_dict.items()})
        else:
            exc = ValidationError([gettext(m) for m in exc.messages])
        super().add_service_errors(exc)

    @staticmethod
    def _helper() -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        about = ["name", "email", *profile.public_fields("about")]
        about.insert(about.index("current_city") + 1, "citizenships")
        role = list(profile.public_fields("role"))
        role.insert(role.index("years_experience") + 1, "skills")
        hidden = [spec.name for spec in profile.FIELDS if spec.from_inquiry and spec.kind is Kind.HIDDEN]
        helper.layout = Layout(
            Fieldset(gettext("About you"), *about),
            Fieldset(gettext("The role"), *role),
            Fieldset(gettext("Your move"), *profile.public_fields("move")),
            Fieldset(gettext("Consent"), "privacy_accepted", *profile.public_fields("consent")),
            Div("website", css_class="d-none", aria_hidden="true"),
            "started", "cv_kept", *hidden,
            # At the end of the reading line, where the eye finishes the form: on the right in
            # left-to-right languages, on the left in Arabic (flex-end follows the direction).
            Div(Submit("submit", gettext("Send my inquiry"), css_class="btn-lg"),
                css_class="d-flex justify-content-end"),
        )
        return helper

    def clean_cv(self) -> UploadedFile | None:
        return clean_cv_upload(self.cleaned_data.get("cv"))

    def clean_cv_kept(self) -> str:
        """The stored name of a CV kept from an earlier round, or "" (a forged value is ignored)."""
        token = self.cleaned_data.get("cv_kept") or ""
        if not token:
            return ""
        try:
            name = str(signing.loads(token, salt=_CV_KEPT_SALT, max_age=_STARTED_MAX_AGE))
        except signing.BadSignature:
            return ""
        self.cv_is_kept = True
        return name

    def keep_cv(self) -> None:
        """On a round with errors, store a CV that passed its own checks and remember it signed."""
        upload = self.cleaned_data.get("cv") if hasattr(self, "cleaned_data") else None
        if not upload or "cv" in self.errors:
            return
        extension = (upload.name or "").rsplit(".", 1)[-1].lower()
        name = default_storage.save(f"cvs/kept/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{extension}", upload)
        self.data = self.data.copy()
        self.data["cv_kept"] = signing.dumps(name, salt=_CV_KEPT_SALT)
        self.cleaned_data["cv_kept"] = name
        self.cv_is_kept = True

    @property
    def kept_cv_name(self) -> str:
        """A CV stored on an earlier round and not replaced by a new file now."""
        data = getattr(self, "cleaned_data", {})
        return "" if data.get("cv") else data.get("cv_kept") or ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("website"):
            self.refused = True
            raise ValidationError(gettext("Your inquiry could not be accepted. Please leave the hidden field empty."))
        try:
            self._check_fill_time(data.get("started"))
        except ValidationError as exc:
            # Said once, at the top, beside the fields' own problems (all in one round).
            self.add_error(None, exc)
        self._check_as_intake_will()
        return data

    def _check_as_intake_will(self) -> None:
        """The intake service's own rules (phone numbers, URLs, the model's limits), now: once
        the person has seen the thank-you page there is nobody left to show an error to. Checked
        with the other fields' errors, so that every problem shows in one round."""
        fields = {k: v for k, v in self.lead_fields().items()
                  if k not in ("cv", "opening") and k not in self.errors and k in self.cleaned_data}
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
            raise ValidationError(gettext("The form has expired. Please fill it in again.")) from None
        if time.time() - started < settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS:
            raise ValidationError(gettext("That was very quick. Please check your answers and send the form again."))

    def submission_data(self) -> dict[str, Any]:
        """What the intake worker passes to inquiry_receive (the CV travels as a file name)."""
        data = self.cleaned_data
        fields = {k: v for k, v in self.lead_fields().items() if k != "cv"}
        if "language" in profile.INQUIRY_FIELDS and not fields.get("language"):
            # The language the person read the form in: the emails to them use it.
            fields["language"] = get_language()
        return {
            "email": data["email"], "name": data["name"],
            "fields": fields,
            "citizenships": list(data.get("citizenships") or []), "skills": self.skill_names(),
            "subject": "Inquiry from the web form", "body": data.get("motivation", ""),
            "consent": self.consent.as_json(),
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


def _translated_consent(consent: ConsentShown) -> ConsentShown:
    def shown(wording: str) -> str:
        # Only our default wording: an employer's own is shown (and recorded) as they wrote it.
        return gettext(wording) if wording in (DEFAULT_INQUIRY_WORDING, DEFAULT_NEWS_WORDING) else wording

    return dataclasses.replace(consent, inquiry_wording=shown(consent.inquiry_wording),
                               news_wording=shown(consent.news_wording))
