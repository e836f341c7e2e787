"""The lead's history: stage events, notes, activities and profile changes.

All of it is written by the services (``leads/services/``) and shown here read-only: the
funnel, response-time and follow-up reports are computed from it, and a row edited or added
by hand would be a second, unchecked write path.
"""

from __future__ import annotations

from django.contrib import admin

from leads import models as m
from leads.admin.tenancy import HistoryAdmin, RelatedOnly


@admin.register(m.StageEvent)
class StageEventAdmin(HistoryAdmin, admin.ModelAdmin):
    list_display = ("at", "lead", "from_stage", "to_stage", "by", "employer")
    list_filter = ("to_stage", "from_stage", ("employer", RelatedOnly))
    search_fields = ("=lead__email",)
    date_hierarchy = "at"
    list_select_related = ("lead", "by", "employer")
    show_full_result_count = False


@admin.register(m.Note)
class NoteAdmin(HistoryAdmin, admin.ModelAdmin):
    list_display = ("__str__", "lead", "author", "created_at")
    list_filter = (("lead__employer", RelatedOnly),)
    search_fields = ("=lead__email",)
    autocomplete_fields = ("lead",)
    list_select_related = ("lead", "author")


@admin.register(m.Activity)
class ActivityAdmin(HistoryAdmin, admin.ModelAdmin):
    list_display = ("at", "kind", "summary", "lead", "actor")
    list_filter = ("kind", ("lead__employer", RelatedOnly))
    search_fields = ("=lead__email", "summary")
    autocomplete_fields = ("lead",)
    list_select_related = ("lead", "actor")


@admin.register(m.ProfileChange)
class ProfileChangeAdmin(HistoryAdmin, admin.ModelAdmin):
    # What repeat inquiries changed or propose; the recruiter decides on the lead's page.
    list_display = ("at", "lead", "field", "old_value", "new_value", "status", "decided_by")
    list_filter = ("status", "field", ("lead__employer", RelatedOnly))
    search_fields = ("=lead__email",)
    date_hierarchy = "at"
    list_select_related = ("lead", "decided_by")
    show_full_result_count = False
