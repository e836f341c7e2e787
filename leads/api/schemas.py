"""The API's bodies and answers. The profile part of each is derived from the declaration in
leads/profile.py, so a field added there reaches the API's schema with its type and limits."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, StrictBool, StrictInt, create_model

from leads import profile
from leads.models import LegalBasis, Source, Stage, WebhookEvent
from leads.profile import Kind

_MAX_ID = 2**63 - 1
MAX_TEXT = 10_000
MAX_MESSAGE = 50_000
MAX_LIST = 50

Id = Annotated[StrictInt, Field(ge=1, le=_MAX_ID)]


class Strict(Schema):
    """A body: an unknown field is an error naming it, and nothing is coerced ("5" is no number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _choice(values: list[str]) -> Any:
    return Literal[(*values, "")]


def _profile_input(spec: profile.Field) -> tuple[Any, Any]:
    """The JSON type of one profile field in a body (null: not given)."""
    length = spec.max_length or MAX_TEXT
    extra: dict[str, Any] = {"description": spec.label}
    if spec.kind == Kind.INTEGER:
        return StrictInt | None, Field(None, ge=0, le=spec.maximum or 32_767, **extra)
    if spec.kind == Kind.OPENING:
        return StrictInt | None, Field(None, ge=1, le=_MAX_ID, description="The id of one of your openings.")
    if spec.kind in (Kind.YES_NO, Kind.FLAG):
        return StrictBool | None, Field(None, **extra)
    if spec.kind == Kind.CHOICE and spec.choices is not None:
        return _choice(spec.choices.values) | None, Field(None, **extra)
    if spec.kind == Kind.DATE:
        return str | None, Field(None, max_length=40, json_schema_extra={"format": "date"}, **extra)
    if spec.kind == Kind.COUNTRY:
        extra["description"] = f"{spec.label}: an ISO 3166 code such as NZ."
        extra["json_schema_extra"] = {"pattern": "^[A-Za-z]{2}$"}
    elif spec.kind == Kind.URL:
        extra["json_schema_extra"] = {"format": "uri"}
    return str | None, Field(None, max_length=length, **extra)


_INQUIRY_FIELDS: dict[str, tuple[Any, Any]] = {
    "email": (str, Field(..., max_length=254, description="The person's email address.",
                         json_schema_extra={"format": "email"})),
    "name": (str | None, Field(None, max_length=200)),
    "subject": (str | None, Field(None, max_length=300)),
    "message": (str | None, Field(None, max_length=MAX_MESSAGE, description="What the person wrote.")),
    "received_at": (str | None, Field(None, max_length=40, json_schema_extra={"format": "date-time"},
                                      description="When the person wrote, with its zone; default: now.")),
    "privacy_accepted": (StrictBool | None, Field(None, description="The person accepted your privacy terms.")),
    "legal_basis": (_choice(LegalBasis.values) | None, Field(None, description=(
        "Why you may hold the person's data; privacy_accepted makes it consent. Without one, nothing is sent."))),
    "citizenships": (list[Annotated[str, Field(max_length=100, json_schema_extra={"pattern": "^[A-Za-z]{2}$"})]]
                     | None, Field(None, max_length=MAX_LIST, description="ISO 3166 country codes.")),
    "skills": (list[Annotated[str, Field(max_length=100)]] | None, Field(None, max_length=MAX_LIST)),
    **{name: _profile_input(profile.BY_NAME[name]) for name in profile.API_FIELDS},
}

InquiryIn = create_model("InquiryIn", __base__=Strict, **_INQUIRY_FIELDS)
InquiryIn.__doc__ = "One inquiry: who wrote, what they said, and what they told you about their move."


class InquiryCreated(Schema):
    lead: int
    inquiry: int
    created: bool = Field(description="A new lead (false: the person was known and this joined their lead).")


class OpeningOut(Schema):
    id: int
    title: str
    team: str
    location: str
    visa_sponsorship: bool


class OpeningsOut(Schema):
    openings: list[OpeningOut]


# --- leads ------------------------------------------------------------------------------------


def _profile_output(spec: profile.Field) -> tuple[Any, Any]:
    model_field = spec.model_field
    nullable = model_field.null
    if spec.kind == Kind.FILE:
        return bool, Field(description=f"Whether a {spec.label} was sent (download it in the web UI).")
    base: Any = {
        Kind.INTEGER: int, Kind.OPENING: int, Kind.YES_NO: bool, Kind.FLAG: bool, Kind.DATE: dt.date,
    }.get(spec.kind, str)
    return (base | None if nullable or spec.kind == Kind.OPENING else base), Field(description=spec.label)


class OwnerOut(Schema):
    id: int
    name: str
    email: str


_LEAD_FIELDS: dict[str, tuple[Any, Any]] = {
    "id": (int, ...),
    "name": (str, ...),
    "email": (str, ...),
    "stage": (Literal[tuple(Stage.values)], ...),
    "furthest_stage": (str, Field(description="The furthest milestone the lead reached.")),
    "closed_reason": (str | None, ...),
    "source": (Literal[tuple(Source.values)], ...),
    "owner": (OwnerOut | None, ...),
    "citizenships": (list[str], ...),
    "skills": (list[str], ...),
    **{f.name: _profile_output(f) for f in profile.FIELDS},
    "created_at": (dt.datetime, ...),
    "updated_at": (dt.datetime, ...),
    "first_contacted_at": (dt.datetime | None, ...),
    "stage_changed_at": (dt.datetime, ...),
    "unsubscribed_at": (dt.datetime | None, ...),
    "erased_at": (dt.datetime | None, Field(description="Set once the person's data was erased.")),
}

LeadOut = create_model("LeadOut", __base__=Schema, **_LEAD_FIELDS)
LeadOut.__doc__ = "A lead: the person, their move, where they are in the pipeline."


class LeadPageOut(Schema):
    results: list[LeadOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class InquiryOut(Schema):
    id: int
    source: str
    received_at: dt.datetime
    subject: str
    message: str
    is_repeat: bool


class StageEventOut(Schema):
    id: int
    lead: int
    from_stage: str = Field(description="Empty for the lead's first stage.")
    to_stage: str
    at: dt.datetime
    recorded_at: dt.datetime
    by: Literal["recruiter", "api", "system"]
    reason: str
    closed_reason: str | None


class LeadDetailOut(LeadOut):
    inquiries: list[InquiryOut]
    stage_history: list[StageEventOut]


class StageMoveIn(Strict):
    stage: Literal[tuple(Stage.values)]
    reason: str = Field("", max_length=2000, description="Needed to move backwards or to reopen a closed lead.")
    closed_reason: str | None = Field(None, max_length=120, description=(
        "The label of one of your closed reasons; needed to close a lead (declined, withdrawn, unresponsive)."))


class NoteIn(Strict):
    body: str = Field(..., max_length=20_000)


class NoteOut(Schema):
    id: int
    lead: int
    body: str
    created_at: dt.datetime


class StageEventPageOut(Schema):
    results: list[StageEventOut]
    next_cursor: str = Field(description="Pass as ?cursor= next time; it stays the same while nothing is new.")


WEBHOOK_EVENTS = WebhookEvent.values
