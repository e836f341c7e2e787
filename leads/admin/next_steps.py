"""Tasks, read-only: they are written by the services (``leads/services/next_steps.py``) from
the lead page and /tasks/, each change with its line on the lead's timeline, which an edit
here would skip."""

from __future__ import annotations

from django.contrib import admin

from leads import models as m
from leads.admin.tenancy import HistoryAdmin, RelatedOnly


@admin.register(m.Task)
class TaskAdmin(HistoryAdmin, admin.ModelAdmin):
    list_display = ("title", "lead", "due_at", "owner", "snoozed", "done_at", "employer")
    list_filter = (("done_at", admin.EmptyFieldListFilter), ("employer", RelatedOnly))
    search_fields = ("=lead__email", "title")
    date_hierarchy = "due_at"
    list_select_related = ("lead", "owner", "employer")
    show_full_result_count = False
