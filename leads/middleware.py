"""Headers every response carries: what the browser may use, and what it must not keep."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.datastructures import MultiValueDict

from leads import i18n

# Pages without personal data, which browsers and proxies may keep as usual: the public form
# (its CSRF token makes it per-person already, and Vary: Cookie says so), static files, health.
_CACHEABLE_PREFIXES = ("/apply/", "/static/", "/healthz")


class PrivacyHeadersMiddleware:
    """Permissions-Policy on every response; ``Cache-Control: no-store`` on everything that can
    hold personal data (recruiter pages, lists, exports, admin, my-data and unsubscribe pages),
    so that a shared computer's back button or disk cache does not keep a lead's details."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if not request.path.startswith(_CACHEABLE_PREFIXES):
            patch_cache_control(response, no_store=True, private=True)
        return response


class LanguageMiddleware:
    """The language of every page (docs/languages.md), in place of Django's LocaleMiddleware,
    which knows neither the recruiters' two languages nor an employer's own list.

    Recruiter pages: the recruiter's saved choice (in the session), else Accept-Language among
    ``RECRUITER_LANGUAGES``. Public pages start from ``?lang=`` or Accept-Language among all six;
    their views then narrow it to the employer's languages (``leads.i18n.activate_public``),
    which only they know. The thread's language is restored afterwards, so that it never leaks
    into the next request served by this thread.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        public = i18n.is_public_path(request.path_info)
        if request.path_info.startswith("/api/"):
            # A machine's interface: its messages stay in one language, whatever the client sends.
            language = settings.LANGUAGE_CODE
        elif public:
            every = [code for code, _name in settings.LANGUAGES]
            language = i18n.public_language(request, languages=every, default=settings.LANGUAGE_CODE)
        else:
            language = i18n.recruiter_language(request)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
            response.setdefault("Content-Language", translation.get_language())
        if public:
            # Without ?lang= the browser's languages choose the page: caches must keep them apart.
            patch_vary_headers(response, ("Accept-Language",))
        return response


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_UTF8 = {"utf-8", "utf8"}


class InputCheckMiddleware:
    """The one place every request's form data and query string passes before any view, form
    or middleware reads it: input no form could store answers 400, with a clear message.

    - a form body in a charset other than UTF-8 (Django refuses to read it, and then raises the
      same error again inside its own error handling);
    - a body Django cannot parse (a broken multipart, too many fields);
    - a NUL character in any name or value of the query string or the form (PostgreSQL refuses
      it; no form field needs it).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem:
            return bad_input_response(request, problem)
        return self.get_response(request)

    @staticmethod
    def _problem(request: HttpRequest) -> str:
        if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get("QUERY_STRING", ""):
            return "The address contains a NUL character. Nothing was saved."
        if request.method not in ("POST", "PUT", "PATCH") or request.content_type not in _FORM_TYPES:
            return ""
        charset = (request.content_params.get("charset") or "utf-8").strip().lower()
        if request.content_type == _FORM_TYPES[0] and charset not in _UTF8:
            return f"Send the form encoded as UTF-8, not {charset[:40]}. Nothing was saved."
        try:
            post = request.POST
        except (BadRequest, SuspiciousOperation, MultiPartParserError, UnicodeDecodeError, LookupError):
            # Django would raise the same again for every later reader: nobody reads it now.
            request._post, request._files = QueryDict(), MultiValueDict()
            return "The form could not be read. Nothing was saved."
        for key, values in post.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return "The form contains a NUL character, which cannot be stored. Nothing was saved."
        return ""


def bad_input_response(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"errors": {"body": [message]}}, status=400)
    return render(request, "errors/bad_input.html", {"message": message}, status=400)
