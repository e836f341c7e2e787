"""Where browsers report Content Security Policy violations: logged, so that a page that breaks
the policy is seen before a person notices something missing."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger("relocate.csp")
_MAX_REPORT_BYTES = 16 * 1024


@csrf_exempt  # browsers send reports without a CSRF token; nothing is stored but a log line
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    if request.content_type.startswith("multipart/"):
        # A report is JSON; a form's body was read (streamed) by the input checks already.
        return HttpResponse(status=400)
    body = request.body[:_MAX_REPORT_BYTES]
    try:
        report = json.loads(body.decode("utf-8", "replace")).get("csp-report", {})
    except (ValueError, AttributeError):
        return HttpResponse(status=400)
    if isinstance(report, dict):
        logger.warning(
            "CSP violation: %s blocked %s on %s",
            str(report.get("violated-directive", ""))[:200], str(report.get("blocked-uri", ""))[:300],
            str(report.get("document-uri", ""))[:300],
        )
    return HttpResponse(status=204)
