"""The tenancy machinery of the admin: every model admin and inline is scoped to the employers of
non-superuser staff.

Superusers see and manage everything. Other staff see the rows of the employers they belong
to, change them only where they are an employer admin (or hold the Django model permission),
and get 404 for anything else, as everywhere else in the app.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.exceptions import DisallowedModelAdminToField
from django.contrib.admin.options import TO_FIELD_VAR
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext

from leads import models as m
from leads.access import employer_ids, scope, tenant_path

User = get_user_model()

RelatedOnly = admin.RelatedOnlyFieldListFilter

# The ``allowed_actions`` of history: rows written by the services only, shown as they are.
READ_ONLY: frozenset[str] = frozenset()


# --- tenancy helpers ----------------------------------------------------------------------


def is_tenant_model(model: type[models.Model]) -> bool:
    """Whether rows of the model belong to one employer (everything but the heartbeat)."""
    if model is m.Employer or getattr(model, "TENANT_PATH", None):
        return True
    try:
        return model._meta.get_field("employer").related_model is m.Employer
    except FieldDoesNotExist:
        return False


def follow(obj: Any, path: str) -> Any:
    """Follows a lookup path ("lead__employer_id") through attributes; None where it breaks."""
    for part in path.split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def tenant_id_of(obj: models.Model | None) -> int | None:
    """The id of the employer an object belongs to, following the model's tenant path."""
    return None if obj is None else follow(obj, tenant_path(type(obj)))


def member_employer_ids(request: HttpRequest, role: str | None = None) -> frozenset[int]:
    """The employers of the request's user (in a role), read once per request.

    Admin pages ask for permissions dozens of times per page; one query each would add up.
    """
    cache: dict[str | None, frozenset[int]] = request.__dict__.setdefault("_tenant_employer_ids", {})
    if role not in cache:
        cache[role] = frozenset(row["employer_id"] for row in employer_ids(request.user, role=role))
    return cache[role]


class TenantConsistentForm(forms.ModelForm):
    """Refuses links across employers: a lead's opening, a step's template, a note's lead, ...

    Scoped choices stop a user reaching another employer's rows, but a user of two employers,
    or a superuser, could still tie rows of different employers together.
    """

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model = self._meta.model
        own_field, tenant = self._own_tenant()
        if tenant is None and model is not m.Employer:
            return cleaned  # the employer itself is missing or invalid: that error is enough
        for name, value in list(cleaned.items()):
            field = self._model_field(name)
            if field is None or name == own_field or value is None:
                continue
            if field.related_model is User:
                self._check_member(name, value, tenant, own_field)
            elif is_tenant_model(field.related_model):
                values = value if field.many_to_many else [value]
                if any(tenant_id_of(v) != tenant for v in values):
                    self.add_error(name, gettext("This belongs to another employer."))
        return cleaned

    def _model_field(self, name: str) -> models.Field | None:
        try:
            field = self._meta.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field if field.is_relation else None

    def _own_tenant(self) -> tuple[str | None, int | None]:
        """The field that names this object's employer (or its parent) and that employer's id."""
        first, _, rest = tenant_path(self._meta.model).partition("__")
        if first == "id":
            return None, self.instance.pk
        name = self._meta.model._meta.get_field(first).name
        parent = self.cleaned_data.get(name) if name in self.fields else getattr(self.instance, name, None)
        return name, follow(parent, rest or "pk")

    def _check_member(self, name: str, user: Any, tenant: int | None, own_field: str | None) -> None:
        # Membership.user is the membership being made; older rows may name people who left.
        if self._meta.model is m.Membership or not {name, own_field} & set(self.changed_data):
            return
        if not m.Membership.objects.filter(user_id=user.pk, employer_id=tenant).exists():
            self.add_error(name, gettext("This person is not a member of this employer."))


# --- the mixins ---------------------------------------------------------------------------


class _TenantScoping:
    """What model admins and inlines share: scoped rows, permissions and choices."""

    form = TenantConsistentForm
    # Narrows what anyone (superusers too) may do: history and the outbox are append-only.
    allowed_actions: frozenset[str] = frozenset({"add", "change", "delete"})
    # Actions a non-superuser may never take on this model, whatever their role.
    superuser_only_actions: frozenset[str] = frozenset()
    # Django 6 makes https the default; profile URLs are stored as https already.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    opts: Any
    admin_site: admin.AdminSite

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope(super().get_queryset(request), request.user)  # type: ignore[misc]

    def employers_allowed(self, request: HttpRequest, action: str) -> frozenset[int]:
        """The employers whose rows of this model the user may `action` (view/add/change/delete)."""
        if action == "view":
            return member_employer_ids(request)
        codename = get_permission_codename(action, self.opts)
        if request.user.has_perm(f"{self.opts.app_label}.{codename}"):
            return member_employer_ids(request)
        return member_employer_ids(request, m.Role.ADMIN)

    def permits(self, request: HttpRequest, action: str, obj: models.Model | None) -> bool:
        """`obj` is the object itself on a model admin and the parent object on an inline."""
        if action != "view" and action not in self.allowed_actions:
            return False
        if request.user.is_superuser:
            return True
        if action in self.superuser_only_actions:
            return False
        allowed = self.employers_allowed(request, action)
        return bool(allowed) if obj is None else tenant_id_of(obj) in allowed

    def writable_employer_ids(self, request: HttpRequest) -> frozenset[int]:
        return self.employers_allowed(request, "add") | self.employers_allowed(request, "change")

    def scoped_choices(self, db_field: models.Field, request: HttpRequest, using: str | None) -> QuerySet:
        model = db_field.related_model
        queryset = self.get_field_queryset(using, db_field, request)  # type: ignore[attr-defined]
        if queryset is None:
            queryset = model._default_manager.using(using).all()
        if model is User:
            members = m.Membership.objects.filter(employer_id__in=member_employer_ids(request))
            return queryset.filter(pk__in=members.values("user_id"))
        if is_tenant_model(model):
            return queryset.filter(**{f"{tenant_path(model)}__in": self.writable_employer_ids(request)})
        return queryset

    def formfield_for_foreignkey(self, db_field: models.Field, request: HttpRequest, **kwargs: Any):
        if not request.user.is_superuser and "queryset" not in kwargs:
            kwargs["queryset"] = self.scoped_choices(db_field, request, kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: models.Field, request: HttpRequest, **kwargs: Any):
        if not request.user.is_superuser and "queryset" not in kwargs:
            kwargs["queryset"] = self.scoped_choices(db_field, request, kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


class TenantScopedAdmin(_TenantScoping):
    """Mix into a ModelAdmin for a model that belongs to an employer."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(member_employer_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "view", obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.permits(request, "add", None)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "delete", obj)

    # Another employer's object answers 404, not the admin's "doesn't exist" redirect.
    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        self.get_visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        self.get_visible_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        self.get_visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]

    def get_visible_or_404(self, request: HttpRequest, object_id: str) -> models.Model:
        to_field = request.POST.get(TO_FIELD_VAR, request.GET.get(TO_FIELD_VAR))
        if to_field and not self.to_field_allowed(request, to_field):  # type: ignore[attr-defined]
            raise DisallowedModelAdminToField(f"The field {to_field} cannot be referenced.")
        obj = self.get_object(request, unquote(object_id), to_field)  # type: ignore[attr-defined]
        if obj is None:
            raise Http404("No such object.")
        return obj

    def get_actions(self, request: HttpRequest) -> dict[str, tuple[Callable, str, str]]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return actions
        return {name: (self.restrict_action(func), name, text) for name, (func, _, text) in actions.items()}

    def restrict_action(self, func: Callable) -> Callable:
        """Runs a bulk action on the selected rows of employers where the user may take it.

        Django checks an action's permission for the model, not per row: an admin at one
        employer and recruiter at another must not bulk-delete the second one's leads.
        """
        needed = getattr(func, "allowed_permissions", ("change",))
        path = f"{tenant_path(self.opts.model)}__in"

        @functools.wraps(func)
        def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
            for permission in needed:
                queryset = queryset.filter(**{path: self.employers_allowed(request, permission)})
            return func(modeladmin, request, queryset)

        return action

    def get_deleted_objects(self, objs: Iterable[models.Model], request: HttpRequest) -> tuple:
        # Append-only rows cannot be deleted one by one, but go with the lead they belong to.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
        perms_needed -= {
            model._meta.verbose_name
            for model, model_admin in self.admin_site._registry.items()
            if getattr(model_admin, "deleted_with_parent", False)
        }
        return deleted, counts, perms_needed, protected


class TenantScopedInline(_TenantScoping):
    """Mix into an inline; permissions follow the parent object's employer."""

    extra = 0

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "view", obj)

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "add", obj)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.permits(request, "delete", obj)


class ReadOnlyInline(TenantScopedInline):
    """History shown on its parent's page, never edited there."""

    allowed_actions = READ_ONLY

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> Iterable[str]:
        return self.fields  # type: ignore[attr-defined]


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Rows that belong to no employer: only superusers see them; ``editable`` says whether they
    may change them too."""

    editable = True

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.editable and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.editable and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.editable and request.user.is_superuser


class HistoryAdmin(TenantScopedAdmin):
    """Rows the services write and nobody edits (the lead's history, the outbox): shown here as
    they are, deleted only with the lead or employer they belong to."""

    allowed_actions = READ_ONLY
    deleted_with_parent = True
