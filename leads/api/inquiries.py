"""POST /inquiries (an inquiry from a careers site, a job board) and GET /openings."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from ninja import Router, Status

from leads import profile
from leads.api.errors import READ_ERRORS, WRITE_ERRORS, ApiError, Errors, error_responses, refuse
from leads.api.gate import IDEMPOTENT, KeyAuth
from leads.api.schemas import InquiryCreated, InquiryIn, OpeningsOut
from leads.models import ApiScope, Opening, Source
from leads.ratelimit import client_ip_or_none
from leads.services.consent import shown_for_channel
from leads.services.intake import inquiry_receive

logger = logging.getLogger(__name__)

router = Router(tags=["inquiries"])

_API_PROFILE_FIELDS = frozenset(profile.API_FIELDS)
_LARGEST_OFFSET = dt.timedelta(hours=14)


@router.post("/inquiries", url_name="inquiries", auth=KeyAuth(ApiScope.INTAKE),
             response={201: InquiryCreated, **error_responses(*WRITE_ERRORS)},
             summary="Record an inquiry", openapi_extra=IDEMPOTENT)
def inquiries(request: HttpRequest, payload: InquiryIn):
    """Creates the person's lead, or joins the lead of the person with that email. The person
    gets your acknowledgement and follow-ups when there is a legal basis (``privacy_accepted``
    or ``legal_basis``)."""
    key = request.auth
    data = payload.model_dump(exclude_none=True)
    kwargs = _inquiry_arguments(data)
    kwargs["subject"] = kwargs["subject"] or f"Inquiry via the API ({key.name})"
    raw = {k: v for k, v in request._api_json.items() if k != "message"}
    # The caller showed the person its own words; what we can vouch for is who said so.
    consent = None
    if kwargs["privacy_accepted"] or kwargs["fields"].get("marketing_opt_in"):
        consent = shown_for_channel(
            key.employer_id, at=kwargs["received_at"], inquiry_wording=f"accepted through the API by {key.name}",
            news_wording=f"news about openings accepted through the API by {key.name}",
        )
    try:
        result = inquiry_receive(employer=key.employer, channel=Source.API,
                                 raw_fields={**raw, "api_key": key.prefix},
                                 remote_addr=client_ip_or_none(request), consent_shown=consent, **kwargs)
    except ValidationError as exc:
        raise ApiError(400, message_dict(exc)) from None
    except OperationalError:
        # A locked or unreachable database: nothing was stored, and the caller may retry.
        logger.exception("API intake could not reach the database")
        raise refuse(503, "service", "Temporarily unavailable; nothing was stored. Retry shortly.",
                     Retry_After="30") from None
    return Status(201, {"lead": result.lead.pk, "inquiry": result.inquiry.pk, "created": result.created})


@router.get("/openings", url_name="openings", auth=KeyAuth(ApiScope.INTAKE, ApiScope.READ),
            response={200: OpeningsOut, **error_responses(*READ_ERRORS)}, summary="List the open openings")
def openings(request: HttpRequest):
    """The openings a person can ask about, with the ids ``opening`` takes."""
    rows = (Opening.objects.filter(employer_id=request.auth.employer_id, status=Opening.Status.OPEN)
            .order_by("title", "id").values("id", "title", "team", "location", "visa_sponsorship"))
    return {"openings": list(rows)}


# --- what the schema cannot check ---------------------------------------------------------------


def _inquiry_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of inquiry_receive, or ApiError(400) naming every field at fault."""
    errors: Errors = {}
    if "profile_url" in data and data["profile_url"] and not profile.url_splits(data["profile_url"]):
        errors.setdefault("profile_url", ["Enter a valid URL."])
    if not data["email"].strip():
        errors.setdefault("email", ["This field is required."])
    fields = {k: v for k, v in data.items() if k in _API_PROFILE_FIELDS}
    if "current_country" in fields:
        fields["current_country"] = fields["current_country"].strip().upper()
    if fields.get("earliest_move_date"):
        fields["earliest_move_date"] = _date(fields["earliest_move_date"], errors)
    received_at = _received_at(data.get("received_at"), errors)
    if errors:
        raise ApiError(400, errors)
    return {
        "email": data["email"],
        "name": data.get("name", ""),
        "fields": fields,
        "citizenships": data.get("citizenships", []),
        "skills": data.get("skills", []),
        "privacy_accepted": data.get("privacy_accepted", False),
        "legal_basis": data.get("legal_basis", ""),
        "subject": data.get("subject", "").strip(),
        "body": data.get("message", ""),
        "received_at": received_at,
    }


def _date(value: str, errors: Errors) -> dt.date | None:
    try:
        parsed = parse_date(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        errors.setdefault("earliest_move_date", ["Enter a date as YYYY-MM-DD."])
    return parsed


def parse_moment(value: str) -> tuple[dt.datetime | None, str]:
    """An ISO 8601 moment with its zone, or the reason it is not one."""
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        return None, "Enter an ISO 8601 date and time, for example 2026-11-09T03:00:00Z."
    if timezone.is_naive(parsed):
        return None, "Give the time zone too, for example 2026-11-09T03:00:00Z or …+13:00."
    if abs(parsed.utcoffset()) > _LARGEST_OFFSET:
        return None, "No time zone is more than 14 hours from UTC."
    try:
        # In UTC: the database stores no offset (PostgreSQL refuses those over ±15:59).
        return parsed.astimezone(dt.UTC), ""
    except OverflowError:
        return None, "Enter a date between the years 1 and 9999."


def _received_at(value: str | None, errors: Errors) -> dt.datetime | None:
    if value is None:
        return None
    parsed, problem = parse_moment(value)
    if not problem and parsed > timezone.now() + dt.timedelta(minutes=5):
        problem = "An inquiry cannot be received in the future."
    if problem:
        errors.setdefault("received_at", [problem])
    return parsed


def message_dict(exc: ValidationError) -> Errors:
    if hasattr(exc, "error_dict"):
        return {field: list(messages) for field, messages in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}
