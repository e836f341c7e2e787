"""Privacy policy versions (each employer's admins publish their own) and the consent record.

A version cited by a consent is what those people agreed to: it is shown read-only from then
on, and a change of wording is a new version. Consent rows are written by the services only
(leads/services/consent.py) and shown here as they are.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from leads import models as m
from leads.admin.tenancy import HistoryAdmin, RelatedOnly, TenantScopedAdmin
from leads.services.consent import policy_is_cited, privacy_policy_delete, privacy_policy_save

_CITED_READ_ONLY = ("employer", "version", "url", "text", "inquiry_wording", "news_wording", "effective_at")


@admin.register(m.PrivacyPolicy)
class PrivacyPolicyAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("version", "employer", "effective_at", "url", "created_at")
    list_filter = (("employer", RelatedOnly),)
    search_fields = ("version",)
    list_select_related = ("employer",)
    date_hierarchy = "effective_at"
    fields = ("employer", "version", "effective_at", "url", "text", "inquiry_wording", "news_wording", "created_at")
    # One labelled date-and-time box: admin's split date and time inputs have no label each.
    formfield_overrides = {
        models.DateTimeField: {
            "form_class": forms.DateTimeField,
            "widget": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        },
        models.URLField: {"assume_scheme": "https"},
    }

    def get_readonly_fields(self, request: HttpRequest, obj: m.PrivacyPolicy | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("created_at",)
        if policy_is_cited(obj):
            return (*_CITED_READ_ONLY, "created_at")
        # A version belongs to its employer for good.
        return ("employer", "created_at")

    def save_model(self, request: HttpRequest, obj: m.PrivacyPolicy, form, change: bool) -> None:
        privacy_policy_save(policy=obj)

    def delete_model(self, request: HttpRequest, obj: m.PrivacyPolicy) -> None:
        privacy_policy_delete(policy=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for policy in queryset:
            privacy_policy_delete(policy=policy)


@admin.register(m.Consent)
class ConsentAdmin(HistoryAdmin, admin.ModelAdmin):
    list_display = ("at", "lead", "purpose", "granted", "channel", "policy", "recorded_by")
    list_filter = ("purpose", "granted", "channel", ("employer", RelatedOnly))
    search_fields = ("=lead__email",)
    date_hierarchy = "at"
    list_select_related = ("lead", "policy", "recorded_by")
    show_full_result_count = False
