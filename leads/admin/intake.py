"""What came in: inquiries, and the public-form submissions on their way to becoming one."""

from __future__ import annotations

from collections import Counter

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads import models as m
from leads.admin.tenancy import HistoryAdmin, RelatedOnly
from leads.services.submissions import submission_process, submissions_retry_now


@admin.register(m.Inquiry)
class InquiryAdmin(HistoryAdmin, admin.ModelAdmin):
    # Inquiries are the record of what came in: the surge report counts them.
    list_display = ("received_at", "lead", "employer", "channel", "country", "subject", "is_repeat")
    list_filter = ("channel", "is_repeat", ("employer", RelatedOnly))
    search_fields = ("=lead__email",)
    date_hierarchy = "received_at"
    list_select_related = ("lead", "employer")
    show_full_result_count = False


class SubmissionErrorFilter(admin.SimpleListFilter):
    title = _("processing")
    parameter_name = "processing"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("waiting", gettext("Pending")), ("errors", gettext("Pending with an error")),
                ("done", gettext("Processed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        pending = queryset.filter(status=m.Submission.Status.PENDING)
        return {
            "waiting": pending,
            "errors": pending.exclude(last_error=""),
            "done": queryset.filter(status=m.Submission.Status.PROCESSED),
        }.get(self.value(), queryset)


@admin.register(m.Submission)
class SubmissionAdmin(HistoryAdmin, admin.ModelAdmin):
    # Accepted public-form submissions on their way to becoming inquiries. The worker writes
    # them; an operator only asks for one to be tried again now.
    list_display = ("received_at", "employer", "submitted_email", "status", "via", "attempts", "next_attempt_at",
                    "short_error", "inquiry")
    list_filter = (SubmissionErrorFilter, "via", ("employer", RelatedOnly))
    date_hierarchy = "received_at"
    list_select_related = ("employer", "inquiry")
    show_full_result_count = False
    actions = ("process_now",)

    @admin.display(description=_("email"))
    def submitted_email(self, obj: m.Submission) -> str:
        return str((obj.data or {}).get("email", ""))

    @admin.display(description=_("last error"))
    def short_error(self, obj: m.Submission) -> str:
        return obj.last_error[:120]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(self.employers_allowed(request, "operate"))

    @admin.action(description=_("Process now (pending submissions)"), permissions=["operate"])
    def process_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.filter(status=m.Submission.Status.PENDING).values_list("pk", flat=True))
        count = submissions_retry_now(ids=ids)
        outcomes = Counter(submission_process(pk) for pk in ids[:50])
        done = ", ".join(f"{name}: {n}" for name, n in sorted(outcomes.items())) or gettext("nothing pending")
        self.message_user(request, gettext("%(count)s submission(s) due now; processed here: %(done)s.")
                          % {"count": count, "done": done})
