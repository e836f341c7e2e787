"""The public inquiry form at /apply/<employer-slug>/: no login, the employer from the URL.

Built for a surge: the form page is rendered once per employer snapshot and language and
served with only its per-request tokens filled in; a valid submission is stored as one row
(or spooled when the database refuses it) and processed by a worker after the person has
their thank-you page.
"""

from __future__ import annotations

import functools
import mimetypes
import secrets

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods

from leads.forms import PublicInquiryForm, started_token, started_token_claim
from leads.i18n import activate_public, language_links, with_language
from leads.models import Employer
from leads.ratelimit import client_ip, client_ip_or_none, rate_limit_hit
from leads.selectors.public import PublicEmployer, PublicPageUnavailable, public_employer
from leads.services.spool import SpoolUnavailable
from leads.services.submissions import submission_accept

_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Stand-ins for the per-request values in the cached page; random per process, so no text an
# employer types can collide with them.
_NONCE = secrets.token_hex(8)
_SLOTS = {name: f"relocate-slot-{name}-{_NONCE}" for name in ("csrf", "started", *_UTM)}


class _Unavailable(Exception):
    pass


def _open_employer(slug: str) -> PublicEmployer:
    # A closed or unknown employer is the same 404: a closed one reveals nothing.
    try:
        employer = public_employer(slug)
    except PublicPageUnavailable as exc:
        raise _Unavailable from exc
    if employer is None:
        raise Http404("No such employer.")
    return employer


def _unavailable() -> HttpResponse:
    # Without the employer its languages are unknown: the language of ?lang= or the browser.
    response = HttpResponse(
        "<!doctype html><title>{}</title><p>{}</p>".format(
            escape(gettext("Please try again shortly")),
            escape(gettext("This page is briefly unavailable. Please try again in a minute.")),
        ), status=503, content_type="text/html; charset=utf-8",
    )
    response["Retry-After"] = "60"
    return response


@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        employer = _open_employer(slug)
    except _Unavailable:
        return _unavailable()
    language = _activate(request, employer)
    if request.method == "GET":
        return _cached_page(request, employer, language)
    refusal = _refusal(request)
    if refusal:
        message, status = refusal
        form = PublicInquiryForm(initial={"started": started_token()}, openings=employer.openings,
                                 privacy_policy_url=employer.privacy_policy_url, consent=employer.consent_shown)
        return _page(request, employer, form, status=status, refusal=message)
    form = PublicInquiryForm(request.POST, request.FILES, openings=employer.openings,
                             privacy_policy_url=employer.privacy_policy_url, consent=employer.consent_shown)
    if form.is_valid() and not started_token_claim(form.cleaned_data["started"]):
        form.refused = True
        form.add_error(None, gettext("This form was sent already. To send another inquiry, fill in the form again."))
    if form.is_valid():
        try:
            submission_accept(
                employer_id=employer.pk, data=form.submission_data(), raw_fields=form.raw_fields(request.POST),
                remote_addr=client_ip_or_none(request), privacy_accepted=True, cv=form.cleaned_data.get("cv"),
                cv_name=form.kept_cv_name,
            )
        except SpoolUnavailable:
            # Nothing at all could keep it: say so, and keep what they typed on the page.
            form.data = form.data.copy()
            form.data["started"] = started_token()
            return _page(request, employer, form, status=503,
                         refusal=gettext("We could not store your inquiry just now. Please send it again in a minute."))
        return redirect(_in_language(reverse("leads:public_thanks", args=[employer.slug]), employer, language))
    form.keep_cv()
    if form.refused:
        # A fresh start time, so a person who was refused can simply send again.
        form.data = form.data.copy()
        form.data["started"] = started_token()
    # The same page either way; 400 lets monitoring count refusals and mistakes.
    return _page(request, employer, form, status=400)


def _activate(request: HttpRequest, employer: PublicEmployer) -> str:
    return activate_public(request, languages=employer.languages, default=employer.default_language)


def _cached_page(request: HttpRequest, employer: PublicEmployer, language: str) -> HttpResponse:
    html = form_page_html(employer, language)
    values = {"csrf": get_token(request), "started": started_token(),
              **{k: request.GET.get(k, "")[:120] for k in _UTM}}
    for name, value in values.items():
        # An empty value is left out, as the template engine renders it: no attribute at all.
        slot = _SLOTS[name] if value else f' value="{_SLOTS[name]}"'
        html = html.replace(slot, escape(value))
    return HttpResponse(html)


@functools.lru_cache(maxsize=256)
def form_page_html(employer: PublicEmployer, language: str) -> str:
    """The form page with stand-ins for the per-request values, rendered once per snapshot of
    the employer (its openings and privacy policy version included) and language."""
    with translation.override(language):
        form = PublicInquiryForm(
            initial={"started": _SLOTS["started"], **{k: _SLOTS[k] for k in _UTM}}, openings=employer.openings,
            privacy_policy_url=employer.privacy_policy_url, consent=employer.consent_shown,
        )
        context = {**_language_context(employer, "leads:public_apply", language), "employer": employer,
                   "form": form, "refusal": "", "csrf_token": _SLOTS["csrf"]}
        return render_to_string("public/apply.html", context)


def _language_context(employer: PublicEmployer, url_name: str, language: str) -> dict:
    """The form's action and the language switch: both keep the page's language in the URL."""
    path = reverse(url_name, args=[employer.slug])
    links = language_links(path, employer.languages, language) if len(employer.languages) > 1 else []
    # One language: no action, as before (the form posts to the page's own address).
    return {"form_action": with_language(path, language) if links else "", "language_links": links}


def _in_language(path: str, employer: PublicEmployer, language: str) -> str:
    # An employer with one language needs no choice in its addresses.
    return with_language(path, language) if len(employer.languages) > 1 else path


def _refusal(request: HttpRequest) -> tuple[str, int] | None:
    """Checks made before the body is read: its size, then the per-address rate."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.RELOCATE_PUBLIC_FORM_MAX_BYTES:
        return gettext("The submission is too large. A CV can be at most 5 MB."), 413
    allowed = rate_limit_hit(
        "apply", client_ip(request),
        limit=settings.RELOCATE_PUBLIC_FORM_RATE, window=settings.RELOCATE_PUBLIC_FORM_RATE_WINDOW,
    )
    if not allowed:
        minutes = max(1, settings.RELOCATE_PUBLIC_FORM_RATE_WINDOW // 60)
        message = ngettext("Too many inquiries were sent from your network. Please try again in %(minutes)d minute.",
                           "Too many inquiries were sent from your network. Please try again in %(minutes)d minutes.",
                           minutes) % {"minutes": minutes}
        return message, 429
    return None


def _page(request: HttpRequest, employer: PublicEmployer, form: PublicInquiryForm, *, status: int = 200,
          refusal: str = "") -> HttpResponse:
    context = {**_language_context(employer, "leads:public_apply", translation.get_language()),
               "employer": employer, "form": form, "refusal": refusal}
    return render(request, "public/apply.html", context, status=status)


@require_GET
def thanks(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        employer = _open_employer(slug)
    except _Unavailable:
        return _unavailable()
    language = _activate(request, employer)
    context = {**_language_context(employer, "leads:public_thanks", language), "employer": employer}
    return render(request, "public/thanks.html", context)


@require_GET
def logo(request: HttpRequest, slug: str) -> FileResponse:
    """The employer's logo for its public page: uploads are not served by URL otherwise."""
    employer = Employer.objects.filter(slug=slug, public_intake_enabled=True).first()
    if employer is None or not employer.logo:
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
