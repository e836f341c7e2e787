"""The board's reads: a column per stage (the milestones, then the closed stages), each column's
count for the whole filter and its cards a page at a time.

Each column is its own query on the ``lead_emp_stage_created`` index (employer, stage, -created_at, -id),
paged by keyset on (created_at, id) like the list: the 50th page of a column of 400,000 leads
costs what the first does. The counts are one GROUP BY over the filtered leads.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from leads.models import CLOSED_STAGES, MILESTONES, Lead, Stage
from leads.selectors.leads import LeadPage, lead_page

BOARD_COLUMN_CAP = 25
# A column counts up to this many leads and shows "1,000+" beyond: each count reads at most this
# many rows, so a column of 400,000 leads costs what one of 1,000 does.
BOARD_COUNT_CAP = 1_000
# Closed stages in the order Stage declares them, after the milestones.
BOARD_STAGES: tuple[str, ...] = (*MILESTONES, *(s for s in Stage.values if s in CLOSED_STAGES))


@dataclass
class BoardColumn:
    stage: str
    label: str
    count: int  # at most BOARD_COUNT_CAP + 1: above the cap it means "more than the cap"
    leads: list[Lead]
    next_cursor: str | None  # where the column's next page starts; None when it is all shown

    @property
    def closed(self) -> bool:
        return self.stage in CLOSED_STAGES

    @property
    def more(self) -> bool:
        return self.next_cursor is not None

    @property
    def capped(self) -> bool:
        return self.count > BOARD_COUNT_CAP


def board_counts(qs: QuerySet[Lead], *, cap: int = BOARD_COUNT_CAP) -> dict[str, int]:
    """How many of the filtered leads are at each stage, each count stopping at ``cap`` + 1 (an
    index range of the employer and stage, never the whole column: measured at 650,000 leads, one
    GROUP BY over them took ~450 ms)."""
    return {stage: qs.filter(stage=stage).order_by()[: cap + 1].count() for stage in BOARD_STAGES}


def board_column_page(qs: QuerySet[Lead], stage: str, *, cursor: str = "", size: int | None = None) -> LeadPage:
    """One page of a column, newest first, after ``cursor`` (a tampered cursor is page one)."""
    return lead_page(qs.filter(stage=stage), sort="newest", cursor=cursor,
                     size=BOARD_COLUMN_CAP if size is None else size)


def board_columns(qs: QuerySet[Lead], *, size: int | None = None) -> list[BoardColumn]:
    """Every column with its count and first page: 1 + one query per column, whatever the sizes."""
    counts = board_counts(qs)
    columns = []
    for stage in BOARD_STAGES:
        page = board_column_page(qs, stage, size=size)
        columns.append(BoardColumn(stage=stage, label=Stage(stage).label, count=counts[stage], leads=page.leads,
                                   next_cursor=page.next_cursor))
    return columns
