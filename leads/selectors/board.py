"""The board's columns: one per stage, each its own indexed query, so that a column of a
hundred thousand leads costs what a column of ten does."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from leads.models import MILESTONES, Lead, Stage

BOARD_COLUMN_CAP = 50


@dataclass
class BoardColumn:
    stage: str
    label: str
    leads: list[Lead]
    more: bool


def board_columns(qs: QuerySet[Lead], *, cap: int = BOARD_COLUMN_CAP) -> list[BoardColumn]:
    """The newest ``cap`` cards of each milestone: one indexed query per column, no counting."""
    columns = []
    for stage in MILESTONES:
        rows = list(qs.filter(stage=stage).select_related("owner").order_by("-created_at", "-pk")[: cap + 1])
        columns.append(BoardColumn(stage=stage, label=Stage(stage).label, leads=rows[:cap], more=len(rows) > cap))
    return columns


