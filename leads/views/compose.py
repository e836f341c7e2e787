"""Email a lead from its page: compose (a template or free text), preview, send.

One URL, three steps chosen by the button pressed (``action``): "preview" renders exactly what
would be sent, "edit" goes back to the form, "send" queues it through the outbox. The compose id
in the form makes the send idempotent: a double click sends once.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from leads import emails
from leads.models import EmailTemplate, Lead
from leads.services.compose import (
    BODY_MAX,
    COMPOSE_ID,
    SUBJECT_MAX,
    PreviewOutdated,
    compose_blocker,
    compose_digest,
    compose_initial_body,
    compose_render,
    compose_templates,
    lead_email_send,
)
from leads.views.common import lead_or_404, recruiter_view

_TEMPLATE = "leads/lead_email.html"


class ComposeForm(forms.Form):
    """The compose form's fields; what they may hold is decided by the compose service."""

    template = forms.ModelChoiceField(queryset=EmailTemplate.objects.none(), required=False,
                                      empty_label=_("Free text (write it below)"), label=_("Start from"))
    subject = forms.CharField(max_length=SUBJECT_MAX, required=False, label=_("Subject"))
    body = forms.CharField(max_length=BODY_MAX, required=False, strip=False, label=_("Message"),
                           widget=forms.Textarea(attrs={"rows": 12}))
    compose_id = forms.RegexField(regex=COMPOSE_ID, widget=forms.HiddenInput,
                                  error_messages={"invalid": _("This form has expired: open the email page again.")})
    preview_digest = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, lead: Lead, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = compose_templates(lead.employer_id)


@require_http_methods(["GET", "POST"])
@recruiter_view
def lead_email(request: HttpRequest, pk: int) -> HttpResponse:
    # An erased lead is found too, so that the page can say why nothing can be sent.
    lead = lead_or_404(request, pk, include_erased=True)
    context = {"lead": lead, "blocker": compose_blocker(lead), "from_address": emails.recruiter_from(
        lead.employer, request.user), "reply_to": emails.reply_address(lead.pk)}
    if context["blocker"]:
        return render(request, _TEMPLATE, context, status=409 if request.method == "POST" else 200)
    # Read once for the page's choice (the form's own field would count them first).
    context["templates"] = list(compose_templates(lead.employer_id))
    if request.method == "GET":
        initial = {"compose_id": uuid.uuid4().hex, "body": compose_initial_body(lead=lead, sender=request.user)}
        return render(request, _TEMPLATE, {**context, "form": ComposeForm(initial=initial, lead=lead)})
    form = ComposeForm(request.POST, lead=lead)
    action = request.POST.get("action", "preview")
    if not form.is_valid():
        return render(request, _TEMPLATE, {**context, "form": form}, status=400)
    if action == "edit":
        return render(request, _TEMPLATE, {**context, "form": form})
    data = form.cleaned_data
    content = {"template": data["template"], "subject": data["subject"], "body": data["body"]}
    if action == "send":
        try:
            row, created = lead_email_send(lead=lead, by=request.user, compose_id=data["compose_id"],
                                           preview_digest=data["preview_digest"], **content)
        except PreviewOutdated as exc:
            messages.warning(request, " ".join(exc.messages))
        except ValidationError as exc:
            return _form_errors(request, context, form, exc)
        else:
            if created:
                messages.success(request, gettext("Email “%(subject)s” queued to %(to)s.")
                                 % {"subject": row.subject, "to": row.to_email})
            else:
                messages.info(request, gettext("This email was sent already; it was not sent again."))
            return redirect("leads:lead_detail", pk=lead.pk)
    try:
        rendered = compose_render(lead=lead, sender=request.user, **content)
    except ValidationError as exc:
        return _form_errors(request, context, form, exc)
    return render(request, _TEMPLATE, {**context, "form": form, "preview": rendered,
                                       "preview_digest": compose_digest(rendered)})


def _form_errors(request: HttpRequest, context: dict, form: ComposeForm, exc: ValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
    return render(request, _TEMPLATE, {**context, "form": form}, status=400)
