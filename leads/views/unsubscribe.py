"""The links in every email: unsubscribe (without login, confirmed, and RFC 8058 one-click POSTs
from mail clients), still-interested, and the person's own data (see, download, erase)."""

from functools import wraps

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from leads import profile
from leads.emails import lead_id_from_token
from leads.fields import CheckedForm
from leads.i18n import QUERY_PARAMETER, activate_public
from leads.i18n_strings import DECLARED
from leads.models import Lead
from leads.ratelimit import client_ip, rate_limit_hit
from leads.services.audit import audit_read
from leads.services.data_export import DataExportTooLarge, data_export_response, lead_data_export, notes_exported
from leads.services.followups import lead_confirm_interest, lead_unsubscribe
from leads.services.privacy import lead_erase, my_data_links_send
from leads.tokens import Purpose, token_read

_TOKEN_WINDOW_SECONDS = 600


def _speak_to(request: HttpRequest, lead: Lead) -> dict:
    """The lead's page in ?lang=, else the lead's own language, else the browser's, among its
    employer's languages; the context keeps ?lang= for the page's forms."""
    employer = lead.employer
    language = activate_public(request, languages=employer.languages, default=employer.default_language,
                               preferred=lead.language)
    return {"lang_query": f"{QUERY_PARAMETER}={language}" if request.GET.get(QUERY_PARAMETER) else ""}


def token_page(view):
    """The pages opened by a link in an email: limited per client address, so that nobody can
    try tokens (or addresses) at speed."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        limit = settings.RELOCATE_TOKEN_PAGE_RATE
        if not rate_limit_hit("token-page", client_ip(request), limit=limit, window=_TOKEN_WINDOW_SECONDS):
            response = render(request, "public/too_many.html", {"minutes": _TOKEN_WINDOW_SECONDS // 60}, status=429)
            response["Retry-After"] = str(_TOKEN_WINDOW_SECONDS)
            return response
        return view(request, *args, **kwargs)

    return wrapped


# The signed token is the credential; mail clients post one-click unsubscribes without a
# CSRF token, so this view cannot require one.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@token_page
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    lead_id = lead_id_from_token(token)
    lead = Lead.objects.select_related("employer").filter(pk=lead_id, erased_at__isnull=True).first()
    if lead is None:
        raise Http404("This unsubscribe link is not valid.")
    language = _speak_to(request, lead)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        lead_unsubscribe(lead=lead, how="one-click from the mail client" if one_click else "unsubscribe link")
        return render(request, "public/unsubscribed.html", {"employer": lead.employer, **language})
    return render(request, "public/unsubscribe_confirm.html", {"employer": lead.employer, "lead": lead,
                                                                "already": lead.unsubscribed_at is not None,
                                                                **language})


@csrf_exempt
@require_http_methods(["GET", "POST"])
@token_page
def still_interested(request: HttpRequest, token: str) -> HttpResponse:
    """The answer to the still-interested email: a GET only shows the button (mail scanners
    follow links), the POST records the answer, which keeps the lead open."""
    reading = token_read(Purpose.STILL_INTERESTED, token)
    lead_id = reading.lead_id if reading.valid else None
    lead = Lead.objects.select_related("employer").filter(pk=lead_id, erased_at__isnull=True).first()
    if lead is None:
        raise Http404("This link is not valid.")
    language = _speak_to(request, lead)
    if request.method == "POST":
        lead_confirm_interest(lead=lead)
        return render(request, "public/still_interested_thanks.html", {"employer": lead.employer, **language})
    return render(request, "public/still_interested_confirm.html", {"employer": lead.employer, "lead": lead,
                                                                     **language})


def _my_data_lead(request: HttpRequest, token: str) -> tuple[Lead | None, HttpResponse | None]:
    """The lead of a live my-data link, or the page that says why not: not valid (404), expired
    (410, with a fresh link on request, sent to the lead's own address) or erased already."""
    reading = token_read(Purpose.MY_DATA, token)
    lead = Lead.objects.select_related("employer", "opening").filter(pk=reading.lead_id).first()
    if lead is None:
        # Altered, cut short by a mail client, or never ours: the page to ask for a fresh link.
        return None, render(request, "public/my_data_request.html", {
            "form": MyDataRequestForm(), "days": settings.RELOCATE_MY_DATA_LINK_DAYS, "invalid": True}, status=404)
    context = {"employer": lead.employer, "lead": lead, "token": token, **_speak_to(request, lead)}
    if reading.expired:
        if request.method == "POST" and request.POST.get("action") == "resend":
            my_data_links_send(email=lead.email)
            return None, render(request, "public/my_data_request_sent.html", context)
        return None, render(request, "public/my_data_expired.html",
                            {**context, "days": settings.RELOCATE_MY_DATA_LINK_DAYS}, status=410)
    if lead.erased_at is not None:
        return None, render(request, "public/my_data_erased.html", context)
    return lead, None


@require_http_methods(["GET", "POST"])
@token_page
def my_data(request: HttpRequest, token: str) -> HttpResponse:
    """The link in every email to a lead: see what the employer holds, download it, and erase it."""
    lead, refusal = _my_data_lead(request, token)
    if lead is None:
        return refusal
    context = {"employer": lead.employer, "lead": lead, "token": token, **_speak_to(request, lead)}
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            context.update(error=gettext("Tick the box to confirm that everything should be erased."), **_held(lead))
            return render(request, "public/my_data.html", context, status=400)
        lead_erase(lead=lead, how="by the person, from the link in an email")
        return render(request, "public/my_data_erased.html", context)
    return render(request, "public/my_data.html", {**context, **_held(lead)})


@never_cache
@require_POST
@token_page
def my_data_download(request: HttpRequest, token: str) -> HttpResponse:
    """The person's data as a ZIP (``data.json`` and their files), from the button on the
    my-data page; the link's age and the erasure are checked as on that page. A POST: the
    export is built on demand and audited, so nothing fetches it by following a link."""
    lead, refusal = _my_data_lead(request, token)
    if lead is None:
        return refusal
    try:
        export = lead_data_export(lead=lead)
    except DataExportTooLarge:
        context = {"employer": lead.employer, "lead": lead, "token": token, **_held(lead), **_speak_to(request, lead),
                   "download_error": gettext("Your data is too large to download here. Write to %(employer)s "
                                             "and they will send it to you another way.")
                   % {"employer": lead.employer.name}}
        return render(request, "public/my_data.html", context, status=413)
    # Not the person's address: the audit log outlives an erasure.
    audit_read(action="exported", employer_id=lead.employer_id, lead_id=lead.pk, user=request.user or None,
               detail="data download (person)")
    return data_export_response(export)


class MyDataRequestForm(CheckedForm):
    email = forms.EmailField(max_length=254, label=gettext_lazy("Your email address"))


@require_http_methods(["GET", "POST"])
@token_page
def my_data_request(request: HttpRequest) -> HttpResponse:
    """Ask for a fresh link to one's data by email. The answer is the same whatever the address,
    so that the page tells nobody whose details are held."""
    form = MyDataRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        my_data_links_send(email=form.cleaned_data["email"])
        return render(request, "public/my_data_request_sent.html", {})
    return render(request, "public/my_data_request.html", {"form": form, "days": settings.RELOCATE_MY_DATA_LINK_DAYS},
                  status=400 if request.method == "POST" else 200)


def _held(lead: Lead) -> dict:
    return {
        "profile": _translated(profile.held_about(lead)),
        "inquiries": lead.inquiries.only("received_at", "channel", "subject").order_by("received_at")[:50],
        "emails_sent": lead.outbound_emails.filter(status="sent", to_user__isnull=True).count(),
        "notes_exported": notes_exported(lead),
    }


_DECLARED = frozenset(DECLARED)


def _translated(held: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The declaration's questions, and the answers that are its own words (a choice's label),
    in the page's language; what the person wrote stays as they wrote it."""
    return [(gettext(question), gettext(answer) if answer in _DECLARED else answer) for question, answer in held]
