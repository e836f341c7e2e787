"""Email templates (with a preview), follow-up sequences and the outbox."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import escape, format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads import models as m
from leads.admin.tenancy import (
    HistoryAdmin,
    RelatedOnly,
    TenantConsistentForm,
    TenantScopedAdmin,
    TenantScopedInline,
)
from leads.emails import Rendered, TemplateError, render_template, template_context
from leads.services.outbox import outbox_cancel, outbox_daily_counts, outbox_retry

# Every variable a template may use (leads.emails.template_context); a test keeps the two equal.
TEMPLATE_VARIABLES: tuple[tuple[str, str], ...] = (
    ("lead.name", _("the person's full name")),
    ("lead.first_name", _("their first name")),
    ("lead.email", _("their email address")),
    ("lead.current_city", _("the city they live in")),
    ("lead.current_country", _("the country they live in")),
    ("employer.name", _("your employer's name")),
    ("employer.destination_country", _("the country they would move to")),
    ("opening", _("the opening they asked about (else their role of interest)")),
    ("recruiter.name", _("the recruiter writing (else the lead's owner)")),
    ("recruiter.email", _("that recruiter's email")),
    ("signature", _("the recruiter's name and the employer's, one per line")),
    ("unsubscribe_url", _("the one-click unsubscribe link (put it in every email)")),
    ("still_interested_url", _("the link that keeps their inquiry open")),
    ("my_data_url", _("the link to see or erase their data")),
    ("link_days", _("how many days that link works")),
    ("link_until", _("the day that link stops working (a date: {{ link_until|date }})")),
)


def template_variables_help() -> str:
    variables = "; ".join(f"{{{{ {name} }}}} {what}" for name, what in TEMPLATE_VARIABLES)
    return gettext("Variables: %(variables)s.") % {"variables": variables}


def preview_html(*, lead: m.Lead, rendered: Rendered, src: str) -> str:
    """A rendered email as the admin shows it: who for, the subject, the text, the HTML part
    in a sandboxed frame."""
    html_part = format_html(
        '<iframe sandbox="" class="email-preview-html" title="{}" src="{}"></iframe>', gettext("HTML part"), src,
    ) if rendered.html else ""
    # escape(), not format_html's own: a rendered template is marked safe, and a lead's
    # name from the public form must never become markup on this page.
    recipient = format_html("<strong>{}</strong> &lt;{}&gt;", escape(lead.name), escape(lead.email))
    return format_html(
        '<p>{}</p><p><strong>{}</strong> {}</p><pre class="email-preview-text">{}</pre>{}',
        format_html(gettext("For {recipient}"), recipient=recipient), gettext("Subject:"),
        escape(rendered.subject), escape(rendered.text), html_part,
    )


def sample_lead(employer_id: int) -> m.Lead | None:
    """The lead a preview is rendered for: the employer's newest."""
    return (m.Lead.objects.filter(employer_id=employer_id, erased_at__isnull=True)
            .select_related("employer", "owner", "opening").order_by("-created_at").first())


def render_in(source: m.EmailTemplate | m.EmailTemplateTranslation, lead: m.Lead, language: str) -> Rendered:
    """The template (or a translation) rendered for the lead in that language, as it would be sent."""
    with translation.override(language):
        return render_template(source, template_context(lead))


class EmailTemplateTranslationForm(TenantConsistentForm):
    class Meta:
        model = m.EmailTemplateTranslation
        fields = ("language", "subject", "body_text", "body_html")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("body_text", "body_html"):
            self.fields[name].help_text = template_variables_help()


class EmailTemplateTranslationInline(TenantScopedInline, admin.StackedInline):
    """The template in more languages: a lead whose language has one gets it; the others get
    the template itself (the employer's default language)."""

    model = m.EmailTemplateTranslation
    form = EmailTemplateTranslationForm
    fields = ("language", "subject", "body_text", "body_html", "preview")
    readonly_fields = ("preview",)

    @admin.display(description=_("Preview in this language"))
    def preview(self, obj: m.EmailTemplateTranslation) -> str:
        if obj.pk is None:
            return gettext("Save the translation to see a preview.")
        lead = sample_lead(obj.template.employer_id)
        if lead is None:
            return gettext("No lead yet to preview with.")
        try:
            rendered = render_in(obj, lead, obj.language)
        except TemplateError as exc:
            return str(exc)
        src = reverse("admin:leads_emailtemplate_preview_html", args=[obj.template_id]) + f"?language={obj.language}"
        return preview_html(lead=lead, rendered=rendered, src=src)


@admin.register(m.EmailTemplate)
class EmailTemplateAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "employer", "kind", "subject", "updated_at")
    list_filter = ("kind", ("employer", RelatedOnly))
    search_fields = ("name", "subject")
    list_select_related = ("employer",)
    readonly_fields = ("preview",)
    inlines = (EmailTemplateTranslationInline,)

    class Media:
        css = {"all": ["css/admin-relocate.css"]}

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        for name in ("body_text", "body_html"):
            if name in form.base_fields:
                form.base_fields[name].help_text = template_variables_help()
        return form

    @admin.display(description=_("Preview with a real lead"))
    def preview(self, obj: m.EmailTemplate) -> str:
        """The saved template rendered for the employer's newest lead, as it would be sent, in
        the employer's default language (each translation has its own preview below)."""
        rendered, lead, problem = self._render_preview(obj)
        if problem:
            return problem
        return preview_html(lead=lead, rendered=rendered,
                            src=reverse("admin:leads_emailtemplate_preview_html", args=[obj.pk]))

    @staticmethod
    def _render_preview(obj: m.EmailTemplate, language: str = ""):
        if obj.pk is None:
            return None, None, gettext("Save the template to see a preview.")
        lead = sample_lead(obj.employer_id)
        if lead is None:
            return None, None, gettext("No lead yet to preview with.")
        source: m.EmailTemplate | m.EmailTemplateTranslation | None = obj
        if language:
            source = obj.translations.filter(language=language).first()
            if source is None:
                return None, None, gettext("No translation in this language.")
        try:
            return render_in(source, lead, language or lead.employer.default_language), lead, ""
        except TemplateError as exc:
            return None, None, str(exc)

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_html_view)
        return [
            path("<int:object_id>/preview.html", preview, name="leads_emailtemplate_preview_html"),
            *super().get_urls(),
        ]

    def preview_html_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The HTML part alone (of the translation ``?language=`` names), for the preview's
        sandboxed frame: an email's own inline styles are its design, so this one response allows
        them (and nothing else: no script, no request anywhere), and it may be framed by our own
        admin only."""
        obj = self.get_visible_or_404(request, str(object_id))
        language = request.GET.get("language", "")[:8]
        rendered, _, problem = self._render_preview(obj, language if language in m.Language.values else "")
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
class OutboundEmailAdmin(HistoryAdmin, admin.ModelAdmin):
    # The outbox is written by the follow-up services and claimed by the worker; an edit
    # here could send an email twice or lose one. Operators retry or cancel with actions,
    # which call the outbox services.
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

    @admin.action(description=_("Send again now (failed, cancelled or skipped)"), permissions=["operate"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = outbox_retry(ids=queryset.values_list("pk", flat=True), by=request.user)
        self.message_user(request, gettext("%(count)s email(s) scheduled to send now.") % {"count": count})

    @admin.action(description=_("Cancel scheduled emails"), permissions=["operate"])
    def cancel_scheduled(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = outbox_cancel(ids=queryset.values_list("pk", flat=True), by=request.user)
        self.message_user(request, gettext("%(count)s scheduled email(s) cancelled.") % {"count": count})

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "daily_counts": outbox_daily_counts(self.get_queryset(request))}
        return super().changelist_view(request, extra_context)
