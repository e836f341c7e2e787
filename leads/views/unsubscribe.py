"""The unsubscribe link in every email: works without login, confirms, and supports RFC 8058
one-click POSTs from mail clients."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leads.emails import lead_id_from_token
from leads.models import Lead
from leads.services.followups import lead_confirm_interest, lead_unsubscribe
from leads.services.privacy import lead_erase, lead_id_from_my_data_token


# The signed token is the credential; mail clients post one-click unsubscribes without a
# CSRF token, so this view cannot require one.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    lead_id = lead_id_from_token(token)
    lead = Lead.objects.select_related("employer").filter(pk=lead_id, erased_at__isnull=True).first()
    if lead is None:
        raise Http404("This unsubscribe link is not valid.")
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        lead_unsubscribe(lead=lead, how="one-click from the mail client" if one_click else "unsubscribe link")
        return render(request, "public/unsubscribed.html", {"employer": lead.employer})
    return render(request, "public/unsubscribe_confirm.html", {"employer": lead.employer, "lead": lead,
                                                                "already": lead.unsubscribed_at is not None})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def still_interested(request: HttpRequest, token: str) -> HttpResponse:
    """The answer to the still-interested email: a GET only shows the button (mail scanners
    follow links), the POST records the answer, which keeps the lead open."""
    lead_id = lead_id_from_token(token)
    lead = Lead.objects.select_related("employer").filter(pk=lead_id, erased_at__isnull=True).first()
    if lead is None:
        raise Http404("This link is not valid.")
    if request.method == "POST":
        lead_confirm_interest(lead=lead)
        return render(request, "public/still_interested_thanks.html", {"employer": lead.employer})
    return render(request, "public/still_interested_confirm.html", {"employer": lead.employer, "lead": lead})


@require_http_methods(["GET", "POST"])
def my_data(request: HttpRequest, token: str) -> HttpResponse:
    """The link in every email to a lead: see what the employer holds, and erase it."""
    lead = (Lead.objects.select_related("employer", "opening").filter(pk=lead_id_from_my_data_token(token)).first())
    if lead is None:
        raise Http404("This link is not valid.")
    context = {"employer": lead.employer, "lead": lead}
    if lead.erased_at is not None:
        return render(request, "public/my_data_erased.html", context)
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            context.update(error="Tick the box to confirm that everything should be erased.", **_held(lead))
            return render(request, "public/my_data.html", context, status=400)
        lead_erase(lead=lead, how="by the person, from the link in an email")
        return render(request, "public/my_data_erased.html", context)
    return render(request, "public/my_data.html", {**context, **_held(lead)})


def _held(lead: Lead) -> dict:
    return {
        "inquiries": lead.inquiries.only("received_at", "channel", "subject").order_by("received_at")[:50],
        "emails_sent": lead.outbound_emails.filter(status="sent").count(),
    }
