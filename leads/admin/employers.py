"""Employers and their people, openings, closed reasons and skills."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads import models as m
from leads.admin.tenancy import RelatedOnly, TenantConsistentForm, TenantScopedAdmin


class EmployerForm(TenantConsistentForm):
    """The public form's languages as checkboxes; the default language must be one of them."""

    languages = forms.MultipleChoiceField(
        choices=m.Language.choices, widget=forms.CheckboxSelectMultiple, required=True,
        help_text=_("The languages the public form and its pages offer; emails fall back to the default language."),
    )

    class Meta:
        model = m.Employer
        fields = "__all__"

    def clean(self):
        data = super().clean()
        default, languages = data.get("default_language"), data.get("languages")
        if default and languages and default not in languages:
            self.add_error("default_language",
                           gettext("The default language must be one of the languages enabled above."))
        return data


@admin.register(m.Employer)
class EmployerAdmin(TenantScopedAdmin, admin.ModelAdmin):
    form = EmployerForm
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
