"""The JSON API for other systems (a careers site, an ATS): POST /api/v1/inquiries and GET /api/v1/openings.

A bearer key names the employer; nothing in the body can point at another one. Every answer
is JSON, and bad input of any kind is a 4xx with the reason, never a 500.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from leads import profile
from leads.models import ApiKey, Opening, Source
from leads.profile import Kind
from leads.ratelimit import client_ip, client_ip_or_none, rate_limit_hit
from leads.services.api_keys import api_key_authenticate
from leads.services.consent import shown_for_channel
from leads.services.intake import inquiry_receive

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
_MAX_TEXT = 10_000
_MAX_MESSAGE = 50_000
_MAX_LIST = 50
_MAX_ID = 2**63 - 1

# What a body may hold, by JSON type: the profile fields as leads/profile.py declares them, and
# the inquiry's own. A file (the CV) cannot come through JSON.
_JSON_TYPES = {Kind.INTEGER: "integer", Kind.OPENING: "integer", Kind.YES_NO: "boolean", Kind.FLAG: "boolean"}


def _profile_of_type(json_type: str) -> set[str]:
    return {name for name in profile.API_FIELDS if _JSON_TYPES.get(profile.BY_NAME[name].kind, "string") == json_type}


_STRINGS = frozenset({"email", "name", "subject", "message", "received_at", "legal_basis",
                      *_profile_of_type("string")})
_INTEGERS = frozenset(_profile_of_type("integer"))
_BOOLEANS = frozenset({"privacy_accepted", *_profile_of_type("boolean")})
_STRING_LISTS = frozenset({"citizenships", "skills"})
_KNOWN = _STRINGS | _INTEGERS | _BOOLEANS | _STRING_LISTS
_API_PROFILE_FIELDS = frozenset(profile.API_FIELDS)
_TYPE_NAMES = {**dict.fromkeys(_STRINGS, "a string"), **dict.fromkeys(_INTEGERS, "a whole number"),
               **dict.fromkeys(_BOOLEANS, "true or false"), **dict.fromkeys(_STRING_LISTS, "a list of strings")}

Errors = dict[str, list[str]]


# --- answers ------------------------------------------------------------------------------


def _errors(status: int, errors: Errors, **headers: str) -> JsonResponse:
    response = JsonResponse({"errors": errors}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _not_allowed(allowed: str) -> JsonResponse:
    return _errors(405, {"method": [f"Use {allowed}."]}, Allow=allowed)


def api_view(method: str) -> Callable:
    """The checks every endpoint shares: the method, the key, and the key's rate."""

    def decorator(view: Callable[[HttpRequest, ApiKey], JsonResponse]) -> Callable:
        @csrf_exempt  # token auth: no cookies, so no cross-site request to forge
        @wraps(view)
        def wrapper(request: HttpRequest) -> JsonResponse:
            if request.method != method:
                return _not_allowed(method)
            key = api_key_authenticate(_bearer(request))
            if key is None:
                # Guessing keys is limited per client address (behind a trusted proxy: the
                # forwarded one, so that one guesser never locks out everybody else).
                failures = settings.RELOCATE_API_AUTH_FAILURE_RATE
                if not rate_limit_hit("api-auth", client_ip(request), limit=failures, window=60):
                    return _errors(429, {"rate": [f"More than {failures} failed key checks a minute from "
                                                  "this address; slow down."]}, Retry_After="60")
                return _errors(401, {"authorization": ["Send a valid API key: Authorization: Bearer rk_…"]},
                               WWW_Authenticate='Bearer realm="relocate"')
            limit = settings.RELOCATE_API_RATE
            if not rate_limit_hit("api", str(key.pk), limit=limit, window=60):
                return _errors(429, {"rate": [f"More than {limit} calls a minute with this key; slow down."]},
                               Retry_After="60")
            return view(request, key)

        return wrapper

    return decorator


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# --- endpoints ----------------------------------------------------------------------------


@api_view("POST")
def inquiries(request: HttpRequest, key: ApiKey) -> JsonResponse:
    data, refusal = _read_json(request)
    if refusal is not None:
        return refusal
    kwargs, errors = _inquiry_arguments(data)
    if errors:
        return _errors(400, errors)
    kwargs["subject"] = kwargs["subject"] or f"Inquiry via the API ({key.name})"
    raw = {k: v for k, v in data.items() if k != "message"}
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
        return _errors(400, _message_dict(exc))
    except OperationalError:
        # A locked or unreachable database: nothing was stored, and the caller may retry.
        logger.exception("API intake could not reach the database")
        return _errors(503, {"service": ["Temporarily unavailable; nothing was stored. Retry shortly."]},
                       Retry_After="30")
    return JsonResponse({"lead": result.lead.pk, "inquiry": result.inquiry.pk, "created": result.created},
                        status=201)


@api_view("GET")
def openings(request: HttpRequest, key: ApiKey) -> JsonResponse:
    rows = (Opening.objects.filter(employer_id=key.employer_id, status=Opening.Status.OPEN)
            .order_by("title", "id").values("id", "title", "team", "location", "visa_sponsorship"))
    return JsonResponse({"openings": list(rows)})


# --- reading the body ---------------------------------------------------------------------


def _read_json(request: HttpRequest) -> tuple[dict[str, Any], JsonResponse | None]:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return {}, _errors(413, {"body": [f"The body can be at most {MAX_BODY_BYTES // 1024} KB."]})
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type != "application/json" or charset not in {"utf-8", "utf8"}:
        return {}, _errors(415, {"content_type": ["Send Content-Type: application/json (UTF-8)."]})
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return {}, _errors(413, {"body": [f"The body can be at most {MAX_BODY_BYTES // 1024} KB."]})
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}, _errors(400, {"body": ["The body is not valid JSON."]})
    if not isinstance(data, dict):
        return {}, _errors(400, {"body": ["Send one JSON object, for example {\"email\": …, \"name\": …}."]})
    try:
        encodable = _encodable(data)
    except RecursionError:
        encodable = False
    if not encodable:
        # JSON may spell half a UTF-16 pair ("\udfff"); no database or email can hold it.
        return {}, _errors(400, {"body": ["The body holds text that is not valid Unicode (a lone surrogate)."]})
    return data, None


def _encodable(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _inquiry_arguments(data: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    """The keyword arguments of inquiry_receive from a JSON object, or the errors per field."""
    errors: Errors = {}
    # A few names are enough to show the mistake; a body of a thousand keys gets no echo of each.
    for field in sorted(set(data) - _KNOWN)[:20]:
        errors[field[:100]] = ["Unknown field."]
    values = {k: v for k, v in data.items() if k in _KNOWN and v is not None}
    for field, value in values.items():
        problem = _type_problem(field, value)
        if problem:
            errors[field] = [problem]
    if not isinstance(data.get("email"), str) or not data["email"].strip():
        errors.setdefault("email", ["This field is required."])
    if errors:
        return {}, errors
    fields = {k: v for k, v in values.items() if k in _API_PROFILE_FIELDS}
    if "current_country" in fields:
        fields["current_country"] = fields["current_country"].strip().upper()
    if "earliest_move_date" in fields:
        fields["earliest_move_date"] = _date(fields["earliest_move_date"], errors)
    received_at = _received_at(values.get("received_at"), errors)
    if errors:
        return {}, errors
    return {
        "email": values["email"],
        "name": values.get("name", ""),
        "fields": fields,
        "citizenships": values.get("citizenships", []),
        "skills": values.get("skills", []),
        "privacy_accepted": values.get("privacy_accepted", False),
        "legal_basis": values.get("legal_basis", ""),
        "subject": values.get("subject", "").strip(),
        "body": values.get("message", ""),
        "received_at": received_at,
    }, {}


def _type_problem(field: str, value: Any) -> str:
    if not _type_ok(field, value):
        return f"Must be {_TYPE_NAMES[field]}."
    if field in _STRING_LISTS and len(value) > _MAX_LIST:
        return f"At most {_MAX_LIST} items."
    texts = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    if any("\x00" in text for text in texts):
        # PostgreSQL refuses NUL in text (and in JSON): refuse it here, not with a 500 there.
        return "Must not contain NUL characters."
    limit = {"message": _MAX_MESSAGE, "subject": 300, "name": 200}.get(field, _MAX_TEXT)
    if isinstance(value, str) and len(value) > limit:
        return f"At most {limit:,} characters."
    if field == "profile_url" and not profile.url_splits(value):
        return "Enter a valid URL."
    return ""


def _type_ok(field: str, value: Any) -> bool:
    if field in _STRINGS:
        return isinstance(value, str)
    if field in _INTEGERS:
        # bool is an int in Python, never a number in an API.
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_ID
    if field in _BOOLEANS:
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, str) and len(v) <= 100 for v in value)


def _date(value: str, errors: Errors) -> dt.date | None:
    try:
        parsed = parse_date(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        errors["earliest_move_date"] = ["Enter a date as YYYY-MM-DD."]
    return parsed


def _received_at(value: str | None, errors: Errors) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        errors["received_at"] = ["Enter an ISO 8601 date and time, for example 2026-11-09T03:00:00Z."]
    elif timezone.is_naive(parsed):
        errors["received_at"] = ["Give the time zone too, for example 2026-11-09T03:00:00Z or …+13:00."]
    elif parsed > timezone.now() + dt.timedelta(minutes=5):
        errors["received_at"] = ["An inquiry cannot be received in the future."]
    return parsed


def _message_dict(exc: ValidationError) -> Errors:
    if hasattr(exc, "error_dict"):
        return {field: list(messages) for field, messages in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}
