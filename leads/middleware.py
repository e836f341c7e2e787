"""Headers every response carries: what the browser may use, and what it must not keep."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

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
