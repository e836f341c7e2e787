"""The recruiter's lead pages: the list, one lead, and the actions on it.

Each action: login, the lead of the user's employers or 404, one service call, a redirect
(or the form again with its errors). Nothing here decides a business rule.
"""

from __future__ import annotations

import mimetypes
import os

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from leads.forms import (
    ActivityForm,
    AssignForm,
    BulkActionForm,
    LeadEditForm,
    LeadFilterForm,
    ManualLeadForm,
    MoveStageForm,
    NoteForm,
    member_choices,
)
from leads.models import AuditAction, MergedLead, ProfileChange, Source
from leads.ratelimit import client_ip_or_none
from leads.selectors.leads import (
    lead_duplicates,
    lead_inquiries,
    lead_page,
    lead_profile_changes,
    lead_timeline,
    leads_filtered,
)
from leads.services.audit import audit_read
from leads.services.followups import followups_pause, followups_resume
from leads.services.intake import inquiry_receive
from leads.services.leads import lead_assign, lead_update, profile_change_decide
from leads.services.pipeline import lead_move_stage
from leads.services.saved_views import clean_query, views_for
from leads.services.timeline import activity_log, note_add
from leads.views.common import lead_or_404, recruiter_view, safe_next


def _back_to_lead(request: HttpRequest, lead) -> HttpResponse:
    return redirect(safe_next(request, reverse("leads:lead_detail", args=[lead.pk])))


def _errors_to_messages(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, gettext("%(field)s: %(error)s") % {"field": label, "error": error}
                           if label else error)


# --- The list -----------------------------------------------------------------------------------

@require_GET
@recruiter_view
def lead_list(request: HttpRequest) -> HttpResponse:
    owners = member_choices(request.employer_ids)
    form = LeadFilterForm(request.GET or None, employer_ids=request.employer_ids, owners=owners)
    qs = leads_filtered(request.employer_ids, form.filters())
    page = lead_page(qs, sort=form.sort_order, cursor=request.GET.get("after", "")[:100], size=form.page_size,
                     before=request.GET.get("before", "")[:100])
    bulk_form = BulkActionForm(employer_ids=request.employer_ids, owners=owners)
    kept = {  # what a bulk action that failed had chosen (see views/bulk.py)
        "ticked": {part for part in request.GET.get("ticked", "")[:4000].split(",") if part.isdigit()},
        "action": request.GET.get("bulk_action", "")[:20], "owner": request.GET.get("bulk_owner", "")[:20],
        "stage": request.GET.get("bulk_stage", "")[:20],
    }
    filter_query = _filter_query(request)
    views = views_for(request.user, request.employer_ids)
    chosen = request.GET.get("view", "")[:40]
    current = next((v for v in views if v.key == chosen and v.query == clean_query(filter_query)), None) or next(
        (v for v in views if v.query == clean_query(filter_query)), None)
    context = {"form": form, "page": page, "owners": owners, "bulk_form": bulk_form, "kept": kept,
               "filter_query": filter_query, "views": views, "current_view": current}
    return render(request, "leads/lead_list.html", context)


def _filter_query(request: HttpRequest) -> str:
    return clean_query(request.GET.urlencode())


# --- One lead -------------------------------------------------------------------------------------

@require_GET
@recruiter_view
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        lead = lead_or_404(request, pk, for_page=True)
    except Http404:
        # A lead merged into another: its old address leads to the one that stayed.
        merged = MergedLead.objects.filter(merged_id=pk, employer_id__in=request.employer_ids).first()
        if merged is None:
            raise
        messages.info(request, gettext("That lead was merged into this one."))
        return redirect("leads:lead_detail", pk=merged.kept_id)
    owners = member_choices([lead.employer_id])
    context = {
        "lead": lead,
        "timeline": lead_timeline(lead),
        "inquiries": lead_inquiries(lead),
        "duplicates": lead_duplicates(lead),
        "profile_changes": lead_profile_changes(lead),
        "move_form": MoveStageForm(lead=lead),
        "assign_form": AssignForm(owners=owners, initial={"owner": str(lead.owner_id or "")}),
        "note_form": NoteForm(),
        "activity_form": ActivityForm(),
        "lead_now": lead.local_now(),
    }
    response = render(request, "leads/lead_detail.html", context)
    _audit_viewed(request, lead, "lead page")
    return response


def _audit_viewed(request: HttpRequest, lead, what: str) -> None:
    """Once the page is built: a page that failed to render showed nothing."""
    audit_read(action=AuditAction.VIEWED, employer_id=lead.employer_id, lead_id=lead.pk, user=request.user,
               detail=what, remote_addr=client_ip_or_none(request))


@require_http_methods(["GET", "POST"])
@recruiter_view
def lead_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a lead; when the rules need a reason, this page asks for it."""
    lead = lead_or_404(request, pk)
    if request.method == "GET":
        form = MoveStageForm(lead=lead, initial={"to_stage": request.GET.get("to_stage", "")[:20]})
        return render(request, "leads/lead_move.html", {"lead": lead, "form": form, "next": safe_next(request, "")})
    form = MoveStageForm(request.POST, lead=lead)
    if form.is_valid():
        try:
            lead_move_stage(lead=lead, to_stage=form.cleaned_data["to_stage"], by=request.user,
                            reason=form.cleaned_data["reason"], closed_reason=form.cleaned_data["closed_reason"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, gettext("%(name)s moved to %(stage)s.")
                             % {"name": lead.name, "stage": lead.get_stage_display()})
            return _back_to_lead(request, lead)
    if request.htmx:
        # From a boosted form: open the full form, with the reason it was refused as a message
        # (htmx swaps no 4xx page, so without this the person would see nothing happen).
        for error in form.non_field_errors():
            messages.error(request, error)
        query = f"?to_stage={request.POST.get('to_stage', '')[:20]}&next={safe_next(request, '')}"
        return HttpResponseClientRedirect(reverse("leads:lead_move", args=[lead.pk]) + query)
    context = {"lead": lead, "form": form, "next": safe_next(request, "")}
    return render(request, "leads/lead_move.html", context, status=400)


@require_POST
@recruiter_view
def lead_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk)
    form = AssignForm(request.POST, owners=member_choices([lead.employer_id]))
    if form.is_valid():
        owner_id = form.cleaned_data["owner"]
        owner = get_user_model().objects.filter(pk=owner_id).first() if owner_id else None
        try:
            if lead_assign(lead=lead, owner=owner, by=request.user):
                messages.success(request, gettext("Owner changed."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        _errors_to_messages(request, form)
    return _back_to_lead(request, lead)


def _form_action(request: HttpRequest, form, success: str, action) -> None:
    """A small form on the lead page: run the service with its data; any error becomes a message."""
    if not form.is_valid():
        _errors_to_messages(request, form)
        return
    try:
        action(form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)


@require_POST
@recruiter_view
def lead_note(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk)
    _form_action(request, NoteForm(request.POST), gettext("Note added."),
                 lambda data: note_add(lead=lead, author=request.user, body=data["body"]))
    return _back_to_lead(request, lead)


@require_POST
@recruiter_view
def lead_activity(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk)
    _form_action(request, ActivityForm(request.POST), gettext("Logged."),
                 lambda data: activity_log(lead=lead, actor=request.user, **data))
    return _back_to_lead(request, lead)


@require_POST
@recruiter_view
def lead_followups(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk)
    action = request.POST.get("action")
    if action == "pause":
        followups_pause(lead=lead, by=request.user)
        messages.success(request, gettext("Follow-ups paused."))
    elif action == "resume":
        resumed = followups_resume(lead=lead, by=request.user)
        messages.success(request, gettext("Follow-ups resumed (%(count)s scheduled again).") % {"count": resumed})
    else:
        messages.error(request, gettext("Choose to pause or resume the follow-ups."))
    return _back_to_lead(request, lead)


@require_http_methods(["GET", "POST"])
@recruiter_view
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk)
    if request.method == "POST":
        form = LeadEditForm(request.POST, lead=lead)
        if form.is_valid():
            try:
                fields = {**form.identity_and_lists(), **form.lead_fields()}
                changed = lead_update(lead=lead, fields=fields, by=request.user,
                                      remote_addr=client_ip_or_none(request))
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, gettext("Profile saved.") if changed else gettext("Nothing changed."))
                return _back_to_lead(request, lead)
    else:
        form = LeadEditForm(lead=lead)
    return render(request, "leads/lead_edit.html", {"lead": lead, "form": form},
                  status=400 if form.is_bound else 200)


@require_POST
@recruiter_view
def lead_profile_change(request: HttpRequest, pk: int, change_pk: int) -> HttpResponse:
    """Restore a value a repeat inquiry replaced, or accept or decline a proposed contact detail."""
    lead = lead_or_404(request, pk)
    change = ProfileChange.objects.filter(lead=lead, pk=change_pk).first()
    if change is None:
        raise Http404("No such change.")
    try:
        profile_change_decide(change=change, action=request.POST.get("action", "")[:20], by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("Profile updated.") if request.POST.get("action") != "decline"
                         else gettext("Declined."))
    return _back_to_lead(request, lead)


@require_GET
@recruiter_view
def lead_cv(request: HttpRequest, pk: int) -> FileResponse:
    """The CV, only to users of the lead's employer, always as a download (never rendered inline)."""
    lead = lead_or_404(request, pk)
    if not lead.cv:
        raise Http404("No CV.")
    try:
        handle = lead.cv.open("rb")
    except OSError as exc:
        raise Http404("The CV file is missing.") from exc
    extension = os.path.splitext(lead.cv.name)[1].lower()
    content_type = mimetypes.guess_type(f"cv{extension}")[0] or "application/octet-stream"
    filename = f"CV {lead.name}{extension}".replace("/", " ")
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    _audit_viewed(request, lead, "CV download")
    return response


# --- Adding a lead by hand ------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@recruiter_view
def lead_add(request: HttpRequest) -> HttpResponse:
    if not request.employers:
        raise Http404("You do not belong to an employer.")
    form = ManualLeadForm(request.POST or None, employers=request.employers)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = inquiry_receive(
                employer=data["employer_obj"], channel=Source.MANUAL, email=data["email"], name=data["name"],
                fields=form.lead_fields(), citizenships=data["citizenships"], skills=form.skill_names(),
                subject=(data.get("how") or "Added by a recruiter")[:300], body=data.get("motivation", ""),
                actor=request.user, raw_fields={"entered_by": request.user.get_username(), "how": data.get("how")},
                legal_basis=data["legal_basis"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            text = (gettext("%(name)s added.") if result.created
                    else gettext("%(name)s already existed: the inquiry was added to it."))
            messages.success(request, text % {"name": result.lead.name})
            return redirect("leads:lead_detail", pk=result.lead.pk)
    return render(request, "leads/lead_add.html", {"form": form}, status=400 if form.is_bound else 200)
