"""Moving a lead through the pipeline, with the rules of the product.

- A lead may skip forward between milestones freely.
- Moving backwards, or reopening a closed lead, needs a reason.
- Closing (declined, withdrawn, unresponsive) needs a closed reason from the employer's list.
- The first move out of `new` stamps ``first_contacted_at``.
- Every move appends a StageEvent; ``furthest_stage`` only ever moves forward.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import CLOSED_STAGES, MILESTONE_RANK, ClosedReason, Lead, Stage, StageEvent, WebhookEvent
from leads.services import milestones
from leads.services.followups import followups_after_move
from leads.services.webhooks import stage_changed_data, webhook_emit

_CLOCK_SKEW = dt.timedelta(minutes=5)
# Fields the move writes; copied back onto the caller's instance afterwards.
_MOVED_FIELDS = (
    "stage", "furthest_stage", "closed_reason", "first_contacted_at", "stage_changed_at", "last_activity_at",
    *milestones.FIELDS,
)


class StageMoveError(ValidationError):
    """A move the pipeline rules refuse; the message says why, for the person who tried."""


def lead_move_stage(
    *,
    lead: Lead,
    to_stage: str,
    by=None,
    reason: str = "",
    closed_reason: ClosedReason | None = None,
    at: dt.datetime | None = None,
    api_key=None,
) -> StageEvent:
    """Move ``lead`` to ``to_stage`` and record the move; raises StageMoveError when refused.
    An entry point: its own transaction, never inside another (stage_move_step is the step
    other services take inside theirs)."""
    with transaction.atomic(durable=True):
        return stage_move_step(lead=lead, to_stage=to_stage, by=by, reason=reason, closed_reason=closed_reason,
                               at=at, api_key=api_key)


def stage_move_step(
    *,
    lead: Lead,
    to_stage: str,
    by=None,
    reason: str = "",
    closed_reason: ClosedReason | None = None,
    at: dt.datetime | None = None,
    api_key=None,
) -> StageEvent:
    """The move as a step of the caller's transaction (a logged call that moves a new lead)."""
    reason = (reason or "").strip()
    with transaction.atomic(savepoint=False):
        # Lock the row: two recruiters moving the same lead at once take turns, and each
        # sees the stage the other left.
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        # Read the clock only once the lock is held, so a move that waited for another is
        # never dated before it.
        now = timezone.now()
        at = at or now
        _check_move(locked, to_stage, reason, closed_reason, at, now)
        event = StageEvent.objects.create(
            employer_id=locked.employer_id,
            lead=locked,
            from_stage=locked.stage,
            to_stage=to_stage,
            at=at,
            by=by,
            reason=reason,
            closed_reason=closed_reason if to_stage in CLOSED_STAGES else None,
            recorded_at=now,
            api_key=api_key,
        )
        webhook_emit(employer_id=locked.employer_id, event=WebhookEvent.LEAD_STAGE_CHANGED,
                     data=stage_changed_data(event), at=now)
        # The stay the move ends: the lead's one event not yet left (moves are never dated
        # before the last one, so it is the latest).
        StageEvent.objects.filter(lead=locked, left_at__isnull=True).exclude(pk=event.pk).update(left_at=at)
        milestones.apply_event(locked, from_stage=locked.stage, to_stage=to_stage, at=at)
        _apply_move(locked, to_stage, closed_reason, at)
        locked.save(update_fields=[*_MOVED_FIELDS, "updated_at"])
        followups_after_move(lead=locked)
    for field in _MOVED_FIELDS:
        setattr(lead, field, getattr(locked, field))
    return event


def needs_reason(from_stage: str, to_stage: str) -> bool:
    """Whether a move needs a written reason (backwards or reopening); used by forms too."""
    if to_stage in CLOSED_STAGES:
        return False
    if from_stage in CLOSED_STAGES:
        return True
    return MILESTONE_RANK[to_stage] < MILESTONE_RANK[from_stage]


def _check_move(
    lead: Lead, to_stage: str, reason: str, closed_reason: ClosedReason | None, at: dt.datetime, now: dt.datetime
) -> None:
    if to_stage not in Stage.values:
        raise StageMoveError(_("Unknown stage %(stage)s.") % {"stage": repr(to_stage)}, code="unknown_stage")
    if lead.is_erased:
        raise StageMoveError(_("This lead's data was erased; it cannot move."), code="erased")
    if to_stage == lead.stage:
        raise StageMoveError(_("The lead is already at %(stage)s.") % {"stage": Stage(to_stage).label},
                             code="same_stage")
    if at > now + _CLOCK_SKEW:
        raise StageMoveError(_("A move cannot be dated in the future."), code="future")
    if at < lead.stage_changed_at:
        raise StageMoveError(_("A move cannot be dated before the lead's last move."), code="out_of_order")
    if to_stage in CLOSED_STAGES:
        _check_closed_reason(lead, to_stage, closed_reason)
    elif closed_reason is not None:
        raise StageMoveError(_("A closed reason only goes with closing a lead."), code="reason_not_closing")
    if needs_reason(lead.stage, to_stage) and not reason:
        message = (_("Reopening a closed lead needs a reason.") if lead.stage in CLOSED_STAGES
                   else _("Moving a lead backwards needs a reason."))
        raise StageMoveError(message, code="reason_required")


def _check_closed_reason(lead: Lead, to_stage: str, closed_reason: ClosedReason | None) -> None:
    label = str(Stage(to_stage).label).lower()
    if closed_reason is None:
        raise StageMoveError(_("Choose why the lead is %(stage)s.") % {"stage": label}, code="closed_reason_required")
    if closed_reason.employer_id != lead.employer_id or not closed_reason.fits(to_stage):
        raise StageMoveError(
            _("“%(reason)s” is not a reason for %(stage)s at this employer.") % {"reason": closed_reason.label,
                                                                                 "stage": label},
            code="closed_reason_invalid",
        )


def _apply_move(lead: Lead, to_stage: str, closed_reason: ClosedReason | None, at: dt.datetime) -> None:
    if lead.stage == Stage.NEW and lead.first_contacted_at is None:
        lead.first_contacted_at = at
    if to_stage in MILESTONE_RANK and MILESTONE_RANK[to_stage] > MILESTONE_RANK[lead.furthest_stage]:
        lead.furthest_stage = to_stage
    lead.closed_reason = closed_reason if to_stage in CLOSED_STAGES else None
    lead.stage = to_stage
    lead.stage_changed_at = at
    lead.last_activity_at = max(lead.last_activity_at, at)
