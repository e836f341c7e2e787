"""Reads for the recruiter UI: the lead list (keyset-paged), the board, and a lead's page.

Every function takes the employer ids the request may see (from ``leads.views.common``);
nothing here reads a row of another employer. Query counts do not depend on how many
leads a page shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from leads.models import (
    CLOSED_STAGES,
    Activity,
    Citizenship,
    Employer,
    Inquiry,
    Lead,
    Note,
    OutboundEmail,
    PossibleDuplicate,
    ProfileChange,
    Skill,
    Stage,
    StageEvent,
    Task,
)
from leads.normalise import normalise_phone

# name -> (ordering field, descending)
SORTS: dict[str, tuple[str, bool]] = {
    "newest": ("created_at", True),
    "oldest": ("created_at", False),
    "active": ("last_activity_at", True),
}
TIMELINE_CAP = 200


def _open_duplicates(lead_ref: str = "pk") -> Exists:
    return Exists(
        PossibleDuplicate.objects.filter(dismissed_at__isnull=True)
        .filter(Q(lead_id=OuterRef(lead_ref)) | Q(other_id=OuterRef(lead_ref)))
    )


def leads_filtered(employer_ids: list[int], filters: dict[str, Any]) -> QuerySet[Lead]:
    """The leads of these employers matching the (already validated) filters."""
    qs = Lead.objects.filter(employer_id__in=employer_ids, erased_at__isnull=True)
    for name in ("stage", "source", "current_country", "move_timeline"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("opening"):
        qs = qs.filter(opening_id=filters["opening"].pk)
    if filters.get("owner") == "none":
        qs = qs.filter(owner__isnull=True)
    elif filters.get("owner"):
        qs = qs.filter(owner_id=filters["owner"])
    if filters.get("needs_sponsorship") is not None:
        qs = qs.filter(needs_sponsorship=filters["needs_sponsorship"])
    if filters.get("citizenship"):
        qs = qs.filter(Exists(Citizenship.objects.filter(lead_id=OuterRef("pk"), country=filters["citizenship"])))
    if filters.get("created_from"):
        qs = qs.filter(created_at__gte=_day_start(filters["created_from"]))
    if filters.get("created_to"):
        qs = qs.filter(created_at__lt=_day_start(filters["created_to"] + dt.timedelta(days=1)))
    if filters.get("open"):
        qs = qs.exclude(stage__in=sorted(CLOSED_STAGES))
    if filters.get("waiting"):
        qs = qs.filter(waiting_q(Employer.objects.filter(pk__in=employer_ids).only("pk", "response_target_hours"),
                                 timezone.now()))
    if filters.get("contacted") is not None:
        qs = qs.filter(first_contacted_at__isnull=not filters["contacted"])
    if filters.get("tasks"):
        due = Task.objects.filter(lead_id=OuterRef("pk"), done_at__isnull=True)
        if filters["tasks"] == "overdue":
            due = due.filter(due_at__lt=timezone.now())
        qs = qs.filter(Exists(due))
    if filters.get("duplicate"):
        # Driven from the (few) open flags, both sides of each: a semi-join on the primary key,
        # where an EXISTS per lead would walk the employer's leads until it found a page.
        flags = PossibleDuplicate.objects.filter(employer_id__in=employer_ids, dismissed_at__isnull=True)
        qs = qs.filter(pk__in=flags.values("lead_id").union(flags.values("other_id")))
    if filters.get("q"):
        # ``name_lower`` is lower(name), the expression the name index holds.
        qs = qs.annotate(name_lower=Lower("name")).filter(_search(employer_ids, filters["q"]))
    return qs


def waiting_q(employers, now: dt.datetime) -> Q:
    """Still new and never contacted after each employer's response target: the dashboard's
    card and the "Waiting for a first contact" view."""
    by_employer = Q(pk__in=[])
    for employer in employers:
        deadline = now - dt.timedelta(hours=employer.response_target_hours)
        by_employer |= Q(employer_id=employer.pk, created_at__lt=deadline)
    return Q(stage=Stage.NEW, first_contacted_at__isnull=True) & by_employer


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of a day in the viewer's time zone (the one the page shows)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _search(employer_ids: list[int], text: str) -> Q:
    """Search by the start of the name or the email, an exact skill, or a phone number.

    Prefixes, not substrings: ``icontains`` made the database read every row (3.6 s at a
    million leads). The query is shaped by what the term is, so each shape has a fast plan:
    - a skill name: the list's newest-first walk stops once a page of matches is found;
    - one or two letters (many matches): the same walk, testing name and email prefixes;
    - anything longer (few matches): the ids from prefix indexes on ``lower(name)`` and
      ``email`` (pattern-ops indexes on PostgreSQL), joined; an OR in the list's query
      would turn each into a row-by-row filter instead.
    """
    text = " ".join(text.split())
    lowered = text.lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 6 and len(digits) >= len(text.replace(" ", "")) - 3:
        return _phone_q(text, digits)
    # Emails are stored lower-case, so a case-sensitive prefix is the case-insensitive one.
    if "@" in text:
        return Q(email__startswith=lowered)
    if Skill.objects.filter(employer_id__in=employer_ids, name__iexact=text).exists():
        return Q(Exists(Lead.skills.through.objects.filter(lead_id=OuterRef("pk"), skill__name__iexact=text)))
    if len(text) < 3:
        return Q(name_lower__startswith=lowered) | Q(email__startswith=lowered)
    leads = Lead.objects.filter(employer_id__in=employer_ids).order_by()
    by_name = leads.annotate(name_lower=Lower("name")).filter(name_lower__startswith=lowered).values("pk")
    return Q(pk__in=by_name.union(leads.filter(email__startswith=lowered).values("pk")))


def _phone_q(text: str, digits: str) -> Q:
    """An international number matches by its E.164 prefix (indexed); a local one by its digits."""
    if text.startswith("+"):
        try:
            return Q(phone__startswith=normalise_phone(text))
        except ValidationError:
            pass
    return Q(phone__contains=digits)


# --- Keyset pages -----------------------------------------------------------------------------

@dataclass
class LeadPage:
    leads: list[Lead]
    next_cursor: str | None
    is_first: bool
    sort: str = "newest"
    prev_cursor: str | None = None  # the page before this one ends here; None on page one


def encode_cursor(lead: Lead, sort: str) -> str:
    value: dt.datetime = getattr(lead, SORTS[sort][0])
    return f"{value.astimezone(dt.UTC).isoformat()}_{lead.pk}"


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    """A cursor from the URL; None (page one) when it was tampered with or is malformed."""
    stamp, _, pk = (cursor or "").rpartition("_")
    try:
        value = parse_datetime(stamp)
        number = int(pk)
    except (ValueError, TypeError):
        return None
    if value is None or value.tzinfo is None or number < 0:
        return None
    return value, number


def lead_page(qs: QuerySet[Lead], *, sort: str = "newest", cursor: str = "", size: int = 50,
              before: str = "") -> LeadPage:
    """One page after ``cursor`` (or the page before ``before``), by (sort field, id): no OFFSET,
    no COUNT, whatever the depth."""
    sort = sort if sort in SORTS else "newest"
    column, descending = SORTS[sort]
    backwards = decode_cursor(before)
    after = None if backwards else decode_cursor(cursor)
    bound = backwards or after
    forward_op = "lt" if descending else "gt"
    op = ("gt" if descending else "lt") if backwards else forward_op
    if bound:
        value, pk = bound
        # The plain bound on the column lets the index range start at the cursor; the OR
        # alone would make the database walk every newer row first.
        qs = qs.filter(**{f"{column}__{op}e": value}).filter(
            Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"pk__{op}": pk})
        )
    prefix = "-" if descending != bool(backwards) else ""
    rows = list(
        qs.select_related("owner", "opening")
        .annotate(has_duplicate=_open_duplicates())
        .order_by(f"{prefix}{column}", f"{prefix}pk")[: size + 1]
    )
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        # Read nearest first, shown in the list's own order; there is a next page: we came from it.
        rows.reverse()
        return LeadPage(leads=rows, next_cursor=encode_cursor(rows[-1], sort) if rows else None,
                        is_first=not more, sort=sort, prev_cursor=encode_cursor(rows[0], sort) if more else None)
    return LeadPage(
        leads=rows, next_cursor=encode_cursor(rows[-1], sort) if more and rows else None,
        is_first=after is None, sort=sort, prev_cursor=encode_cursor(rows[0], sort) if after and rows else None,
    )


# --- One lead's page --------------------------------------------------------------------------

@dataclass
class TimelineEntry:
    at: dt.datetime
    kind: str  # stage, note, activity, email, inquiry
    obj: Any


def lead_page_queryset(queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    """What the lead page shows of the lead itself, in one query and two prefetches."""
    return queryset.select_related("employer", "owner", "opening", "closed_reason").prefetch_related(
        Prefetch("citizenships", queryset=Citizenship.objects.order_by("country")), "skills",
    )


def lead_profile_changes(lead: Lead, *, cap: int = 20) -> list[ProfileChange]:
    """What repeat inquiries changed (restorable) or proposed (to accept), newest first."""
    return list(ProfileChange.objects.filter(lead=lead).order_by("-at", "-pk")[:cap])


def lead_timeline(lead: Lead, *, cap: int = TIMELINE_CAP) -> list[TimelineEntry]:
    """Stage events, notes, activities, inquiries and emails, newest first, in a fixed number of queries.

    A reply (an inquiry that answers one of our emails) is threaded under that email, as
    ``email.thread_replies`` (oldest first), rather than standing alone; emailed inquiries carry
    ``reply_text`` and ``quoted_text`` (the quoted email and signature, folded on the page)."""
    from leads.models import Source
    from leads.services.inbound_email import reply_split

    events = (StageEvent.objects.filter(lead=lead).select_related("by", "closed_reason", "api_key")
              .order_by("-at", "-pk")[:cap])
    notes = Note.objects.filter(lead=lead).select_related("author", "api_key").order_by("-created_at", "-pk")[:cap]
    activities = Activity.objects.filter(lead=lead).select_related("actor").order_by("-at", "-pk")[:cap]
    inquiries = list(Inquiry.objects.filter(lead=lead).order_by("-received_at", "-pk")[:cap])
    emails = list(
        OutboundEmail.objects.filter(lead=lead)
        .only("pk", "lead_id", "kind", "status", "status_reason", "scheduled_at", "sent_at", "subject", "to_email",
              "last_error", "attempts")
        .order_by("-scheduled_at", "-pk")[:cap]
    )
    by_id = {m.pk: m for m in emails}
    for m in emails:
        m.thread_replies = []
    standalone = []
    for inquiry in reversed(inquiries):  # oldest first, so that a thread reads top to bottom
        if inquiry.channel == Source.EMAIL:
            inquiry.reply_text, inquiry.quoted_text = reply_split(inquiry.body)
        parent = by_id.get(inquiry.in_reply_to_id)
        if parent is not None:
            parent.thread_replies.append(inquiry)
        else:
            standalone.append(inquiry)
    entries = chain(
        (TimelineEntry(e.at, "stage", e) for e in events),
        (TimelineEntry(n.created_at, "note", n) for n in notes),
        (TimelineEntry(a.at, "activity", a) for a in activities),
        (TimelineEntry(i.received_at, "inquiry", i) for i in standalone),
        (TimelineEntry(m.sent_at or m.scheduled_at, "email", m) for m in emails),
    )
    return sorted(entries, key=lambda e: e.at, reverse=True)


def lead_inquiries(lead: Lead, *, cap: int = 50) -> list[Inquiry]:
    return list(Inquiry.objects.filter(lead=lead).order_by("-received_at", "-pk")[:cap])


def lead_duplicates(lead: Lead) -> list[tuple[PossibleDuplicate, Lead]]:
    """Open duplicate flags of this lead, each with the other lead."""
    flags = (
        PossibleDuplicate.objects.filter(dismissed_at__isnull=True, employer_id=lead.employer_id)
        .filter(Q(lead=lead) | Q(other=lead))
        .select_related("lead", "other")
        .order_by("-created_at")[:20]
    )
    return [(flag, flag.other if flag.lead_id == lead.pk else flag.lead) for flag in flags]
