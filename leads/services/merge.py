"""Merging a flagged duplicate into a lead: everything of both is kept on the one that stays.

Every inquiry, note, activity, stage event, outbound email, task, citizenship and skill of the
other lead moves to the kept one; the profile fills its blanks from the other; the other's
identity (its email among them) is written on the kept lead's timeline; then the other
lead row goes. Its scheduled follow-ups are cancelled with the reason (the kept lead has
its own sequence), never deleted.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from leads import profile
from leads.i18n import stored_text
from leads.models import (
    MILESTONE_RANK,
    Activity,
    ActivityKind,
    AuditAction,
    Citizenship,
    Consent,
    ConsentPurpose,
    Inquiry,
    Lead,
    MergedLead,
    Note,
    OutboundEmail,
    OutboundStatus,
    PossibleDuplicate,
    StageEvent,
    Task,
    display_name,
)
from leads.services import milestones
from leads.services.activity import activity_record
from leads.services.audit import audit_record
from leads.services.outbox import FOLLOWUP_KINDS

# What the kept lead takes from the other when its own is empty: the declared profile fields a
# merge fills (leads/profile.py), and the consent.
_FILLABLE = (*profile.MERGE_FIELDS, "privacy_accepted_at")


def lead_merge(*, lead: Lead, other: Lead, by) -> Lead:
    """Merge ``other`` into ``lead``; the two must be flagged as possible duplicates."""
    if lead.pk == other.pk:
        raise ValidationError(_("A lead cannot be merged into itself."))
    if lead.employer_id != other.employer_id:
        raise ValidationError(_("Only leads of the same employer can be merged."))
    with transaction.atomic(durable=True):
        # Lock both in id order, so two merges of the same pair cannot deadlock.
        locked = {row.pk: row for row in Lead.objects.select_for_update().filter(pk__in=[lead.pk, other.pk])
                  .order_by("pk")}
        if len(locked) != 2:
            raise ValidationError(_("The other lead no longer exists; it may have been merged already."))
        kept, gone = locked[lead.pk], locked[other.pk]
        _check_flagged(kept, gone)
        summary = _identity(gone)
        _move_children(kept, gone)
        # Two histories are one now: the milestone times and stays are the union's.
        milestones.refresh([kept.pk])
        _fill_profile(kept, gone)
        _repoint_duplicate_flags(kept, gone)
        # The other lead's address (and the addresses of leads merged into it) lead here now.
        MergedLead.objects.filter(kept=gone).update(kept=kept)
        MergedLead.objects.create(employer_id=kept.employer_id, merged_id=gone.pk, kept=kept, by=by)
        gone.delete()
        activity_record(lead=kept, kind=ActivityKind.SYSTEM, actor=by,
                        summary=f"Merged {gone.name} <{gone.email}> into this lead", details=summary, touch=False)
        audit_record(action=AuditAction.MERGED, employer_id=kept.employer_id, lead_id=kept.pk, user=by,
                     detail=f"merged lead {other.pk}")  # gone.pk is None once deleted
    lead.refresh_from_db()
    return lead


def _check_flagged(kept: Lead, gone: Lead) -> None:
    flagged = PossibleDuplicate.objects.filter(
        Q(lead=kept, other=gone) | Q(lead=gone, other=kept), dismissed_at__isnull=True
    ).exists()
    if not flagged:
        raise ValidationError(_("These leads are not flagged as possible duplicates."))
    if kept.is_erased or gone.is_erased:
        raise ValidationError(_("An erased lead cannot be merged."))


def _identity(gone: Lead) -> str:
    """What the other lead was, kept as text a recruiter reads: nothing about it is lost with its row."""
    with stored_text():
        return _identity_lines(gone)


def _identity_lines(gone: Lead) -> str:
    lines = [f"Email: {gone.email}", f"Name: {gone.name}", f"Source: {gone.get_source_display()}",
             f"Stage: {gone.get_stage_display()}", f"Created: {gone.created_at:%Y-%m-%d %H:%M} UTC",
             f"Lead id: {gone.pk}"]
    for name in profile.MERGE_FIELDS:
        value = getattr(gone, name)
        if value not in (None, ""):
            lines.append(f"{profile.BY_NAME[name].label}: {profile.as_label(name, value)}")
    if gone.owner_id:
        lines.append(f"Owner: {display_name(gone.owner)}")
    return "\n".join(lines)


def merge_preview(lead: Lead, other: Lead) -> dict:
    """What a merge of ``other`` into ``lead`` would do, for the page that asks to confirm it."""
    filled, kept = [], []
    for name in profile.MERGE_FIELDS:
        mine, theirs = getattr(lead, name), getattr(other, name)
        if theirs in (None, ""):
            continue
        label = profile.BY_NAME[name].label
        if mine in (None, ""):
            filled.append((label, profile.as_label(name, theirs)))
        elif profile.as_json(name, mine) != profile.as_json(name, theirs):
            kept.append((label, profile.as_label(name, mine), profile.as_label(name, theirs)))
    # (what, how many): the page shows them as "3 notes".
    counts = [
        (gettext("inquiries"), Inquiry.objects.filter(lead=other).count()),
        (gettext("notes"), Note.objects.filter(lead=other).count()),
        (gettext("timeline entries"), Activity.objects.filter(lead=other).count()),
        (gettext("emails"), OutboundEmail.objects.filter(lead=other).count()),
        (gettext("tasks"), Task.objects.filter(lead=other).count()),
    ]
    return {"filled": filled, "kept": kept, "moving": [(label, n) for label, n in counts if n]}


def _move_children(kept: Lead, gone: Lead) -> None:
    OutboundEmail.objects.filter(lead=gone, kind__in=FOLLOWUP_KINDS, status=OutboundStatus.SCHEDULED).update(
        status=OutboundStatus.CANCELLED, status_reason=f"merged into lead {kept.pk}"
    )
    # The other lead's consents are the person's too: they move, and the kept lead's news flag is
    # what its latest news row says (_fill_profile reads it from the rows).
    for model in (Inquiry, Note, Activity, StageEvent, OutboundEmail, Task, Consent):
        model.objects.filter(lead=gone).update(lead=kept)
    Inquiry.objects.filter(lead=kept).update(is_repeat=True)
    first = Inquiry.objects.filter(lead=kept).order_by("received_at", "pk").first()
    if first:
        Inquiry.objects.filter(pk=first.pk).update(is_repeat=False)
    Citizenship.objects.bulk_create(
        [Citizenship(lead=kept, country=c.country) for c in Citizenship.objects.filter(lead=gone)],
        ignore_conflicts=True,
    )
    kept.skills.add(*gone.skills.all())


def _fill_profile(kept: Lead, gone: Lead) -> None:
    changed = []
    for name in _FILLABLE:
        if getattr(kept, name) in (None, "") and getattr(gone, name) not in (None, ""):
            setattr(kept, name, getattr(gone, name))
            changed.append(name)
    if MILESTONE_RANK[gone.furthest_stage] > MILESTONE_RANK[kept.furthest_stage]:
        kept.furthest_stage = gone.furthest_stage
        changed.append("furthest_stage")
    # The earliest interest and contact of either count for the reports.
    if gone.created_at < kept.created_at:
        kept.created_at = gone.created_at
        changed.append("created_at")
    if gone.first_contacted_at and (not kept.first_contacted_at or gone.first_contacted_at < kept.first_contacted_at):
        kept.first_contacted_at = gone.first_contacted_at
        changed.append("first_contacted_at")
    if gone.last_activity_at > kept.last_activity_at:
        kept.last_activity_at = gone.last_activity_at
        changed.append("last_activity_at")
    if not kept.owner_id and gone.owner_id:
        kept.owner_id = gone.owner_id
        changed.append("owner")
    news = Consent.objects.filter(lead=kept, purpose=ConsentPurpose.NEWS).order_by("-at", "-pk").first()
    if news is not None and kept.marketing_opt_in != news.granted:
        kept.marketing_opt_in = news.granted
        changed.append("marketing_opt_in")
    for flag in ("followups_paused",):
        if getattr(gone, flag) and not getattr(kept, flag):
            setattr(kept, flag, True)
            changed.append(flag)
    if gone.unsubscribed_at and not kept.unsubscribed_at:
        # The person asked one of the two to stop: that holds for the one that stays.
        kept.unsubscribed_at = gone.unsubscribed_at
        changed.append("unsubscribed_at")
    kept.updated_at = timezone.now()
    kept.save(update_fields=[*changed, "updated_at"])


def _repoint_duplicate_flags(kept: Lead, gone: Lead) -> None:
    """The other's flags with third leads move to the kept lead; the pair's own flags go."""
    PossibleDuplicate.objects.filter(Q(lead=kept, other=gone) | Q(lead=gone, other=kept)).delete()
    moved = []
    for flag in PossibleDuplicate.objects.filter(Q(lead=gone) | Q(other=gone)):
        third = flag.other_id if flag.lead_id == gone.pk else flag.lead_id
        moved.append(PossibleDuplicate(
            employer_id=kept.employer_id, lead_id=max(kept.pk, third), other_id=min(kept.pk, third),
            reason=flag.reason, created_at=flag.created_at, dismissed_at=flag.dismissed_at,
        ))
    PossibleDuplicate.objects.bulk_create(moved, ignore_conflicts=True)


def duplicates_dismiss(*, lead: Lead, other: Lead, by) -> int:
    """A recruiter says the two leads are different people: the open flags between them close,
    and the decision is on both timelines. Returns the number of flags dismissed."""
    pair = Q(lead=lead, other=other) | Q(lead=other, other=lead)
    with transaction.atomic(durable=True):
        dismissed = PossibleDuplicate.objects.filter(pair, dismissed_at__isnull=True).update(
            dismissed_at=timezone.now()
        )
        if not dismissed:
            raise ValidationError(_("These two leads are not flagged as possible duplicates."))
        name = display_name(by)
        for one, two in ((lead, other), (other, lead)):
            activity_record(lead=one, kind=ActivityKind.SYSTEM, actor=by, touch=False,
                            summary=f"Not the same person as {two.name} <{two.email}> (checked by {name})")
    return dismissed
