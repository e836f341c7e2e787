"""The public inquiry form at /apply/<employer-slug>/: no login, the employer from the URL."""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from leads.forms import PublicInquiryForm, started_token
from leads.models import Employer, Opening, Source
from leads.ratelimit import client_ip, rate_limit_hit
from leads.services.intake import inquiry_receive

_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def _open_employer(slug: str) -> Employer:
    # A closed or unknown employer is the same 404: a closed one reveals nothing.
    return get_object_or_404(Employer, slug=slug, public_intake_enabled=True)


def _openings(employer: Employer):
    return Opening.objects.filter(employer=employer, status=Opening.Status.OPEN).order_by("title")


@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, slug: str) -> HttpResponse:
    employer = _open_employer(slug)
    if request.method == "GET":
        initial = {"started": started_token(), **{k: request.GET.get(k, "")[:120] for k in _UTM}}
        form = PublicInquiryForm(initial=initial, openings=_openings(employer))
        return _page(request, employer, form)
    refusal = _refusal(request)
    if refusal:
        message, status = refusal
        form = PublicInquiryForm(initial={"started": started_token()}, openings=_openings(employer))
        return _page(request, employer, form, status=status, refusal=message)
    form = PublicInquiryForm(request.POST, request.FILES, openings=_openings(employer))
    if form.is_valid():
        try:
            inquiry_receive(
                employer=employer, channel=Source.WEB_FORM, email=form.cleaned_data["email"],
                name=form.cleaned_data["name"], fields=form.lead_fields(),
                citizenships=form.cleaned_data["citizenships"], skills=form.skill_names(),
                privacy_accepted=True, body=form.cleaned_data.get("motivation", ""),
                subject="Inquiry from the web form", raw_fields=form.raw_fields(request.POST),
                remote_addr=client_ip(request) if client_ip(request) != "unknown" else None,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("leads:public_thanks", slug=employer.slug)
    if form.refused:
        # A fresh start time, so a person who was refused can simply send again.
        form.data = form.data.copy()
        form.data["started"] = started_token()
    return _page(request, employer, form, status=400 if form.refused else 200)


def _refusal(request: HttpRequest) -> tuple[str, int] | None:
    """Checks made before the body is read: its size, then the per-address rate."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.RELOCATE_PUBLIC_FORM_MAX_BYTES:
        return "The submission is too large. A CV can be at most 5 MB.", 413
    allowed = rate_limit_hit(
        "apply", client_ip(request),
        limit=settings.RELOCATE_PUBLIC_FORM_RATE, window=settings.RELOCATE_PUBLIC_FORM_RATE_WINDOW,
    )
    if not allowed:
        minutes = max(1, settings.RELOCATE_PUBLIC_FORM_RATE_WINDOW // 60)
        return (f"Too many inquiries were sent from your network. Please try again in {minutes} minutes.", 429)
    return None


def _page(request: HttpRequest, employer: Employer, form: PublicInquiryForm, *, status: int = 200,
          refusal: str = "") -> HttpResponse:
    context = {"employer": employer, "form": form, "refusal": refusal}
    return render(request, "public/apply.html", context, status=status)


@require_GET
def thanks(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "public/thanks.html", {"employer": _open_employer(slug)})


@require_GET
def logo(request: HttpRequest, slug: str) -> FileResponse:
    """The employer's logo for its public page: uploads are not served by URL otherwise."""
    employer = _open_employer(slug)
    if not employer.logo:
        raise Http404("No logo.")
    try:
        handle = employer.logo.open("rb")
    except OSError as exc:
        raise Http404("No logo.") from exc
    content_type = mimetypes.guess_type(employer.logo.name)[0] or "application/octet-stream"
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        # An SVG can carry script; only raster images are served inline.
        content_type = "application/octet-stream"
    return FileResponse(handle, content_type=content_type)
