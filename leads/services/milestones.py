"""The milestone times a lead keeps on its own row, derived from its StageEvent history.

For each milestone after `new`, ``reached_<milestone>_at`` is the first time the lead entered
that milestone or one beyond it, so a lead that skipped `applied` on its way to `interviewing`
reached `applied` when it reached `interviewing`, and times never go backwards along the
funnel. ``visa_entered_at`` and ``visa_left_at`` are its first move into `visa` and its first
move out of it. ``StageEvent.left_at`` is when the lead left the stage an event entered: the
time of its next event, in (at, id) order.

The pipeline keeps them as it appends each event (``apply_event``); ``refresh`` recomputes
them from the history, for a merge (two histories become one) and for the migration that
filled them in. tests/test_reports_milestones.py proves both give the same values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection

from leads.models import MILESTONE_RANK, MILESTONES, Lead, Stage

REACHED_FIELDS: tuple[str, ...] = tuple(f"reached_{stage}_at" for stage in MILESTONES[1:])
FIELDS: tuple[str, ...] = (*REACHED_FIELDS, "visa_entered_at", "visa_left_at")


def reached_field(stage: str) -> str:
    """The lead column of the first time at ``stage`` or beyond (not for `new`: created_at)."""
    return f"reached_{stage}_at"


def apply_event(lead: Lead, *, from_stage: str, to_stage: str, at: dt.datetime) -> list[str]:
    """Update ``lead``'s milestone times for one more event of its history; the changed fields."""
    changed = []

    def earliest(name: str) -> None:
        value = getattr(lead, name)
        if value is None or at < value:
            setattr(lead, name, at)
            changed.append(name)

    rank = MILESTONE_RANK.get(to_stage, 0)
    for stage in MILESTONES[1:rank + 1]:
        earliest(reached_field(stage))
    if to_stage == Stage.VISA:
        earliest("visa_entered_at")
    if from_stage == Stage.VISA:
        earliest("visa_left_at")
    return changed


def _stage_list(stages: Iterable[str]) -> str:
    # Stage codes are the model's own constants, never input: safe to put in the SQL.
    return ", ".join(f"'{stage}'" for stage in stages)


def _reached_sql() -> str:
    parts = [
        f"MIN(at) FILTER (WHERE to_stage IN ({_stage_list(MILESTONES[rank:])})) AS r{rank}"
        for rank in range(1, len(MILESTONES))
    ]
    parts += ["MIN(at) FILTER (WHERE to_stage = 'visa') AS ve", "MIN(at) FILTER (WHERE from_stage = 'visa') AS vl"]
    return ", ".join(parts)


def refresh(lead_ids: Iterable[int] | None = None) -> None:
    """Recompute the milestone times and the events' ``left_at`` from the history: of the given
    leads, or of every lead (None). Two statements whatever the number of leads."""
    ids = None if lead_ids is None else sorted(set(lead_ids))
    if ids == []:
        return
    where, params = ("", []) if ids is None else (f"WHERE lead_id IN ({', '.join(['%s'] * len(ids))})", ids)
    columns = [*(reached_field(stage) for stage in MILESTONES[1:]), "visa_entered_at", "visa_left_at"]
    aliases = [f"r{rank}" for rank in range(1, len(MILESTONES))] + ["ve", "vl"]
    assignments = ", ".join(f"{column} = s.{alias}" for column, alias in zip(columns, aliases, strict=True))
    lead_where = "" if ids is None else f"AND leads_lead.id IN ({', '.join(['%s'] * len(ids))})"
    with connection.cursor() as cursor:
        # A lead with no event at all keeps NULLs: it never moved.
        cursor.execute(
            f"UPDATE leads_lead SET {assignments} FROM ("  # noqa: S608 - constants and placeholders only
            f"SELECT lead_id, {_reached_sql()} FROM leads_stageevent {where} GROUP BY lead_id"
            f") s WHERE s.lead_id = leads_lead.id {lead_where}",
            params + params,
        )
        cursor.execute(
            "UPDATE leads_stageevent SET left_at = n.next_at FROM ("  # noqa: S608 - as above
            f"SELECT id, LEAD(at) OVER (PARTITION BY lead_id ORDER BY at, id) AS next_at FROM leads_stageevent {where}"
            ") n WHERE n.id = leads_stageevent.id AND leads_stageevent.left_at IS DISTINCT FROM n.next_at",
            params,
        )
