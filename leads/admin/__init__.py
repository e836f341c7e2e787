"""Django admin for every model, scoped to the employers of non-superuser staff.

``tenancy`` holds the scoping every model admin and inline mixes in; the other modules
register the models by topic. Admin is not a second write path: the lead's history is
read-only, and what admin changes about a lead goes through the services the recruiter UI
calls (``leads/admin/leads.py``).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from leads.admin import (  # noqa: F401
    api_keys,
    audit,
    email,
    employers,
    intake,
    leads,
    next_steps,
    operations,
    privacy,
    timeline,
    webhooks,
)
from leads.admin.tenancy import (
    READ_ONLY,
    HistoryAdmin,
    ReadOnlyInline,
    SuperuserOnlyAdmin,
    TenantConsistentForm,
    TenantScopedAdmin,
    TenantScopedInline,
    follow,
    is_tenant_model,
    member_employer_ids,
    tenant_id_of,
)

admin.site.site_header = _("Relocate administration")
admin.site.site_title = _("Relocate admin")
admin.site.index_title = _("Employers, leads, follow-ups and reports")

__all__ = [
    "READ_ONLY", "HistoryAdmin", "ReadOnlyInline", "SuperuserOnlyAdmin", "TenantConsistentForm", "TenantScopedAdmin",
    "TenantScopedInline", "follow", "is_tenant_model", "member_employer_ids", "tenant_id_of",
]
