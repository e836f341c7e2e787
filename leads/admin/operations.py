"""Operations and settings: marked events for the reports, the worker heartbeat, preferences."""

from __future__ import annotations

from django.contrib import admin

from leads import models as m
from leads.admin.tenancy import RelatedOnly, SuperuserOnlyAdmin, TenantScopedAdmin


@admin.register(m.MarkedEvent)
class MarkedEventAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("date", "label", "employer")
    list_filter = (("employer", RelatedOnly),)
    search_fields = ("label",)
    date_hierarchy = "date"
    list_select_related = ("employer",)
    readonly_fields = ("created_at",)


@admin.register(m.WorkerHeartbeat)
class WorkerHeartbeatAdmin(SuperuserOnlyAdmin):
    """Global, not per employer: only superusers see it, and nobody edits it."""

    editable = False
    list_display = ("name", "beat_at", "hostname")


@admin.register(m.UserPreference)
class UserPreferenceAdmin(SuperuserOnlyAdmin):
    """A person's own settings: not an employer's data, so only superusers see them here."""

    list_display = ("user", "time_zone")
    search_fields = ("user__username",)
    list_select_related = ("user",)
