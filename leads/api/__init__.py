"""The JSON API at /api/v1/ (django-ninja): its OpenAPI document is /api/v1/openapi.json and
its interactive docs /api/v1/docs, served with the app's own static files. docs/api.md tells
integrators how to use it; leads/api/errors.py holds the one error shape."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError

from leads.api import inquiries, leads
from leads.api.errors import ApiError, pydantic_errors
from leads.api.gate import CheckedBodyParser
from leads.api.idempotency import Replayed, replay_response

api = NinjaAPI(
    title="Relocate API",
    version="1",
    description=(
        "Send inquiries, read and move leads, and follow the pipeline from another system. "
        "Authenticate with `Authorization: Bearer rk_…` (an employer admin creates keys in admin and "
        "chooses their scopes: intake, read, write). Every error is `{\"errors\": {\"field\": [\"message\"]}}`."
    ),
    urls_namespace="api",
    parser=CheckedBodyParser(),
    docs=Swagger(settings={"persistAuthorization": False, "tryItOutEnabled": False, "deepLinking": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("", inquiries.router)
api.add_router("", leads.router)


def error_response(status: int, errors: dict[str, list[str]], headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse({"errors": errors}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.errors, exc.headers)


@api.exception_handler(Replayed)
def _replayed(request: HttpRequest, exc: Replayed) -> HttpResponse:
    return replay_response(exc.record)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(400, pydantic_errors(exc.errors))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(401, {"authorization": ["Send a valid API key: Authorization: Bearer rk_…"]},
                          {"WWW-Authenticate": 'Bearer realm="relocate"'})


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, {"body" if exc.status_code == 400 else "request": [str(exc.message)]})


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, {"path": ["Not found."]})


__all__ = ["api", "error_response"]
