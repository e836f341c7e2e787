"""API keys: made by the service, which shows the secret once; afterwards renamed or revoked."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from leads import models as m
from leads.admin.tenancy import RelatedOnly, TenantScopedAdmin
from leads.services.api_keys import api_key_create, api_keys_revoke


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
