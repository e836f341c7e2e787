"""One shape for every error the API answers: ``{"errors": {"<field or topic>": ["message", …]}}``.

The field is the body or query field the message is about; otherwise a topic: ``body``,
``authorization``, ``scope``, ``rate``, ``idempotency_key``, ``method``, ``path``, ``lead``,
``stage``, ``service``. Schema errors (a wrong type, an unknown field) are 400; a request the
pipeline's rules refuse is 422; a conflict with the current state 409.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema

Errors = dict[str, list[str]]


class ErrorOut(Schema):
    errors: dict[str, list[str]]


class ApiError(Exception):
    """Raised anywhere below a view: answered as the error shape with its status and headers."""

    def __init__(self, status: int, errors: Errors, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors
        self.headers = headers or {}


def refuse(status: int, topic: str, message: str, **headers: str) -> ApiError:
    return ApiError(status, {topic: [message]}, {k.replace("_", "-"): v for k, v in headers.items()})


# The statuses each kind of operation may answer, documented in the OpenAPI document.
COMMON = (401, 403, 429)
READ_ERRORS = (400, *COMMON)
WRITE_ERRORS = (400, *COMMON, 409, 413, 415, 422, 503)


def error_responses(*statuses: int) -> dict[int, Any]:
    return dict.fromkeys(statuses, ErrorOut)


# --- pydantic's errors, in the API's words ---------------------------------------------------

_TYPE_WORDS = {
    "string_type": "Must be a string.",
    "int_type": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "int_from_float": "Must be a whole number.",
    "bool_type": "Must be true or false.",
    "bool_parsing": "Must be true or false.",
    "list_type": "Must be a list.",
    "dict_type": "Must be a JSON object.",
    "model_type": "Must be a JSON object.",
    "model_attributes_type": "Must be a JSON object.",
    "extra_forbidden": "Unknown field.",
    "missing": "This field is required.",
    "string_unicode": "Must be valid Unicode text.",
}


def pydantic_errors(items: list[dict[str, Any]]) -> Errors:
    """ninja's list of pydantic errors as {field: [messages]}, at most 20 fields."""
    errors: Errors = {}
    for item in items:
        field = _field_of(item.get("loc", ()))
        message = _words(item)
        if field not in errors and len(errors) >= 20:
            continue
        messages = errors.setdefault(field, [])
        if message not in messages:
            messages.append(message)
    return errors or {"body": ["The request could not be read."]}


def _field_of(loc: tuple | list) -> str:
    # ("body", "payload", "skills", 3) → "skills"; ("query", "limit") → "limit";
    # ("body", "payload") (the whole body) → "body".
    names = [part for part in loc if isinstance(part, str)]
    if len(names) >= 3 and names[0] == "body":
        return names[2][:100]
    if names and names[0] == "body":
        return "body"
    return (names[-1] if names else "body")[:100]


def _words(item: dict[str, Any]) -> str:
    kind = item.get("type", "")
    ctx = item.get("ctx") or {}
    if kind in _TYPE_WORDS:
        if kind == "missing" and tuple(item.get("loc", ())) in {("body", "payload"), ("body",)}:
            return "Send one JSON object, for example {\"email\": …, \"name\": …}."
        return _TYPE_WORDS[kind]
    if kind == "string_too_long":
        return f"At most {ctx.get('max_length', 0):,} characters."
    if kind == "string_too_short":
        return "This field cannot be empty."
    if kind == "too_long":
        return f"At most {ctx.get('max_length', 0):,} items."
    if kind in {"greater_than_equal", "greater_than"}:
        return f"Must be at least {ctx.get('ge', ctx.get('gt'))}."
    if kind in {"less_than_equal", "less_than"}:
        return f"Must be at most {ctx.get('le', ctx.get('lt'))}."
    if kind in {"literal_error", "enum"}:
        return f"Choose one of: {ctx.get('expected', '')}."
    if kind == "value_error":
        # Our own validators raise ValueError("<the message>").
        return str(ctx.get("error") or item.get("msg", "")).removeprefix("Value error, ")
    return str(item.get("msg") or "Not a valid value.")[:300]
