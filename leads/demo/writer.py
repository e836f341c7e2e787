"""Writing planned leads in bulk: one batch of leads with all their rows per call.

On PostgreSQL the rows go in with COPY (several times faster than INSERT for a million leads
with histories), the ids of leads and of their follow-up emails reserved first from the tables'
own sequences so that the rows pointing at them (children, replies) can. Elsewhere
``bulk_create`` does the job; it needs the database to return the new ids, which SQLite 3.35+
and PostgreSQL do.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandError
from django.db import connection, models

from leads import emails
from leads.demo.followups import fill_lead_links
from leads.demo.generate import LeadPlan
from leads.models import Activity, Citizenship, Consent, Inquiry, Lead, OutboundEmail, StageEvent

LeadSkill = Lead.skills.through
_IN_CHUNK = 5000  # below every backend's limit of query parameters


@dataclass(frozen=True)
class _Table:
    """The columns of one model as the writer fills them: given values, else the field default."""

    model: type[models.Model]
    attnames: tuple[str, ...]
    columns: tuple[str, ...]
    defaults: dict[str, Any]
    json_attnames: tuple[str, ...]
    getter: Callable[[dict[str, Any]], tuple[Any, ...]]

    @classmethod
    def of(cls, model: type[models.Model], *, now: dt.datetime, with_pk: bool = False) -> _Table:
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        attnames = tuple(f.attname for f in fields)
        return cls(
            model=model,
            attnames=attnames,
            columns=tuple(f.column for f in fields),
            # auto_now is set by Model.save() and bulk_create, never by COPY: give it here.
            defaults={f.attname: now if getattr(f, "auto_now", False) else f.get_default() for f in fields},
            json_attnames=tuple(f.attname for f in fields if isinstance(f, models.JSONField)),
            # itemgetter builds the row tuple in C: a third of the client's time went on this.
            getter=operator.itemgetter(*attnames),
        )

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        values = {**self.defaults, **values}
        for name in self.json_attnames:
            values[name] = json.dumps(values[name])
        return self.getter(values)


class LeadWriter:
    """Writes batches of planned leads; safe to share between threads, each using its own
    connection (Django keeps one per thread)."""

    def __init__(self, *, now: dt.datetime) -> None:
        self.use_copy = connection.vendor == "postgresql"
        if not self.use_copy and not connection.features.can_return_rows_from_bulk_insert:
            raise CommandError(
                f"seed_demo needs a database that returns ids from bulk inserts (PostgreSQL, or SQLite 3.35+); "
                f"{connection.vendor} does not."
            )
        # Ids are reserved first for the rows others point at: leads, and the follow-ups replies answer.
        self.tables = {
            model: _Table.of(model, now=now, with_pk=model in (Lead, OutboundEmail))
            for model in (Lead, Inquiry, StageEvent, Citizenship, LeadSkill, OutboundEmail, Activity, Consent)
        }

    def write(self, employer_id: int, plans: list[LeadPlan]) -> int:
        """Insert the planned leads not in the database yet; returns how many were written.

        Call inside a transaction: a batch goes in whole or not at all.
        """
        plans = self._missing(employer_id, plans)
        if not plans:
            return 0
        lead_ids = self._insert_returning_ids(Lead, [plan.lead for plan in plans])
        outbound = [row for lead_id, plan in zip(lead_ids, plans, strict=True)
                    for row in _outbound_rows(lead_id, plan.outbound)]
        outbound_ids = self._insert_returning_ids(OutboundEmail, outbound)
        inquiries, events, citizenships, skills, activities, consents = [], [], [], [], [], []
        offset = 0  # where this lead's outbox rows start in ``outbound``
        for lead_id, plan in zip(lead_ids, plans, strict=True):
            for row in plan.inquiries:
                row = {**row, "lead_id": lead_id}
                answers = row.pop("_answers", None)
                if answers is not None:
                    # A reply: the email it answers, by id and by the Message-ID it quoted.
                    row["in_reply_to_id"] = outbound_ids[offset + answers]
                    row["raw_fields"] = {**row["raw_fields"], "in_reply_to": outbound[offset + answers]["message_id"]}
                inquiries.append(row)
            offset += len(plan.outbound)
            events += [{**row, "lead_id": lead_id} for row in plan.events]
            citizenships += [{"lead_id": lead_id, "country": code} for code in plan.citizenships]
            skills += [{"lead_id": lead_id, "skill_id": skill_id} for skill_id in plan.skill_ids]
            activities += [{**row, "lead_id": lead_id} for row in plan.activities]
            consents += [{**row, "lead_id": lead_id} for row in plan.consents]
        self._insert(Inquiry, inquiries)
        self._insert(StageEvent, events)
        self._insert(Citizenship, citizenships)
        self._insert(LeadSkill, skills)
        self._insert(Activity, activities)
        self._insert(Consent, consents)
        return len(plans)

    def analyze(self) -> None:
        """Refresh the planner's statistics after a big load, rather than wait for autovacuum."""
        if not self.use_copy:
            return
        with connection.cursor() as cursor:
            for model in self.tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    def _missing(self, employer_id: int, plans: list[LeadPlan]) -> list[LeadPlan]:
        """Leave out leads that exist already: a demo lead someone deleted leaves a gap in the
        indexes, so counting alone would try to create one that is there."""
        emails = [plan.lead["email"] for plan in plans]
        existing: set[str] = set()
        for start in range(0, len(emails), _IN_CHUNK):
            existing.update(
                Lead.objects.filter(employer_id=employer_id, email__in=emails[start : start + _IN_CHUNK])
                .values_list("email", flat=True)
            )
        return [plan for plan in plans if plan.lead["email"] not in existing] if existing else plans

    def _insert_returning_ids(self, model: type[models.Model], rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        if not self.use_copy:
            objs = model.objects.bulk_create([model(**self._model_values(model, row)) for row in rows])
            return [obj.pk for obj in objs]
        ids = self._reserve_ids(model, len(rows))
        self._copy(model, ({**row, "id": row_id} for row_id, row in zip(ids, rows, strict=True)))
        return ids

    def _insert(self, model: type[models.Model], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.use_copy:
            self._copy(model, rows)
        else:
            model.objects.bulk_create([model(**self._model_values(model, row)) for row in rows])

    def _model_values(self, model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
        table = self.tables[model]
        return {name: values[name] for name in table.attnames if name in values}

    def _reserve_ids(self, model: type[models.Model], count: int) -> list[int]:
        # Taken from the table's own sequence, so concurrent inserts (a live intake during the
        # seed) can never collide with the ids written here.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, model._meta.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]

    def _copy(self, model: type[models.Model], rows: Iterable[dict[str, Any]]) -> None:
        table = self.tables[model]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(column) for column in table.columns)
        sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for values in rows:
                copy.write_row(table.row(values))


def _outbound_rows(lead_id: int, rows: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The lead's follow-ups with what needs its id: the key ``followups_schedule`` gives a step's
    row, the Message-ID ``email_queue`` derives from it, and the lead's own links in sent texts."""
    links: dict[str, str] = {}
    for row in rows:
        key = f"lead:{lead_id}:step:{row['step_id']}"
        yield {**row, "lead_id": lead_id, "unique_key": key, "message_id": emails.message_id(key),
               "subject": fill_lead_links(row["subject"], lead_id, links),
               "body_text": fill_lead_links(row["body_text"], lead_id, links),
               "body_html": fill_lead_links(row["body_html"], lead_id, links)}
