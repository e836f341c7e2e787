"""Actions on a selection of leads. The caller passes a queryset already scoped to the user's
employers; each action checks the rest (the owner's membership, the pipeline rules per lead)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext

from leads.models import Activity, ActivityKind, ClosedReason, Lead, Membership, display_name
from leads.services.followups import followups_pause
from leads.services.pipeline import lead_move_stage

# A selection is a page of the list at most; bigger changes belong in a task.
MAX_SELECTION = 500


@dataclass
class BulkResult:
    done: int = 0
    refused: list[tuple[Lead, str]] = field(default_factory=list)



def leads_bulk_assign(*, leads: QuerySet[Lead], owner, by) -> BulkResult:
    """One UPDATE and one INSERT, whatever the size of the selection."""
    rows = list(leads.exclude(owner_id=owner.pk if owner else None).only("pk", "employer_id")[:MAX_SELECTION])
    if owner is not None:
        allowed = set(Membership.objects.filter(user_id=owner.pk).values_list("employer_id", flat=True))
        if any(row.employer_id not in allowed for row in rows):
            raise ValidationError({"owner": gettext("The owner must be a member of every selected lead's employer.")})
    summary = (f"Assigned to {display_name(owner)}" if owner else "Unassigned") + f" by {display_name(by)} (bulk)"
    with transaction.atomic(durable=True):
        Lead.objects.filter(pk__in=[row.pk for row in rows]).update(owner=owner)
        Activity.objects.bulk_create(
            [Activity(lead_id=row.pk, kind=ActivityKind.SYSTEM, actor=by, summary=summary) for row in rows]
        )
    return BulkResult(done=len(rows))


def leads_bulk_move(
    *, leads: QuerySet[Lead], to_stage: str, by, reason: str = "", closed_reason: ClosedReason | None = None
) -> BulkResult:
    """Each lead moves by the pipeline's rules on its own; a refused one is reported, not fatal."""
    result = BulkResult()
    for lead in leads.select_related("employer")[:MAX_SELECTION]:
        try:
            lead_move_stage(lead=lead, to_stage=to_stage, by=by, reason=reason, closed_reason=closed_reason)
        except ValidationError as exc:
            result.refused.append((lead, " ".join(exc.messages)))
        else:
            result.done += 1
    return result


def leads_bulk_pause(*, leads: QuerySet[Lead], by) -> BulkResult:
    result = BulkResult()
    for lead in leads.filter(followups_paused=False)[:MAX_SELECTION]:
        followups_pause(lead=lead, by=by)
        result.done += 1
    return result
