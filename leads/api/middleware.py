"""For every answer under /api/: the error shape even where Django answers (an unknown path,
a method the path does not take, input refused before the API reads it, a server error), and the
stored answer of a request that carried an Idempotency-Key."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

from leads.api.idempotency import idempotency_finish

PREFIX = "/api/"
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        response = self.get_response(request)
        idempotency_finish(request, response)
        if response.status_code >= 400 and not _is_json(response):
            response = _as_json(response)
        response.setdefault("Cache-Control", "no-store")
        return response


def _is_json(response: HttpResponse) -> bool:
    if not response.get("Content-Type", "").startswith("application/json") or response.streaming:
        return False
    try:
        return isinstance(json.loads(response.content or b"null"), dict)
    except ValueError:
        return False


def _as_json(response: HttpResponse) -> JsonResponse:
    status = response.status_code
    if status == 405:
        allowed = response.get("Allow", "")
        errors = {"method": [f"Use {allowed}." if allowed else "This method is not allowed here."]}
    elif status == 404:
        errors = {"path": ["No such endpoint; the OpenAPI document is /api/v1/openapi.json."]}
    elif status >= 500:
        # The details are in the server's log, never in the answer.
        errors = {"service": ["Something went wrong on our side; nothing may have been stored. Retry later."]}
    else:
        errors = {"request": [_reason(response) or HTTPStatus(status).phrase]}
    answer = JsonResponse({"errors": errors}, status=status)
    for name in _KEPT_HEADERS:
        if name in response:
            answer[name] = response[name]
    return answer


def _reason(response: HttpResponse) -> str:
    """The one-line reason of our own plain-text refusals (InputCheckMiddleware)."""
    if response.streaming or not response.get("Content-Type", "").startswith("text/plain"):
        return ""
    return response.content.decode("utf-8", "replace").strip()[:300]
