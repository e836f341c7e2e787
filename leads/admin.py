"""Django admin for every model, scoped to the employers of non-superuser staff.

Superusers see and manage everything. Other staff see the rows of the employers they belong
to, change them only where they are an employer admin (or hold the Django model permission),
and get 404 for anything else, as everywhere else in the app.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.exceptions import DisallowedModelAdminToField
from django.contrib.admin.options import TO_FIELD_VAR
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from leads import models as m
from leads.access import employer_ids, scope, tenant_path
from leads.emails import TemplateError, render_template, template_context
from leads.forms import clean_cv_upload
from leads.normalise import normalise_email, normalise_phone, normalise_profile_url
from leads.services.outbox import outbox_cancel, outbox_daily_counts, outbox_retry
from leads.services.submissions import submission_process, submissions_retry_now

User = get_user_model()

RelatedOnly = admin.RelatedOnlyFieldListFilter

# Rows that record who created them: stamped with the admin user instead of offering a
# select of every teammate on each inline row.
CREATED_BY: dict[type[models.Model], str] = {m.Note: "author", m.Activity: "actor"}


# --- tenancy helpers ----------------------------------------------------------------------


def is_tenant_model(model: type[models.Model]) -> bool:
    """Whether rows of the model belong to one employer (everything but the heartbeat)."""
    if model is m.Employer or getattr(model, "TENANT_PATH", None):
        return True
    try:
        return model._meta.get_field("employer").related_model is m.Employer
    except FieldDoesNotExist:
        return False


def follow(obj: Any, path: str) -> Any:
    """Follows a lookup path ("lead__employer_id") through attributes; None where it breaks."""
    for part in path.split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def tenant_id_of(obj: models.Model | None) -> int | None:
    """The id of the employer an object belongs to, following the model's tenant path."""
    return None if obj is None else follow(obj, tenant_path(type(obj)))


def member_employer_ids(request: HttpRequest, role: str | None = None) -> frozenset[int]:
    """The employers of the request's user (in a role), read once per request.

    Admin pages ask for permissions dozens of times per page; one query each would add up.
    """
    cache: dict[str | None, frozenset[int]] = request.__dict__.setdefault("_tenant_employer_ids", {})
    if role not in cache:
        cache[role] = frozenset(row["employer_id"] for row in employer_ids(request.user, role=role))
    return cache[role]


class TenantConsistentForm(forms.ModelForm):
    """Refuses links across employers: a lead's opening, a step's template, a note's lead, ...

    Scoped choices stop a user reaching another employer's rows, but a user of two employers,
    or a superuser, could still tie rows of different employers together.
    """

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model = self._meta.model
        own_field, tenant = self._own_tenant()
        if tenant is None and model is not m.Employer:
            return cleaned  # the employer itself is missing or invalid: that error is enough
        for name, value in list(cleaned.items()):
            field = self._model_field(name)
            if field is None or name == own_field or value is None:
                continue
            if field.related_model is User:
                self._check_member(name, value, tenant, own_field)
            elif is_tenant_model(field.related_model):
                values = value if field.many_to_many else [value]
                if any(tenant_id_of(v) != tenant for v in values):
                    self.add_error(name, "This belongs to another employer.")
        return cleaned

    def _model_field(self, name: str) -> models.Field | None:
        try:
            field = self._meta.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field if field.is_relation else None

    def _own_tenant(self) -> tuple[str | None, int | None]:
        """The field that names this object's employer (or its parent) and that employer's id."""
        first, _, rest = tenant_path(self._meta.model).partition("__")
        if first == "id":
            return None, self.instance.pk
        name = self._meta.model._meta.get_field(first).name
        parent = self.cleaned_data.get(name) if name in self.fields else getattr(self.instance, name, None)
        return name, follow(parent, rest or "pk")

    def _check_member(self, name: str, user: Any, tenant: int | None, own_field: str | None) -> None:
        # Membership.user is the membership being made; older rows may name people who left.
        if self._meta.model is m.Membership or not {name, own_field} & set(self.changed_data):
            return
        if not m.Membership.objects.filter(user_id=user.pk, employer_id=tenant).exists():
            self.add_error(name, "This person is not a member of this employer.")


class LeadAdminForm(TenantConsistentForm):
    """Stores contact details the way intake does, so duplicates are still found."""

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])

    def clean_profile_url(self) -> str:
        return normalise_profile_url(self.cleaned_data.get("profile_url", ""))

    def clean_cv(self):
        # A new upload gets the public form's check of its content (a real PDF, DOC or DOCX of
        # at most 5 MB); the file already stored, or a cleared one, passes as it is.
        value = self.cleaned_data.get("cv")
        return clean_cv_upload(value) if isinstance(value, UploadedFile) else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("phone"):
            try:
                cleaned["phone"] = normalise_phone(cleaned["phone"], cleaned.get("current_country") or "")
            except ValidationError as exc:
                self.add_error("phone", exc)
        return cleaned


# --- the mixins ---------------------------------------------------------------------------


class _TenantScoping:
    """What model admins and inlines share: scoped rows, permissions and choices."""

    form = TenantConsistentForm
    # Narrows what anyone (superusers too) may do: history and the outbox are append-only.
    allowed_actions: frozenset[str] = frozenset({"add", "change", "delete"})
    # Actions a non-superuser may never take on this model, whatever their role.
    superuser_only_actions: frozenset[str] = frozenset()
    # Django 6 makes https the default; profile URLs are stored as https already.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    opts: Any
    admin_site: admin.AdminSite

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope(super().get_queryset(request), request.user)  # type: ignore[misc]

    def employers_allowed(self, request: HttpRequest, action: str) -> frozenset[int]:
        """The employers whose rows of this model the user may `action` (view/add/change/delete)."""
        if action == "view":
            return member_employer_ids(request)
        codename = get_permission_codename(action, self.opts)
        if request.user.has_perm(f"{self.opts.app_label}.{codename}"):
            return member_employer_ids(request)
        return member_employer_ids(request, m.Role.ADMIN)

    def permits(self, request: HttpRequest, action: str, obj: models.Model | None) -> bool:
        """`obj` is the object itself on a model admin and the parent object on an inline."""
        if action != "view" and action not in self.allowed_actions:
            return False
        if request.user.is_superuser:
            return True
        if action in self.superuser_only_actions:
            return False
        allowed = self.employers_allowed(request, action)
        return bool(allowed) if obj is None else tenant_id_of(obj) in allowed

    def writable_employer_ids(self, request: HttpRequest) -> frozenset[int]:
        return self.employers_allowed(request, "add") | self.employers_allowed(request, "change")

    def scoped_choices(self, db_field: models.Field, request: HttpRequest, using: str | None) -> QuerySet:
        model = db_field.related_model
        queryset = self.get_field_queryset(using, db_field, request)  # type: ignore[attr-defined]
        if queryset is None:
            queryset = model._default_manager.using(using).all()
        if model is User:
            members = m.Membership.objects.filter(employer_id__in=member_employer_ids(request))
            return queryset.filter(pk__in=members.values("user_id"))
        if is_tenant_model(model):
            return queryset.filter(**{f"{tenant_path(model)}__in": self.writable_employer_ids(request)})
        return queryset

    def formfield_for_foreignkey(self, db_field: models.Field, request: HttpRequest, **kwargs: Any):
        if not request.user.is_superuser and "queryset" not in kwargs:
            kwargs["queryset"] = self.scoped_choices(db_field, request, kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: models.Field, request: HttpRequest, **kwargs: Any):
        if not request.user.is_superuser and "queryset" not in kwargs:
            kwargs["queryset"] = self.scoped_choices(db_field, request, kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def stamp_creator(self, request: HttpRequest, obj: models.Model) -> None:
        field = CREATED_BY.get(type(obj))
        if field and obj._state.adding and getattr(obj, f"{field}_id") is None:
            setattr(obj, field, request.user)


class TenantScopedAdmin(_TenantScoping):
    """Mix into a ModelAdmin for a model that belongs to an employer."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(member_employer_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "view", obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.permits(request, "add", None)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "delete", obj)

    # Another employer's object answers 404, not the admin's "doesn't exist" redirect.
    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        self.get_visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        self.get_visible_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        self.get_visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]

    def get_visible_or_404(self, request: HttpRequest, object_id: str) -> models.Model:
        to_field = request.POST.get(TO_FIELD_VAR, request.GET.get(TO_FIELD_VAR))
        if to_field and not self.to_field_allowed(request, to_field):  # type: ignore[attr-defined]
            raise DisallowedModelAdminToField(f"The field {to_field} cannot be referenced.")
        obj = self.get_object(request, unquote(object_id), to_field)  # type: ignore[attr-defined]
        if obj is None:
            raise Http404("No such object.")
        return obj

    def get_actions(self, request: HttpRequest) -> dict[str, tuple[Callable, str, str]]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return actions
        return {name: (self.restrict_action(func), name, text) for name, (func, _, text) in actions.items()}

    def restrict_action(self, func: Callable) -> Callable:
        """Runs a bulk action on the selected rows of employers where the user may take it.

        Django checks an action's permission for the model, not per row: an admin at one
        employer and recruiter at another must not bulk-delete the second one's leads.
        """
        needed = getattr(func, "allowed_permissions", ("change",))
        path = f"{tenant_path(self.opts.model)}__in"

        @functools.wraps(func)
        def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
            for permission in needed:
                queryset = queryset.filter(**{path: self.employers_allowed(request, permission)})
            return func(modeladmin, request, queryset)

        return action

    def get_deleted_objects(self, objs: Iterable[models.Model], request: HttpRequest) -> tuple:
        # Append-only rows cannot be deleted one by one, but go with the lead they belong to.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
        perms_needed -= {
            model._meta.verbose_name
            for model, model_admin in self.admin_site._registry.items()
            if getattr(model_admin, "deleted_with_parent", False)
        }
        return deleted, counts, perms_needed, protected

    def save_model(self, request: HttpRequest, obj: models.Model, form: forms.ModelForm, change: bool) -> None:
        self.stamp_creator(request, obj)
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: BaseInlineFormSet,
                     change: bool) -> None:
        for obj in formset.save(commit=False):
            self.stamp_creator(request, obj)
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


class TenantScopedInline(_TenantScoping):
    """Mix into an inline; permissions follow the parent object's employer."""

    extra = 0

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "view", obj)

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "add", obj)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "delete", obj)


READ_ONLY: frozenset[str] = frozenset()


# --- employers and their people -----------------------------------------------------------


@admin.register(m.Employer)
class EmployerAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # A new employer would vanish from its creator's scope; deleting one takes every lead with it.
    superuser_only_actions = frozenset({"add", "delete"})
    list_display = ("name", "slug", "destination_country", "public_intake_enabled", "time_zone", "created_at")
    list_filter = ("public_intake_enabled",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at",)


@admin.register(m.Membership)
class MembershipAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("user", "employer", "role", "receives_assignments", "last_assigned_at")
    list_filter = ("role", "receives_assignments", ("employer", RelatedOnly))
    search_fields = ("user__username", "user__email", "employer__name")
    list_select_related = ("user", "employer")
    readonly_fields = ("last_assigned_at", "created_at")


@admin.register(m.Opening)
class OpeningAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("title", "employer", "team", "location", "visa_sponsorship", "status", "created_at")
    list_filter = ("status", "visa_sponsorship", ("employer", RelatedOnly))
    search_fields = ("title", "team", "location")
    list_select_related = ("employer",)
    readonly_fields = ("created_at",)


@admin.register(m.ClosedReason)
class ClosedReasonAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("label", "employer", "stage", "active", "position")
    list_filter = ("active", "stage", ("employer", RelatedOnly))
    search_fields = ("label",)
    list_select_related = ("employer",)


@admin.register(m.Skill)
class SkillAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "employer")
    list_filter = (("employer", RelatedOnly),)
    search_fields = ("name",)
    list_select_related = ("employer",)


# --- leads and their timeline -------------------------------------------------------------


class CitizenshipInline(TenantScopedInline, admin.TabularInline):
    model = m.Citizenship


class NoteInline(TenantScopedInline, admin.TabularInline):
    model = m.Note
    fields = ("body", "author", "created_at")
    readonly_fields = ("author", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("author")


class ActivityInline(TenantScopedInline, admin.TabularInline):
    model = m.Activity
    fields = ("at", "kind", "summary", "details", "actor")
    readonly_fields = ("actor",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")


class ReadOnlyInline(TenantScopedInline):
    """History shown on its parent's page, never edited there."""

    allowed_actions = READ_ONLY

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> Iterable[str]:
        return self.fields  # type: ignore[attr-defined]


class InquiryInline(ReadOnlyInline, admin.StackedInline):
    model = m.Inquiry
    fields = ("received_at", "channel", "country", "is_repeat", "subject", "body")
    classes = ("collapse",)


class StageEventInline(ReadOnlyInline, admin.TabularInline):
    model = m.StageEvent
    fields = ("at", "from_stage", "to_stage", "by", "closed_reason", "reason")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("by", "closed_reason")


class PossibleDuplicateInline(ReadOnlyInline, admin.TabularInline):
    model = m.PossibleDuplicate
    fk_name = "lead"
    fields = ("other", "reason", "created_at", "dismissed_at")
    verbose_name_plural = "possible duplicates"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("other")


@admin.register(m.Lead)
class LeadAdmin(TenantScopedAdmin, admin.ModelAdmin):
    form = LeadAdminForm
    list_display = ("name", "email", "employer", "stage", "owner", "opening", "current_country", "source",
                    "created_at")
    list_filter = ("stage", "source", "move_timeline", "needs_sponsorship", ("employer", RelatedOnly),
                   ("opening", RelatedOnly), ("owner", RelatedOnly))
    # Prefix matches keep the search usable on a million leads; emails are stored lower-case.
    search_fields = ("^email", "^name", "=phone")
    date_hierarchy = "created_at"
    list_select_related = ("employer", "owner", "opening")
    show_full_result_count = False
    filter_horizontal = ("skills",)
    # The pipeline service owns the stage and writes its history; editing it here would
    # leave the stage events, and every report built on them, out of step.
    readonly_fields = ("stage", "furthest_stage", "closed_reason", "privacy_accepted_at", "unsubscribed_at",
                       "erased_at", "created_at", "first_contacted_at", "last_activity_at", "stage_changed_at",
                       "updated_at")
    fieldsets = (
        (None, {"fields": ("employer", "name", "email", "phone", "current_country", "current_city", "time_zone",
                           "profile_url")}),
        ("Interest", {"fields": ("opening", "role_of_interest", "years_experience", "skills")}),
        ("Relocation", {"fields": ("needs_sponsorship", "visa_pathway", "earliest_move_date", "move_timeline",
                                   "relocating_with", "dependants", "partner_needs_work_rights",
                                   "credentials_to_recognise", "motivation", "cv")}),
        ("Pipeline", {"fields": ("owner", "stage", "furthest_stage", "closed_reason", "followups_paused")}),
        ("Consent", {"fields": ("privacy_accepted_at", "marketing_opt_in", "unsubscribed_at", "erased_at")}),
        ("Source", {"classes": ("collapse",),
                    "fields": ("source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")}),
        ("Timestamps", {"classes": ("collapse",),
                        "fields": ("created_at", "first_contacted_at", "last_activity_at", "stage_changed_at",
                                   "updated_at")}),
    )
    inlines = (CitizenshipInline, PossibleDuplicateInline, NoteInline, ActivityInline, StageEventInline,
               InquiryInline)

    actions = ("erase_personal_data",)

    @admin.action(description="Erase the personal data of the selected leads", permissions=("change",))
    def erase_personal_data(self, request: HttpRequest, queryset: QuerySet) -> None:
        """When a person asks by phone or letter; the link in every email does the same."""
        from leads.services.privacy import lead_erase

        erased = sum(lead_erase(lead=lead, by=request.user, how=f"by {request.user.get_username()} in admin")
                     for lead in queryset[:500])
        self.message_user(request, f"Personal data of {erased} lead(s) erased.")

    def get_inlines(self, request: HttpRequest, obj: m.Lead | None) -> Iterable[type]:
        # A lead being added has no history yet: only offer what can be entered with it.
        if obj is None:
            return (CitizenshipInline, NoteInline, ActivityInline)
        return self.inlines


@admin.register(m.Citizenship)
class CitizenshipAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("lead", "country")
    list_filter = (("lead__employer", RelatedOnly),)
    search_fields = ("=lead__email",)
    autocomplete_fields = ("lead",)
    list_select_related = ("lead",)


@admin.register(m.PossibleDuplicate)
class PossibleDuplicateAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # Flagged by intake; a recruiter only dismisses them.
    allowed_actions = frozenset({"change"})
    deleted_with_parent = True
    list_display = ("lead", "other", "reason", "employer", "created_at", "dismissed_at")
    list_filter = ("reason", "dismissed_at", ("employer", RelatedOnly))
    search_fields = ("=lead__email", "=other__email")
    list_select_related = ("lead", "other", "employer")
    readonly_fields = ("employer", "lead", "other", "reason", "created_at")
    actions = ("dismiss",)

    @admin.action(description="Dismiss selected possible duplicates", permissions=("change",))
    def dismiss(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.filter(dismissed_at__isnull=True).update(dismissed_at=timezone.now())
        self.message_user(request, f"Dismissed {count} possible duplicate(s).", messages.SUCCESS)


@admin.register(m.Inquiry)
class InquiryAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # Inquiries are the record of what came in: the surge report counts them.
    allowed_actions = READ_ONLY
    deleted_with_parent = True
    list_display = ("received_at", "lead", "employer", "channel", "country", "subject", "is_repeat")
    list_filter = ("channel", "is_repeat", ("employer", RelatedOnly))
    search_fields = ("=lead__email",)
    date_hierarchy = "received_at"
    list_select_related = ("lead", "employer")
    show_full_result_count = False


class SubmissionErrorFilter(admin.SimpleListFilter):
    title = "processing"
    parameter_name = "processing"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("waiting", "Pending"), ("errors", "Pending with an error"), ("done", "Processed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        pending = queryset.filter(status=m.Submission.Status.PENDING)
        return {
            "waiting": pending,
            "errors": pending.exclude(last_error=""),
            "done": queryset.filter(status=m.Submission.Status.PROCESSED),
        }.get(self.value(), queryset)


@admin.register(m.Submission)
class SubmissionAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # Accepted public-form submissions on their way to becoming inquiries. The worker writes
    # them; an operator only asks for one to be tried again now.
    allowed_actions = READ_ONLY
    deleted_with_parent = True
    list_display = ("received_at", "employer", "submitted_email", "status", "via", "attempts", "next_attempt_at",
                    "short_error", "inquiry")
    list_filter = (SubmissionErrorFilter, "via", ("employer", RelatedOnly))
    date_hierarchy = "received_at"
    list_select_related = ("employer", "inquiry")
    show_full_result_count = False
    actions = ("process_now",)

    @admin.display(description="email")
    def submitted_email(self, obj: m.Submission) -> str:
        return str((obj.data or {}).get("email", ""))

    @admin.display(description="last error")
    def short_error(self, obj: m.Submission) -> str:
        return obj.last_error[:120]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(self.employers_allowed(request, "operate"))

    @admin.action(description="Process now (pending submissions)", permissions=["operate"])
    def process_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.filter(status=m.Submission.Status.PENDING).values_list("pk", flat=True))
        count = submissions_retry_now(ids=ids)
        outcomes = Counter(submission_process(pk) for pk in ids[:50])
        done = ", ".join(f"{name}: {n}" for name, n in sorted(outcomes.items())) or "nothing pending"
        self.message_user(request, f"{count} submission(s) due now; processed here: {done}.")


@admin.register(m.StageEvent)
class StageEventAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # Append-only history: the funnel and response-time reports are computed from it.
    allowed_actions = READ_ONLY
    deleted_with_parent = True
    list_display = ("at", "lead", "from_stage", "to_stage", "by", "employer")
    list_filter = ("to_stage", "from_stage", ("employer", RelatedOnly))
    search_fields = ("=lead__email",)
    date_hierarchy = "at"
    list_select_related = ("lead", "by", "employer")
    show_full_result_count = False


@admin.register(m.Note)
class NoteAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("__str__", "lead", "author", "created_at")
    list_filter = (("lead__employer", RelatedOnly),)
    search_fields = ("=lead__email",)
    autocomplete_fields = ("lead",)
    list_select_related = ("lead", "author")
    readonly_fields = ("author",)


@admin.register(m.Activity)
class ActivityAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("at", "kind", "summary", "lead", "actor")
    list_filter = ("kind", ("lead__employer", RelatedOnly))
    search_fields = ("=lead__email", "summary")
    autocomplete_fields = ("lead",)
    list_select_related = ("lead", "actor")


# --- follow-ups ---------------------------------------------------------------------------


@admin.register(m.EmailTemplate)
class EmailTemplateAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "employer", "kind", "subject", "updated_at")
    list_filter = ("kind", ("employer", RelatedOnly))
    search_fields = ("name", "subject")
    list_select_related = ("employer",)
    readonly_fields = ("preview",)

    class Media:
        css = {"all": ["css/admin-relocate.css"]}

    @admin.display(description="Preview with a real lead")
    def preview(self, obj: m.EmailTemplate) -> str:
        """The saved template rendered for the employer's newest lead, as it would be sent."""
        rendered, lead, problem = self._render_preview(obj)
        if problem:
            return problem
        html_part = format_html(
            '<iframe sandbox="" class="email-preview-html" title="HTML part" src="{}"></iframe>',
            reverse("admin:leads_emailtemplate_preview_html", args=[obj.pk]),
        ) if rendered.html else ""
        return format_html(
            '<p>For <strong>{}</strong> &lt;{}&gt;</p><p><strong>Subject:</strong> {}</p>'
            '<pre class="email-preview-text">{}</pre>{}',
            lead.name, lead.email, rendered.subject, rendered.text, html_part,
        )

    @staticmethod
    def _render_preview(obj: m.EmailTemplate):
        if obj.pk is None:
            return None, None, "Save the template to see a preview."
        lead = (m.Lead.objects.filter(employer_id=obj.employer_id, erased_at__isnull=True)
                .select_related("employer", "owner", "opening").order_by("-created_at").first())
        if lead is None:
            return None, None, "No lead yet to preview with."
        try:
            return render_template(obj, template_context(lead)), lead, ""
        except TemplateError as exc:
            return None, None, str(exc)

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_html_view)
        return [
            path("<int:object_id>/preview.html", preview, name="leads_emailtemplate_preview_html"),
            *super().get_urls(),
        ]

    def preview_html_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The HTML part alone, for the preview's sandboxed frame: an email's own inline styles
        are its design, so this one response allows them (and nothing else: no script, no
        request anywhere), and it may be framed by our own admin only."""
        obj = self.get_visible_or_404(request, str(object_id))
        rendered, _, problem = self._render_preview(obj)
        response = HttpResponse(problem or rendered.html or "", content_type="text/html; charset=utf-8")
        response._csp_replace = {
            "default-src": ["'none'"], "style-src": ["'unsafe-inline'"], "img-src": ["data:"],
            "frame-ancestors": ["'self'"], "script-src": ["'none'"], "connect-src": ["'none'"],
            "font-src": ["'none'"], "form-action": ["'none'"], "base-uri": ["'none'"], "object-src": ["'none'"],
        }
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response


class SequenceStepInline(TenantScopedInline, admin.TabularInline):
    model = m.SequenceStep


@admin.register(m.Sequence)
class SequenceAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "employer", "active", "stop_after_stage")
    list_filter = ("active", ("employer", RelatedOnly))
    search_fields = ("name",)
    list_select_related = ("employer",)
    inlines = (SequenceStepInline,)


@admin.register(m.SequenceStep)
class SequenceStepAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("__str__", "sequence", "position", "delay_days", "delay_from", "template")
    list_filter = ("delay_from", ("sequence__employer", RelatedOnly))
    search_fields = ("sequence__name", "template__name")
    list_select_related = ("sequence", "template")


@admin.register(m.OutboundEmail)
class OutboundEmailAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # The outbox is written by the follow-up services and claimed by the worker; an edit
    # here could send an email twice or lose one. Operators retry or cancel with actions.
    allowed_actions = READ_ONLY
    deleted_with_parent = True
    list_display = ("scheduled_at", "kind", "to_email", "status", "status_reason", "employer", "lead", "attempts",
                    "sent_at")
    list_filter = ("status", "kind", ("scheduled_at", admin.DateFieldListFilter), ("employer", RelatedOnly))
    search_fields = ("=to_email", "=unique_key", "=message_id")
    date_hierarchy = "scheduled_at"
    list_select_related = ("employer", "lead")
    show_full_result_count = False
    actions = ("retry_now", "cancel_scheduled")
    change_list_template = "admin/leads/outboundemail/change_list.html"

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(self.employers_allowed(request, "operate"))

    @admin.action(description="Send again now (failed, cancelled or skipped)", permissions=["operate"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = outbox_retry(ids=queryset.values_list("pk", flat=True), by=request.user)
        self.message_user(request, f"{count} email(s) scheduled to send now.")

    @admin.action(description="Cancel scheduled emails", permissions=["operate"])
    def cancel_scheduled(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = outbox_cancel(ids=queryset.values_list("pk", flat=True), by=request.user)
        self.message_user(request, f"{count} scheduled email(s) cancelled.")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "daily_counts": outbox_daily_counts(self.get_queryset(request))}
        return super().changelist_view(request, extra_context)


# --- reporting and operations -------------------------------------------------------------


@admin.register(m.MarkedEvent)
class MarkedEventAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("date", "label", "employer")
    list_filter = (("employer", RelatedOnly),)
    search_fields = ("label",)
    date_hierarchy = "date"
    list_select_related = ("employer",)
    readonly_fields = ("created_at",)


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Rows that belong to no employer: only superusers see them; ``editable`` says whether they
    may change them too."""

    editable = True

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.editable and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.editable and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.editable and request.user.is_superuser


@admin.register(m.WorkerHeartbeat)
class WorkerHeartbeatAdmin(SuperuserOnlyAdmin):
    """Global, not per employer: only superusers see it, and nobody edits it."""

    editable = False
    list_display = ("name", "beat_at", "hostname")


# --- API keys ------------------------------------------------------------------------------

from leads.services.api_keys import api_key_create, api_keys_revoke  # noqa: E402


@admin.register(m.ApiKey)
class ApiKeyAdmin(TenantScopedAdmin, admin.ModelAdmin):
    # Made by the service, which shows the secret once; afterwards only renamed or revoked.
    list_display = ("prefix", "name", "employer", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("employer", RelatedOnly))
    search_fields = ("=prefix", "name")
    list_select_related = ("employer",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: m.ApiKey | None = None) -> tuple[str, ...]:
        return ("employer", "name") if obj is None else ("employer", "name", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: m.ApiKey | None = None) -> tuple[str, ...]:
        # A key never moves to another employer: that would hand it their leads.
        return self.readonly_fields if obj is None else ("employer", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: m.ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, plaintext = api_key_create(employer=obj.employer, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = key.pk, key.prefix, key.key_hash, key.created_at
        obj._state.adding, obj._state.db = False, key._state.db
        # Shown on the response page only: a message would carry it in the (signed, not
        # encrypted) messages cookie.
        request._new_api_key = plaintext

    def response_add(self, request: HttpRequest, obj: m.ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        plaintext = getattr(request, "_new_api_key", None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "key": obj, "plaintext": plaintext,
                   "title": "API key created"}
        return render(request, "admin/leads/apikey/created.html", context)

    @admin.action(description="Revoke selected API keys", permissions=("change",))
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = api_keys_revoke(keys=queryset)
        self.message_user(request, f"Revoked {count} API key(s); they stop working at once.", messages.SUCCESS)


# --- CSV import of leads (leads/admin_import.py) ------------------------------------------

from leads.admin_import import LeadImportMixin  # noqa: E402


class LeadWithImportAdmin(LeadImportMixin, LeadAdmin):
    """The lead admin with its "Import leads from CSV" page."""


admin.site.unregister(m.Lead)
admin.site.register(m.Lead, LeadWithImportAdmin)


admin.site.site_header = "Relocate administration"
admin.site.site_title = "Relocate admin"
admin.site.index_title = "Employers, leads, follow-ups and reports"


@admin.register(m.UserPreference)
class UserPreferenceAdmin(SuperuserOnlyAdmin):
    """A person's own settings: not an employer's data, so only superusers see them here."""

    list_display = ("user", "time_zone")
    search_fields = ("user__username",)
    list_select_related = ("user",)
