"""Saved views of the lead list: its filters kept under a name, private or shared with the
employer, beside the built-in ones every recruiter has."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import QueryDict
from django.utils.translation import gettext as _

from leads.models import Employer, Membership, Role, SavedView

_MAX_PER_USER = 50
# Parameters of the list that are not filters: the kept choices of a failed bulk action (see
# views/bulk.py), the page, the chosen view.
KEPT_CHOICES = ("ticked", "bulk_action", "bulk_owner", "bulk_stage")
NOT_FILTERS = frozenset({*KEPT_CHOICES, "after", "before", "view"})


@dataclass(frozen=True)
class ListView:
    name: str
    query: str
    key: str  # "builtin:mine", or "saved:<id>"
    saved: SavedView | None = None


def builtin_views(user) -> list[ListView]:
    """The views every recruiter has; the dashboard's cards link to the same queries."""
    return [
        ListView(_("My open leads"), urlencode({"owner": user.pk, "open": "on"}), "builtin:mine"),
        ListView(_("Not contacted yet"), urlencode({"contacted": "no", "open": "on"}), "builtin:not-contacted"),
        ListView(_("Waiting for a first contact"), urlencode({"waiting": "on"}), "builtin:waiting"),
        ListView(_("Overdue tasks"), urlencode({"tasks": "overdue"}), "builtin:overdue-tasks"),
        ListView(_("Possible duplicates"), urlencode({"duplicate": "on"}), "builtin:duplicates"),
    ]


def views_for(user, employer_ids: list[int]) -> list[ListView]:
    """Built-in views, then the user's own and the ones shared at their employers, by name."""
    saved = SavedView.objects.filter(employer_id__in=employer_ids).filter(Q(owner=user) | Q(shared=True))
    return [*builtin_views(user),
            *(ListView(v.name, v.query, f"saved:{v.pk}", v) for v in saved.order_by("name", "pk")[:_MAX_PER_USER])]


def clean_query(query: str) -> str:
    """The filters of a list URL's query string, without paging and other non-filters."""
    params = QueryDict(query, mutable=True)
    for name in NOT_FILTERS:
        params.pop(name, None)
    return params.urlencode()


def saved_view_save(*, user, employer: Employer, name: str, query: str, shared: bool) -> SavedView:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    if len(name) > SavedView._meta.get_field("name").max_length:
        raise ValidationError({"name": _("Keep the name under 80 characters.")})
    if not Membership.objects.filter(user=user, employer=employer).exists() and not user.is_superuser:
        raise ValidationError({"employer": _("You do not work for this employer.")})
    query = clean_query(query)
    if len(query) > SavedView._meta.get_field("query").max_length:
        raise ValidationError({"query": _("These filters are too long to save as a view.")})
    if not query:
        raise ValidationError({"query": _("Choose some filters first: a view of everything is the list itself.")})
    with transaction.atomic(durable=True):
        if SavedView.objects.filter(owner=user).count() >= _MAX_PER_USER:
            raise ValidationError(
                {"name": _("You have %(count)s saved views; delete one first.") % {"count": _MAX_PER_USER}})
        try:
            with transaction.atomic():
                return SavedView.objects.create(employer=employer, owner=user, name=name, query=query,
                                                shared=shared)
        except IntegrityError:
            raise ValidationError({"name": _("You already have a view called “%(name)s”.") % {"name": name}}) from None


def saved_view_delete(*, view: SavedView, user) -> None:
    """The owner deletes their view; a shared one may also be deleted by the employer's admins."""
    is_admin = Membership.objects.filter(user=user, employer_id=view.employer_id, role=Role.ADMIN).exists()
    if view.owner_id != user.pk and not (view.shared and is_admin):
        raise ValidationError(_("Only the person who saved this view (or an admin, for a shared one) can delete it."))
    with transaction.atomic(durable=True):
        SavedView.objects.filter(pk=view.pk).delete()
