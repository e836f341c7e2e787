"""Webhook endpoints (URL, events, the signing secret) and their deliveries, read-only."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from leads import models as m
from leads import webhook_http
from leads.admin.tenancy import HistoryAdmin, RelatedOnly, TenantConsistentForm, TenantScopedAdmin
from leads.services.webhooks import (
    webhook_deliveries_retry,
    webhook_endpoint_reenabled,
    webhook_endpoint_rotate_secret,
    webhook_secret_new,
)

_HEALTH = ("created_at", "last_success_at", "failing_since", "disabled_at", "disabled_reason")


class WebhookEndpointForm(TenantConsistentForm):
    # Declared, not generated: a form class built outside the admin gets none of its overrides.
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         widget=forms.URLInput(attrs={"class": "vURLField", "size": 70}),
                         help_text=m.WebhookEndpoint._meta.get_field("url").help_text)
    events = forms.MultipleChoiceField(
        choices=m.WebhookEvent.choices, widget=forms.CheckboxSelectMultiple,
        help_text=_("The events sent to this URL. Payloads carry ids only; fetch the rest through the API."),
    )
    rotate_secret = forms.BooleanField(
        required=False, label=_("Rotate the secret"),
        help_text=_("Make a new secret on save; the receiver must use it from the next delivery on."),
    )

    class Meta:
        model = m.WebhookEndpoint
        fields = ("employer", "url", "description", "events", "is_active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        problem = webhook_http.url_problem(url)
        if problem:
            raise forms.ValidationError(
                gettext("This URL cannot receive webhooks: %(problem)s.") % {"problem": problem})
        return url

    def clean_events(self) -> list[str]:
        # Kept in the order of the choices, whatever order the browser sent them in.
        chosen = set(self.cleaned_data["events"])
        return [value for value in m.WebhookEvent.values if value in chosen]


@admin.register(m.WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin, admin.ModelAdmin):
    form = WebhookEndpointForm
    # Short columns, so the list fits beside the filters; the events and health are on the row's page.
    list_display = ("url", "description", "is_active", "event_count", "health")
    list_filter = ("is_active", ("employer", RelatedOnly))
    search_fields = ("url", "description")
    list_select_related = ("employer",)
    actions = ("rotate_secrets",)

    def get_fields(self, request: HttpRequest, obj: m.WebhookEndpoint | None = None) -> tuple[str, ...]:
        editable = ("employer", "url", "description", "events", "is_active")
        if obj is None:
            return editable
        secret = ("secret_shown", "rotate_secret") if self.has_change_permission(request, obj) else ()
        return (*editable, *secret, *_HEALTH)

    def get_readonly_fields(self, request: HttpRequest, obj: m.WebhookEndpoint | None = None) -> tuple[str, ...]:
        # An endpoint never moves to another employer: its secret and deliveries are theirs.
        return () if obj is None else ("employer", "secret_shown", *_HEALTH)

    @admin.display(description=_("events"))
    def event_count(self, obj: m.WebhookEndpoint) -> str:
        count = len(obj.events) if isinstance(obj.events, list) else 0
        return gettext("all %(count)s") % {"count": count} if count == len(m.WebhookEvent.values) else str(count)

    @admin.display(description=_("health"))
    def health(self, obj: m.WebhookEndpoint) -> str:
        if obj.disabled_at:
            return gettext("disabled %(at)s UTC") % {"at": f"{obj.disabled_at:%Y-%m-%d %H:%M}"}
        if obj.failing_since:
            return gettext("failing since %(at)s UTC") % {"at": f"{obj.failing_since:%Y-%m-%d %H:%M}"}
        if obj.last_success_at:
            return gettext("last delivered %(at)s UTC") % {"at": f"{obj.last_success_at:%Y-%m-%d %H:%M}"}
        return gettext("nothing sent yet")

    @admin.display(description=_("secret"))
    def secret_shown(self, obj: m.WebhookEndpoint) -> str:
        return format_html(
            '<code>{}</code><div class="help">{}</div>', obj.secret,
            gettext("The receiver verifies the Relocate-Signature header with it (docs/webhooks.md)."),
        )

    def save_model(self, request: HttpRequest, obj: m.WebhookEndpoint, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.secret = webhook_secret_new()
        elif "is_active" in form.changed_data and obj.is_active:
            webhook_endpoint_reenabled(obj)
        super().save_model(request, obj, form, change)
        if change and form.cleaned_data.get("rotate_secret"):
            webhook_endpoint_rotate_secret(endpoint=obj)
            self.message_user(request, gettext("A new secret was made; the old one no longer signs anything."),
                              messages.WARNING)

    @admin.action(description=_("Rotate the secret of selected endpoints"), permissions=("change",))
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for endpoint in queryset:
            webhook_endpoint_rotate_secret(endpoint=endpoint)
            count += 1
        self.message_user(request, gettext("New secrets for %(count)s endpoint(s); update the receivers.")
                          % {"count": count}, messages.WARNING)


@admin.register(m.WebhookDelivery)
class WebhookDeliveryAdmin(HistoryAdmin, admin.ModelAdmin):
    # Written by the events, claimed by the worker: an edit here could send one twice. Operators
    # retry with the action, which calls the service.
    # Short columns, so the list fits beside the filters; the reason and times are on the row's page.
    list_display = ("created_at", "event", "endpoint", "status", "attempts", "last_status_code")
    list_filter = ("status", "event_type", ("endpoint", RelatedOnly), ("employer", RelatedOnly))
    search_fields = ("=event_id",)
    list_select_related = ("endpoint",)
    show_full_result_count = False
    fields = ("employer", "endpoint", "event_type", "event_id", "status", "status_reason", "attempts",
              "created_at", "scheduled_at", "claimed_at", "delivered_at", "body_shown", "last_status_code",
              "last_response_shown", "last_error")
    readonly_fields = fields
    actions = ("retry_now",)

    @admin.display(description=_("event"), ordering="event_type")
    def event(self, obj: m.WebhookDelivery) -> str:
        # The code alone: the long label would push the table off the screen.
        return obj.event_type

    @admin.display(description=_("body (as sent and signed)"))
    def body_shown(self, obj: m.WebhookDelivery) -> str:
        try:
            text = json.dumps(json.loads(obj.body), indent=2)
        except ValueError:
            text = obj.body
        return format_html("<pre>{}</pre>", text)

    @admin.display(description=_("last response"))
    def last_response_shown(self, obj: m.WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", obj.last_response) if obj.last_response else "—"

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(self.employers_allowed(request, "operate"))

    @admin.action(description=_("Retry now (failed or cancelled, to active endpoints)"), permissions=["operate"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = webhook_deliveries_retry(ids=queryset.values_list("pk", flat=True), by=request.user)
        self.message_user(request, ngettext("%(count)s delivery scheduled to send now.",
                                            "%(count)s deliveries scheduled to send now.", count) % {"count": count})

