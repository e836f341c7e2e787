"""Leads in admin: the same write path as the recruiter UI.

Adding a lead opens the recruiter's manual entry, which records the inquiry, the first stage
event, the acknowledgement and the legal basis. The change form changes what a recruiter may
change (the owner, the pause, the stage, the profile and the legal basis), each through the
service the recruiter UI calls; everything else, and the whole history, is read-only. A lead
is never deleted here: erasure is the action for that. Possible duplicates are merged or
dismissed through the merge services.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads import models as m
from leads import profile
from leads.admin.processing import processing_record_view
from leads.admin.tenancy import (
    READ_ONLY,
    HistoryAdmin,
    ReadOnlyInline,
    RelatedOnly,
    TenantConsistentForm,
    TenantScopedAdmin,
)
from leads.admin_import import LeadImportMixin
from leads.ratelimit import client_ip_or_none
from leads.services.audit import audit_read
from leads.services.data_export import DataExportTooLarge, data_export_response, lead_data_export
from leads.services.followups import followups_pause, followups_resume
from leads.services.leads import lead_assign, lead_update
from leads.services.merge import duplicates_dismiss, lead_merge
from leads.services.pipeline import lead_move_stage, needs_reason
from leads.services.privacy import lead_erase

# What the change form may change, and the service each goes through.
PROFILE_FIELDS: tuple[str, ...] = ("name", *profile.EDITABLE_FIELDS)  # lead_update
PIPELINE_FIELDS: tuple[str, ...] = ("owner", "followups_paused", "stage", "closed_reason")  # assign, pause, move

# Everything else on the page is shown, never written: the email is the lead's identity, the
# source and consent record how the person came, and the timestamps are the services' own.
READ_ONLY_FIELDS: tuple[str, ...] = (
    "employer", "email", "skills", "cv_download", "source", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "furthest_stage", "privacy_accepted_at", "unsubscribed_at", "email_bounced_at",
    "erased_at", "created_at", "first_contacted_at", "last_activity_at", "stage_changed_at", "updated_at",
    "recruiter_page",
)


class LeadAdminForm(TenantConsistentForm):
    """The lead's change form: checked here as the services will check it, so that a change the
    services refuse is an error on the form and nothing of the save has happened yet."""

    stage_reason = forms.CharField(
        label=_("Reason for the move"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed to move a lead backwards or to reopen a closed one; kept on the stage event."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        employer_id = self.instance.employer_id
        if employer_id is None:
            return
        # The choices of this lead's employer only, for superusers too: the services refuse others.
        members = m.Membership.objects.filter(employer_id=employer_id).values("user_id")
        for name, lookup in (("opening", {"employer_id": employer_id}),
                             ("closed_reason", {"employer_id": employer_id}),
                             ("owner", {"pk__in": members})):
            if name in self.fields:
                self.fields[name].queryset = self.fields[name].queryset.filter(**lookup)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._clean_profile(cleaned)
        self._clean_move(cleaned)
        return cleaned

    def _clean_profile(self, cleaned: dict[str, Any]) -> None:
        """The one normaliser of leads/profile.py, as lead_update will apply it."""
        changed = [name for name in profile.EDITABLE_FIELDS if name in self.changed_data and name in cleaned]
        if not changed:
            return
        values = {name: cleaned[name] for name in changed}
        if "current_country" in cleaned:
            values.setdefault("current_country", cleaned["current_country"])  # a phone is read with it
        try:
            normalised = profile.clean_profile(values, allowed=profile.EDITABLE_FIELDS, keep_empty=True)
        except ValidationError as exc:
            self.add_error(None, exc)
            return
        cleaned.update({name: normalised[name] for name in changed})

    def _clean_move(self, cleaned: dict[str, Any]) -> None:
        """The pipeline's rules for a move, checked before anything is saved."""
        lead = self.instance  # still as stored: the form writes onto it only after clean()
        to_stage = cleaned.get("stage", lead.stage)
        closed_reason = cleaned.get("closed_reason")
        reason = (cleaned.get("stage_reason") or "").strip()
        if to_stage not in m.CLOSED_STAGES:
            if closed_reason is not None and "closed_reason" in self.changed_data:
                self.add_error("closed_reason", gettext("A closed reason only goes with closing the lead."))
            cleaned["closed_reason"] = None  # reopening clears it, as the pipeline does
        if to_stage == lead.stage:
            if "closed_reason" in self.changed_data and to_stage in m.CLOSED_STAGES:
                self.add_error("closed_reason", gettext("The closed reason is chosen when the lead is closed."))
            if reason:
                self.add_error("stage_reason", gettext("A reason goes with a change of stage."))
            return
        if to_stage in m.CLOSED_STAGES:
            label = m.Stage(to_stage).label.lower()
            if closed_reason is None:
                self.add_error("closed_reason", gettext("Choose why the lead is %(stage)s.") % {"stage": label})
            elif not closed_reason.fits(to_stage):
                self.add_error("closed_reason", gettext("“%(reason)s” is not a reason for %(stage)s.")
                               % {"reason": closed_reason.label, "stage": label})
        if needs_reason(lead.stage, to_stage) and not reason:
            if lead.stage in m.CLOSED_STAGES:
                self.add_error("stage_reason", gettext("Reopening a closed lead needs a reason."))
            else:
                self.add_error("stage_reason", gettext("Moving a lead backwards needs a reason."))


# --- the lead's page: its history, read-only -----------------------------------------------


class CitizenshipInline(ReadOnlyInline, admin.TabularInline):
    model = m.Citizenship
    fields = ("country",)


class PossibleDuplicateInline(ReadOnlyInline, admin.TabularInline):
    model = m.PossibleDuplicate
    fk_name = "lead"
    fields = ("other", "reason", "created_at", "dismissed_at")
    verbose_name_plural = _("possible duplicates (merge or dismiss them under Possible duplicates)")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("other")


class NoteInline(ReadOnlyInline, admin.TabularInline):
    model = m.Note
    fields = ("body", "author", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("author")


class ActivityInline(ReadOnlyInline, admin.TabularInline):
    model = m.Activity
    fields = ("at", "kind", "summary", "details", "actor")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")


class ProfileChangeInline(ReadOnlyInline, admin.TabularInline):
    model = m.ProfileChange
    fields = ("at", "field", "old_value", "new_value", "status", "decided_by", "decided_at")
    classes = ("collapse",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("decided_by")


class StageEventInline(ReadOnlyInline, admin.TabularInline):
    model = m.StageEvent
    fields = ("at", "from_stage", "to_stage", "by", "closed_reason", "reason")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("by", "closed_reason")


class InquiryInline(ReadOnlyInline, admin.StackedInline):
    model = m.Inquiry
    fields = ("received_at", "channel", "country", "is_repeat", "subject", "body")
    classes = ("collapse",)


# --- the lead ------------------------------------------------------------------------------


@admin.register(m.Lead)
class LeadAdmin(LeadImportMixin, TenantScopedAdmin, admin.ModelAdmin):
    form = LeadAdminForm
    # "add" is still who may add leads (the CSV import page asks it), but the add page is the
    # recruiter's manual entry; deleting is erasure, an action, and a lead goes with its employer.
    allowed_actions = frozenset({"add", "change"})
    deleted_with_parent = True
    list_display = ("name", "email", "employer", "stage", "owner", "opening", "current_country", "source",
                    "created_at")
    list_filter = ("stage", "source", "move_timeline", "needs_sponsorship", ("employer", RelatedOnly),
                   ("opening", RelatedOnly), ("owner", RelatedOnly))
    # Prefix matches keep the search usable on a million leads; emails are stored lower-case.
    search_fields = ("^email", "^name", "=phone")
    date_hierarchy = "created_at"
    list_select_related = ("employer", "owner", "opening")
    show_full_result_count = False
    readonly_fields = READ_ONLY_FIELDS
    fieldsets = (
        (None, {"fields": ("employer", "recruiter_page", "name", "email", "phone", "current_country",
                           "current_city", "time_zone", "profile_url")}),
        (_("Interest"), {"fields": ("opening", "role_of_interest", "years_experience", "skills")}),
        (_("Relocation"), {"fields": ("needs_sponsorship", "visa_pathway", "earliest_move_date", "move_timeline",
                                   "relocating_with", "dependants", "partner_needs_work_rights",
                                   "credentials_to_recognise", "motivation", "cv_download")}),
        (_("Pipeline"), {"fields": ("owner", "stage", "closed_reason", "stage_reason", "furthest_stage",
                                 "followups_paused")}),
        (_("Consent"), {"fields": ("legal_basis", "privacy_accepted_at", "marketing_opt_in", "unsubscribed_at",
                                "email_bounced_at", "erased_at")}),
        (_("Source"), {"classes": ("collapse",),
                    "fields": ("source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")}),
        (_("Timestamps"), {"classes": ("collapse",),
                        "fields": ("created_at", "first_contacted_at", "last_activity_at", "stage_changed_at",
                                   "updated_at")}),
    )
    inlines = (CitizenshipInline, PossibleDuplicateInline, NoteInline, ActivityInline, ProfileChangeInline,
               StageEventInline, InquiryInline)
    actions = ("erase_personal_data", "download_personal_data")

    def get_urls(self) -> list[URLPattern]:
        view = functools.partial(processing_record_view, model_admin=self)
        return [
            path("processing-record/", self.admin_site.admin_view(view), name="leads_processing_record"),
            *super().get_urls(),
        ]

    @admin.display(description=_("In Relocate"))
    def recruiter_page(self, obj: m.Lead) -> str:
        if obj.pk is None or obj.is_erased:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("leads:lead_detail", args=[obj.pk]),
                           gettext("The lead’s page (notes, activities, merge)"))

    @admin.display(description=_("CV"))
    def cv_download(self, obj: m.Lead) -> str:
        # Through the recruiter's download, which checks the employer, not the file's media URL.
        if not obj.cv:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("leads:lead_cv", args=[obj.pk]), gettext("Download"))

    def has_change_permission(self, request: HttpRequest, obj: m.Lead | None = None) -> bool:
        # An erased lead stays for the counts only: nothing about it changes any more.
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_erased)

    def get_fieldsets(self, request: HttpRequest, obj: m.Lead | None = None) -> Any:
        if self.has_change_permission(request, obj):
            return self.fieldsets
        # A view-only page shows what is stored; the move's reason is only an input.
        return [(name, {**options, "fields": tuple(f for f in options["fields"] if f != "stage_reason")})
                for name, options in self.fieldsets]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        return redirect("leads:lead_add")

    @csrf_protect_m
    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict | None = None) -> HttpResponse:
        # Django wraps this view in transaction.atomic(); the lead services are durable
        # transactions of their own (one per change, as in the recruiter UI) and refuse to run
        # inside another. Nothing here writes but them.
        if object_id is None:
            return self.add_view(request, form_url, extra_context)
        return self._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: m.Lead, form: forms.ModelForm, change: bool) -> None:
        """One service per thing changed, the riskiest first; the form's instance is never saved."""
        lead = m.Lead.objects.select_related("employer").get(pk=obj.pk)
        data, changed, by = form.cleaned_data, set(form.changed_data), request.user
        try:
            if "stage" in changed:
                lead_move_stage(lead=lead, to_stage=data["stage"], by=by, reason=data.get("stage_reason", ""),
                                closed_reason=data.get("closed_reason"))
            fields = {name: data[name] for name in PROFILE_FIELDS if name in changed}
            if fields:
                lead_update(lead=lead, fields=fields, by=by)
            if "owner" in changed:
                lead_assign(lead=lead, owner=data["owner"], by=by)
            if "followups_paused" in changed:
                (followups_pause if data["followups_paused"] else followups_resume)(lead=lead, by=by)
        except ValidationError as exc:
            request._lead_change_refused = True
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Iterable, change: bool) -> None:
        # Skills, citizenships and the history are read-only here: there is nothing more to save.
        pass

    def construct_change_message(self, request: HttpRequest, form: forms.ModelForm, formsets: Iterable,
                                 add: bool = False) -> list[dict]:
        # The inlines were not saved (see save_related): only the form's changes are news.
        return super().construct_change_message(request, form, (), add)

    def log_change(self, request: HttpRequest, obj: m.Lead, message: Any) -> Any:
        if getattr(request, "_lead_change_refused", False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request: HttpRequest, obj: m.Lead) -> HttpResponse:
        if getattr(request, "_lead_change_refused", False):
            return HttpResponseRedirect(request.get_full_path())  # the page again, with the message
        return super().response_change(request, obj)

    @admin.action(description=_("Erase the personal data of the selected leads"), permissions=("change",))
    def erase_personal_data(self, request: HttpRequest, queryset: QuerySet) -> None:
        """When a person asks by phone or letter; the link in every email does the same."""
        how = f"by {request.user.get_username()} in admin"
        erased = sum(lead_erase(lead=lead, by=request.user, how=how) for lead in queryset[:500])
        self.message_user(request, gettext("Personal data of %(count)s lead(s) erased.") % {"count": erased})

    def has_export_permission(self, request: HttpRequest) -> bool:
        # Employer admins (restrict_action keeps the rows to their employers), and superusers.
        return request.user.is_superuser or bool(self.employers_allowed(request, "export"))

    @admin.action(description=_("Download this person's data (ZIP)"), permissions=("export",))
    def download_personal_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """What the person's own download holds, when they ask by phone or letter. Django runs
        actions outside a transaction: reading the files holds no locks."""
        leads = list(queryset.select_related("employer")[:2])
        if len(leads) != 1:
            self.message_user(request, gettext("Select one lead: the download holds one person's data."),
                              messages.WARNING)
            return None
        lead = leads[0]
        if lead.is_erased:
            self.message_user(request, gettext("This lead's personal data is erased: there is nothing to download."),
                              messages.WARNING)
            return None
        try:
            export = lead_data_export(lead=lead)
        except DataExportTooLarge as exc:
            self.message_user(request, gettext("%(problem)s Send it to the person another way.") % {"problem": exc},
                              messages.ERROR)
            return None
        audit_read(action="exported", employer_id=lead.employer_id, lead_id=lead.pk, user=request.user,
                   detail="data download (admin)", remote_addr=client_ip_or_none(request))
        return data_export_response(export)


@admin.register(m.Citizenship)
class CitizenshipAdmin(HistoryAdmin, admin.ModelAdmin):
    # Given by the person with an inquiry; part of the lead, which admin does not edit directly.
    list_display = ("lead", "country")
    list_filter = (("lead__employer", RelatedOnly),)
    search_fields = ("=lead__email",)
    autocomplete_fields = ("lead",)
    list_select_related = ("lead",)


@admin.register(m.PossibleDuplicate)
class PossibleDuplicateAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # Flagged by intake; a recruiter merges the pair or says they are different people, with
    # the services the lead's page calls (both write the decision on the timelines).
    allowed_actions = READ_ONLY
    deleted_with_parent = True
    list_display = ("lead", "other", "reason", "employer", "created_at", "dismissed_at")
    list_filter = ("reason", "dismissed_at", ("employer", RelatedOnly))
    search_fields = ("=lead__email", "=other__email")
    list_select_related = ("lead", "other", "employer")
    actions = ("merge", "dismiss")

    def employers_allowed(self, request: HttpRequest, action: str) -> frozenset[int]:
        # Deciding on a flag is who could change one before: employer admins (or holders of
        # the model permission).
        return super().employers_allowed(request, "change" if action == "decide" else action)

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(self.employers_allowed(request, "decide"))

    @admin.action(description=_("Not the same person: dismiss the selected possible duplicates"),
                  permissions=("decide",))
    def dismiss(self, request: HttpRequest, queryset: QuerySet) -> None:
        dismissed = 0
        for flag in queryset.filter(dismissed_at__isnull=True).select_related("lead", "other")[:500]:
            try:
                dismissed += duplicates_dismiss(lead=flag.lead, other=flag.other, by=request.user)
            except ValidationError:
                continue  # dismissed already, with another flag of the same pair
        self.message_user(request, gettext("Dismissed %(count)s possible duplicate(s).") % {"count": dismissed},
                          messages.SUCCESS)

    @admin.action(description=_("Merge: keep the lead, merge the other lead into it"), permissions=("decide",))
    def merge(self, request: HttpRequest, queryset: QuerySet) -> None:
        merged = 0
        for flag in queryset.filter(dismissed_at__isnull=True).select_related("lead", "other")[:100]:
            try:
                lead_merge(lead=flag.lead, other=flag.other, by=request.user)
            except ValidationError as exc:
                problem = " ".join(exc.messages)
                self.message_user(request, gettext("%(lead)s and %(other)s: %(problem)s")
                                  % {"lead": flag.lead, "other": flag.other, "problem": problem}, messages.ERROR)
            else:
                merged += 1
        if merged:
            self.message_user(request, gettext("Merged %(count)s pair(s) of leads.") % {"count": merged},
                              messages.SUCCESS)
