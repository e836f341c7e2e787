"""What every call passes before its view: the key, its scope, its rate, the body, the
Idempotency-Key. Runs as ninja's auth callback, so it comes after the method check (405) and
before any parameter is read; a refusal raises ApiError (leads/api/errors.py)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.parser import Parser
from ninja.security import HttpBearer

from leads.api.errors import refuse
from leads.api.idempotency import idempotency_begin
from leads.models import ApiKey, ApiScope
from leads.ratelimit import client_ip, rate_limit_hit
from leads.services.api_keys import api_key_authenticate

MAX_BODY_BYTES = 256 * 1024

# Every POST documents the header that makes a retry safe (leads/api/idempotency.py).
IDEMPOTENT = {"parameters": [{
    "in": "header", "name": "Idempotency-Key", "required": False,
    "description": "Any unique string (a UUID): a retry with the same key and body gets the first answer "
                   "for 24 hours; the same key with another body is a 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}]}

_SCOPE_WORDS = {
    ApiScope.INTAKE: "send inquiries",
    ApiScope.READ: "read leads",
    ApiScope.WRITE: "change leads",
}


class KeyAuth(HttpBearer):
    """``Authorization: Bearer rk_…`` with any one of ``scopes``."""

    def __init__(self, *scopes: str) -> None:
        super().__init__()
        self.scopes = scopes

    def __call__(self, request: HttpRequest) -> ApiKey:
        key = api_key_authenticate(_bearer(request))
        if key is None:
            # Guessing keys is limited per client address (behind a trusted proxy: the
            # forwarded one, so that one guesser never locks out everybody else).
            failures = settings.RELOCATE_API_AUTH_FAILURE_RATE
            if not rate_limit_hit("api-auth", client_ip(request), limit=failures, window=60):
                raise refuse(429, "rate", f"More than {failures} failed key checks a minute from this address; "
                             "slow down.", Retry_After="60")
            raise refuse(401, "authorization", "Send a valid API key: Authorization: Bearer rk_…",
                         WWW_Authenticate='Bearer realm="relocate"')
        if not any(getattr(key, f"scope_{scope}") for scope in self.scopes):
            wanted = " or ".join(f"“{ApiScope(s).label.lower()}”" for s in self.scopes)
            raise refuse(403, "scope", f"This key may not {_SCOPE_WORDS[self.scopes[0]]}: an employer admin can "
                         f"give it the {wanted} scope in admin.")
        limit = settings.RELOCATE_API_RATE
        if not rate_limit_hit("api", str(key.pk), limit=limit, window=60):
            raise refuse(429, "rate", f"More than {limit} calls a minute with this key; slow down.", Retry_After="60")
        if request.method == "POST":
            request._api_json = json_body(request)
            idempotency_begin(request, key)
        return key

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:  # pragma: no cover - __call__ does it
        return api_key_authenticate(token)


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# --- the body ---------------------------------------------------------------------------------


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as one JSON object of valid Unicode, or the reason it is not (413, 415, 400)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    too_big = f"The body can be at most {MAX_BODY_BYTES // 1024} KB."
    if length > MAX_BODY_BYTES:
        raise refuse(413, "body", too_big)
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type != "application/json" or charset not in {"utf-8", "utf8"}:
        raise refuse(415, "content_type", "Send Content-Type: application/json (UTF-8).")
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise refuse(413, "body", too_big)
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise refuse(400, "body", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise refuse(400, "body", "Send one JSON object, for example {\"email\": …, \"name\": …}.")
    try:
        encodable = _encodable(data)
    except RecursionError:
        encodable = False
    if not encodable:
        # JSON may spell half a UTF-16 pair ("\udfff"); no database or email can hold it.
        raise refuse(400, "body", "The body holds text that is not valid Unicode (a lone surrogate).")
    nul = _nul_field(data)
    if nul is not None:
        # PostgreSQL refuses NUL in text (and in JSON): refuse it here, not with a 500 there.
        raise refuse(400, nul[:100] or "body", "Must not contain NUL characters.")
    return data


def _nul_field(data: dict[str, Any]) -> str | None:
    """The top-level field whose text (or key) holds a NUL character, if any."""
    for key, value in data.items():
        if "\x00" in key or _holds_nul(value):
            return key.replace("\x00", "")
    return None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


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


class CheckedBodyParser(Parser):
    """ninja reads the body the gate has already checked and decoded."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        checked = getattr(request, "_api_json", None)
        return checked if checked is not None else json_body(request)
