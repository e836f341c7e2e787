"""API keys: made by the service, which shows the secret once; afterwards renamed or revoked."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads import models as m
from leads.admin.tenancy import RelatedOnly, TenantConsistentForm, TenantScopedAdmin
from leads.services.api_keys import api_key_create, api_keys_revoke


class ApiKeyForm(TenantConsistentForm):
    class Meta:
        model = m.ApiKey
        fields = "__all__"

    def clean(self) -> dict:
        cleaned = super().clean()
        if not any(cleaned.get(f"scope_{scope}") for scope in m.ApiScope.values):
            raise forms.ValidationError(gettext("Choose at least one scope: intake, read or write."))
        return cleaned


@admin.register(m.ApiKey)
class ApiKeyAdmin(TenantScopedAdmin, admin.ModelAdmin):
    form = ApiKeyForm
    # Made by the service, which shows the secret once; afterwards only renamed or revoked.
    list_display = ("prefix", "name", "employer", "scope_list", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("employer", RelatedOnly))
    search_fields = ("=prefix", "name")
    list_select_related = ("employer",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    SCOPES = ("scope_intake", "scope_read", "scope_write")

    def get_fields(self, request: HttpRequest, obj: m.ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("employer", "name", *self.SCOPES)
        return ("employer", "name", *self.SCOPES, *self.readonly_fields)

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: m.ApiKey) -> str:
        return ", ".join(obj.scopes) or gettext("none")

    def get_readonly_fields(self, request: HttpRequest, obj: m.ApiKey | None = None) -> tuple[str, ...]:
        # A key never moves to another employer: that would hand it their leads.
        return self.readonly_fields if obj is None else ("employer", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: m.ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        scopes = [name.removeprefix("scope_") for name in self.SCOPES if getattr(obj, name)]
        key, plaintext = api_key_create(employer=obj.employer, name=obj.name, scopes=scopes)
        obj.scope_intake, obj.scope_read, obj.scope_write = key.scope_intake, key.scope_read, key.scope_write
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
                   "title": gettext("API key created")}
        return render(request, "admin/leads/apikey/created.html", context)

    @admin.action(description=_("Revoke selected API keys"), permissions=("change",))
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = api_keys_revoke(keys=queryset)
        message = gettext("Revoked %(count)s API key(s); they stop working at once.") % {"count": count}
        self.message_user(request, message, messages.SUCCESS)
