"""The lead's profile, declared once.

Each field of what a person tells us (and what a recruiter corrects) is declared here with
its kind, its labels for recruiters and for applicants, and what each part of Relocate may do
with it. Every surface derives its fields from this declaration: the public form and the
recruiter forms (``leads.forms.profile``), the intake service's accepted fields and its repeat
policy, the recruiter's edit service, the API's JSON types, the CSV import and export columns,
the merge, the erasure, the person's data export and the record of processing
(``purpose``, ``visible_to``). One ``clean_profile`` normalises values
for every channel and for admin.

Adding a readiness question is one ``Field(...)`` below plus the model field and its
migration; ``tests/test_profile.py`` proves that every derived surface picks a new one up.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_date

from leads.models import Language, Lead, LegalBasis, MoveTimeline, Opening, RelocatingWith, VisaPathway
from leads.normalise import normalise_phone, normalise_profile_url


class Kind(enum.StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    PHONE = "phone"
    URL = "url"
    COUNTRY = "country"
    ZONE = "zone"
    OPENING = "opening"
    INTEGER = "integer"
    YES_NO = "yes_no"  # True, False, or not known
    CHOICE = "choice"
    DATE = "date"
    FLAG = "flag"  # True or False
    FILE = "file"
    HIDDEN = "hidden"  # campaign parameters carried by the form's address


class Repeat(enum.StrEnum):
    """What a repeat inquiry (a second message from a known email) does with the field."""

    REPLACE = "replace"  # the newer answer wins; the old value stays on the timeline, restorable
    PROPOSE = "propose"  # contact details: filled when empty, else a proposal the recruiter accepts
    FILL = "fill"  # filled only when empty
    KEEP = "keep"  # never changed by an inquiry (how the person first arrived)


# A section for what an inquiry sets without asking (the language the form was read in).
RECRUITER_ONLY = "recruiter"

INQUIRY_PURPOSE = "Handling the person's inquiry about a job and a move"
RECRUITERS_AND_ADMINS = "Recruiters and admins of the employer"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    label: str  # for recruiters
    question: str = ""  # for the person applying; the label when empty
    help: str = ""  # help text for the person applying
    choices: type[models.TextChoices] | None = None
    maximum: int | None = None  # integers
    input_length: int | None = None  # what a form accepts before normalising (a phone with spaces)
    # The public form's fieldset: "about", "role", "move", "consent"; RECRUITER_ONLY: on the
    # recruiters' forms, never asked on the public one; "" = on no form.
    section: str = ""
    editable: bool = True  # a recruiter may correct it
    from_inquiry: bool = True  # an inquiry (form, API, import, email) may set it
    repeat: Repeat = Repeat.REPLACE
    merge_fills: bool = True  # a merge fills the kept lead's blank from the other lead
    erased: bool = False  # cleared when the person's data is erased
    exported: bool = True  # in the recruiters' CSV export
    personal: bool = False  # personal data: in the person's own data download
    in_import: bool = True  # a CSV import column
    in_api: bool = True  # a field of the API's inquiry body
    # The record of processing (admin): why the employer holds a personal field, and who sees it.
    purpose: str = INQUIRY_PURPOSE
    visible_to: str = RECRUITERS_AND_ADMINS
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model_field(self) -> models.Field:
        return Lead._meta.get_field(self.name)

    @property
    def max_length(self) -> int | None:
        return self.input_length or getattr(self.model_field, "max_length", None)

    @property
    def applicant_label(self) -> str:
        return self.question or self.label

    @property
    def empty(self) -> Any:
        """The value the lead holds when nothing is known."""
        model_field = self.model_field
        if model_field.null:
            return None
        if model_field.has_default():
            return model_field.get_default()
        return ""


FIELDS: tuple[Field, ...] = (
    Field("phone", Kind.PHONE, "Phone", help="With the country code, for example +64 21 123 4567.", input_length=40,
          section="about", repeat=Repeat.PROPOSE, erased=True, personal=True,
          purpose="Contacting the person about their inquiry"),
    Field("current_country", Kind.COUNTRY, "Country", question="Country you live in", section="about",
          personal=True,
          purpose="Matching visa routes and the time to move; counted in the statistics"),
    Field("current_city", Kind.TEXT, "City", section="about", erased=True, personal=True,
          purpose="Arranging interviews and the move"),
    Field("time_zone", Kind.ZONE, "Time zone", question="Your time zone", help="Leave empty to use your country's.",
          section="about", exported=False, personal=True,
          purpose="Sending emails and booking calls at a sensible hour"),
    # Set by the channel, not asked: the language the public form was read in, the API body's or
    # the import's column, an inbound email's Content-Language. The newest inquiry's wins (the
    # language the person chose last is the one they read); the old one stays on the timeline,
    # restorable, and an inquiry that names none changes nothing.
    Field("language", Kind.CHOICE, "Language", question="Language of our emails to you", choices=Language,
          section=RECRUITER_ONLY, personal=True,
          purpose="Writing to the person in their language"),
    Field("profile_url", Kind.URL, "LinkedIn or portfolio URL", section="about", erased=True, personal=True,
          purpose="Assessing the person for an opening"),
    Field("opening", Kind.OPENING, "Opening", question="Opening of interest", section="role"),
    Field("role_of_interest", Kind.TEXT, "Role of interest", question="Role you are looking for", section="role",
          erased=True, personal=True,
          purpose="Matching the person to openings"),
    Field("years_experience", Kind.INTEGER, "Years of experience", maximum=70, section="role", personal=True,
          purpose="Assessing the person for an opening"),
    Field("needs_sponsorship", Kind.YES_NO, "Needs visa sponsorship", question="Do you need visa sponsorship?",
          section="move", personal=True,
          purpose="Planning the visa the move needs"),
    Field("visa_pathway", Kind.CHOICE, "Visa pathway", question="Visa pathway of interest", choices=VisaPathway,
          section="move", personal=True,
          purpose="Planning the visa the move needs"),
    Field("move_timeline", Kind.CHOICE, "Move timeline", question="When could you move?", choices=MoveTimeline,
          section="move", personal=True,
          purpose="Planning when the person could start"),
    Field("earliest_move_date", Kind.DATE, "Earliest move date", section="move", personal=True,
          purpose="Planning when the person could start"),
    Field("relocating_with", Kind.CHOICE, "Relocating", choices=RelocatingWith, section="move", personal=True,
          purpose="Planning the move and the support it needs"),
    Field("dependants", Kind.INTEGER, "Dependants", question="Number of dependants", maximum=20, section="move",
          merge_fills=False, personal=True,
          purpose="Planning the move and the support it needs"),
    Field("partner_needs_work_rights", Kind.YES_NO, "Partner needs work rights",
          question="Does your partner need work rights?", section="move", personal=True,
          purpose="Planning the visas of the person's family"),
    Field("credentials_to_recognise", Kind.LONG_TEXT, "Credentials needing recognition",
          question="Qualifications that need recognition", section="move", erased=True, personal=True,
          extra={"rows": 2},
          purpose="Planning the recognition of qualifications"),
    Field("motivation", Kind.LONG_TEXT, "Motivation", question="Why do you want to move?", section="move",
          erased=True, personal=True, extra={"rows": 4},
          purpose="Assessing the person for an opening"),
    Field("cv", Kind.FILE, "CV", question="CV (PDF, DOC or DOCX, up to 5 MB)", section="role", editable=False,
          erased=True, exported=False, personal=True, in_import=False, in_api=False,
          purpose="Assessing the person for an opening"),
    # The cached state of the person's news consent (leads/services/consent.py keeps it with the
    # Consent rows): not a recruiter's to tick.
    Field("marketing_opt_in", Kind.FLAG, "Marketing opt-in", question="Send me news about openings.",
          section="consent", editable=False, merge_fills=False, personal=True, in_import=False,
          purpose="Recording consent to news about other openings"),
    *(Field(f"utm_{part}", Kind.HIDDEN, f"Campaign {part}", editable=False, repeat=Repeat.KEEP,
            erased=part in ("term", "content"), exported=False)
      for part in ("source", "medium", "campaign", "term", "content")),
    Field("legal_basis", Kind.CHOICE, "Legal basis", choices=LegalBasis, from_inquiry=False, in_import=False,
          in_api=False),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}


def names(fields: Iterable[Field]) -> tuple[str, ...]:
    return tuple(f.name for f in fields)


# The lists every surface takes.
INQUIRY_FIELDS: frozenset[str] = frozenset(names(f for f in FIELDS if f.from_inquiry))
EDITABLE_FIELDS: tuple[str, ...] = names(f for f in FIELDS if f.editable)
MERGE_FIELDS: tuple[str, ...] = names(f for f in FIELDS if f.merge_fills)
ERASED_FIELDS: tuple[str, ...] = names(f for f in FIELDS if f.erased)
EXPORT_FIELDS: tuple[str, ...] = names(f for f in FIELDS if f.exported)
PERSONAL_FIELDS: tuple[str, ...] = names(f for f in FIELDS if f.personal)
IMPORT_FIELDS: tuple[str, ...] = names(f for f in FIELDS if f.from_inquiry and f.in_import)
API_FIELDS: tuple[str, ...] = names(f for f in FIELDS if f.from_inquiry and f.in_api)


def public_fields(section: str) -> tuple[str, ...]:
    return names(f for f in FIELDS if f.from_inquiry and f.section == section)


# --- one normaliser -----------------------------------------------------------------------------


def clean_profile(values: Mapping[str, Any], *, allowed: Iterable[str] | None = None,
                  keep_empty: bool = False) -> dict[str, Any]:
    """The profile values, normalised and checked with the model's own rules (choices, lengths,
    ranges). Needs no database: an opening is checked against its employer by the caller.

    ``allowed`` limits the field names (a TypeError names any other: a programming mistake,
    not bad input). Without ``keep_empty`` an empty value (None or "") means "not given" and is
    left out; with it, it becomes the field's empty value (a recruiter clearing a field).
    """
    allowed = frozenset(allowed if allowed is not None else BY_NAME)
    unknown = set(values) - allowed
    if unknown:
        raise TypeError(f"unknown lead profile fields: {', '.join(sorted(unknown))}")
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value == "":
            if keep_empty:
                cleaned[name] = BY_NAME[name].empty
            continue
        cleaned[name] = value
    # Every problem at once: a person corrects the form in one round, not one field a round.
    errors: dict[str, list[str]] = {}
    country = str(cleaned.get("current_country") or "")
    if cleaned.get("phone"):
        try:
            cleaned["phone"] = normalise_phone(str(cleaned["phone"]), country)
        except ValidationError as exc:
            errors["phone"] = exc.messages
            del cleaned["phone"]
    if cleaned.get("profile_url"):
        url = str(cleaned["profile_url"])
        if url_splits(url):
            cleaned["profile_url"] = normalise_profile_url(url)
        else:
            errors["profile_url"] = ["Enter a valid URL."]
            del cleaned["profile_url"]
    for name in ("current_city", "role_of_interest"):
        if isinstance(cleaned.get(name), str):
            cleaned[name] = " ".join(cleaned[name].split())
    if isinstance(cleaned.get("current_country"), str):
        cleaned["current_country"] = cleaned["current_country"].strip().upper()
    checked = {k: v for k, v in cleaned.items() if k not in ("opening", "cv")}
    probe = Lead(name="probe", email="probe@example.com", **checked)
    try:
        probe.full_clean(exclude=[f.name for f in Lead._meta.fields if f.name not in checked],
                         validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    opening = cleaned.get("opening")
    if opening is not None and not isinstance(opening, Opening | int):
        errors["opening"] = ["Choose an opening of this employer."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def url_splits(url: str) -> bool:
    try:
        urlsplit(url if "://" in url else f"https://{url}")
    except ValueError:  # an unbalanced IPv6 bracket, for one
        return False
    return True


# --- values as text (CSV cells) and as JSON (the timeline's old → new) ---------------------------

_YES = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


def parse_text(name: str, text: str) -> Any:
    """A profile value from what a person typed in a spreadsheet cell; ValueError says why not.

    Countries and openings are looked up by the import, which knows names and the employer."""
    spec = BY_NAME[name]
    text = text.strip()
    if spec.kind is Kind.CHOICE:
        wanted = text.lower()
        for value, label in spec.choices.choices:
            if wanted in {str(value).lower(), str(label).lower()}:
                return value
        raise ValueError(f"Choose one of: {', '.join(str(v) for v in spec.choices.values)}.")
    if spec.kind in (Kind.YES_NO, Kind.FLAG):
        if text.lower() not in _YES:
            raise ValueError("Enter yes or no (or true/false, 1/0).")
        return _YES[text.lower()]
    if spec.kind is Kind.INTEGER:
        try:
            number = float(text)
        except ValueError:
            number = -1.0
        if not (0 <= number <= 10_000 and number.is_integer()):
            raise ValueError("Enter a whole number.")
        return int(number)
    if spec.kind is Kind.DATE:
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is None:
            raise ValueError("Enter a date as YYYY-MM-DD.")
        return day
    if spec.kind is Kind.URL and not url_splits(text):
        raise ValueError("Enter a valid URL.")
    return text


def as_text(name: str, value: Any) -> str:
    """A profile value as a person reads it in a CSV cell or on the timeline."""
    spec = BY_NAME[name]
    if value is None or value == "":
        return ""
    if spec.kind in (Kind.YES_NO, Kind.FLAG):
        return "yes" if value else "no"
    if spec.kind is Kind.COUNTRY:
        return getattr(value, "code", value) or ""
    if spec.kind is Kind.OPENING:
        return value.title if isinstance(value, Opening) else str(value)
    if spec.kind is Kind.FILE:
        return getattr(value, "name", value) or ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def as_label(name: str, value: Any) -> str:
    """A profile value as a recruiter reads it on the timeline: a choice's label, a country's
    name; otherwise as in a CSV cell."""
    spec = BY_NAME[name]
    if spec.kind is Kind.CHOICE and value:
        return str(dict(spec.choices.choices).get(value, value))
    if spec.kind is Kind.COUNTRY and value:
        from django_countries import countries

        code = getattr(value, "code", value)
        return str(countries.name(code) or code)
    return as_text(name, value)


def as_json(name: str, value: Any) -> Any:
    """A profile value as the timeline stores it (JSON), read back by ``from_json``."""
    spec = BY_NAME[name]
    if value is None:
        return None
    if spec.kind is Kind.COUNTRY:
        return getattr(value, "code", value) or ""
    if spec.kind is Kind.OPENING:
        return value.pk if isinstance(value, Opening) else value
    if spec.kind is Kind.FILE:
        return getattr(value, "name", value) or ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def from_json(name: str, value: Any) -> Any:
    spec = BY_NAME[name]
    if value is None:
        return spec.empty
    if spec.kind is Kind.DATE:
        return dt.date.fromisoformat(value) if value else None
    return value


def held_about(lead: Lead) -> list[tuple[str, str]]:
    """The personal data of the profile as the person reads it (their my-data page): each
    declared personal field that holds a value, with its question and a readable value."""
    shown = []
    for name in PERSONAL_FIELDS:
        spec = BY_NAME[name]
        value = getattr(lead, name)
        if value in (None, "") or (spec.kind is Kind.FLAG and not value):
            continue
        if spec.kind is Kind.CHOICE:
            text = getattr(lead, f"get_{name}_display")()
        elif spec.kind is Kind.COUNTRY:
            text = value.name
        elif spec.kind is Kind.OPENING:
            text = value.title
        elif spec.kind is Kind.FILE:
            text = "a file you sent us"
        elif spec.kind is Kind.DATE:
            text = value.strftime("%-d %b %Y")
        else:
            text = as_text(name, value)
        shown.append((spec.applicant_label, text))
    return shown


def lead_value(lead: Lead, name: str) -> Any:
    """The lead's value of a field, as ``as_json`` takes it (the opening without a query)."""
    if BY_NAME[name].kind is Kind.OPENING:
        return lead.opening_id
    return getattr(lead, name)


def set_lead_value(lead: Lead, name: str, value: Any) -> None:
    if BY_NAME[name].kind is Kind.OPENING:
        lead.opening_id = value.pk if isinstance(value, Opening) else value
    else:
        setattr(lead, name, value)


__all__ = [
    "API_FIELDS",
    "BY_NAME",
    "EDITABLE_FIELDS",
    "ERASED_FIELDS",
    "EXPORT_FIELDS",
    "FIELDS",
    "IMPORT_FIELDS",
    "INQUIRY_FIELDS",
    "MERGE_FIELDS",
    "PERSONAL_FIELDS",
    "RECRUITER_ONLY",
    "Field",
    "Kind",
    "Repeat",
    "as_json",
    "as_label",
    "as_text",
    "clean_profile",
    "from_json",
    "lead_value",
    "parse_text",
    "public_fields",
    "set_lead_value",
    "url_splits",
]
