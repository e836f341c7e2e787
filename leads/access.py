"""Tenancy: which rows a user may see. Every query that serves a request goes through here."""

from __future__ import annotations

from typing import TypeVar

from django.db import models

from leads.models import Membership

M = TypeVar("M", bound=models.Model)


def employer_ids(user, *, role: str | None = None) -> models.QuerySet:
    """A subquery of the ids of the employers the user belongs to (optionally in a role)."""
    memberships = Membership.objects.filter(user_id=user.pk)
    if role:
        memberships = memberships.filter(role=role)
    return memberships.values("employer_id")


def tenant_path(model: type[models.Model]) -> str:
    """The lookup from a model to its employer's id, declared on the model or found by field."""
    path = getattr(model, "TENANT_PATH", None)
    if path:
        return path
    if model._meta.model_name == "employer":
        return "id"
    return "employer_id"


def scope(queryset: models.QuerySet[M], user) -> models.QuerySet[M]:
    """Rows of the user's employers only; everything for a superuser; nothing for others."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    return queryset.filter(**{f"{tenant_path(queryset.model)}__in": employer_ids(user)})


