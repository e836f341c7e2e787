"""Leads for other systems: list (keyset-paged), read one, move its stage, add a note, and
the feed of stage events for a data warehouse. Every query is scoped to the key's employer;
another employer's id is a 404 like an id that does not exist."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from leads import profile
from leads.api.errors import READ_ERRORS, WRITE_ERRORS, ApiError, error_responses, refuse
from leads.api.gate import IDEMPOTENT, KeyAuth
from leads.api.inquiries import message_dict, parse_moment
from leads.api.schemas import (
    LeadDetailOut,
    LeadPageOut,
    NoteIn,
    NoteOut,
    StageEventOut,
    StageEventPageOut,
    StageMoveIn,
)
from leads.models import (
    ApiKey,
    ApiScope,
    AuditAction,
    Citizenship,
    ClosedReason,
    Inquiry,
    Lead,
    MergedLead,
    Source,
    Stage,
    StageEvent,
)
from leads.profile import Kind
from leads.ratelimit import client_ip_or_none
from leads.services.audit import audit_read
from leads.services.pipeline import StageMoveError, lead_move_stage
from leads.services.timeline import note_add

router = Router(tags=["leads"])

READ = KeyAuth(ApiScope.READ)
WRITE = KeyAuth(ApiScope.WRITE)
MAX_PAGE = 200
_MAX_ID = 2**63 - 1

# A refused move: 409 when the lead's state is in the way, 422 when the request breaks a rule.
_MOVE_STATUS = {"erased": 409, "same_stage": 409, "out_of_order": 409}


def actor_of(key: ApiKey) -> str:
    return f"API: {key.name} ({key.prefix}…)"


# --- the list ---------------------------------------------------------------------------------


class LeadFilters(Schema):
    stage: list[Literal[tuple(Stage.values)]] = Field([], description="One or more stages.")
    owner: str | None = Field(None, max_length=20, description="A user id, or `none` for leads nobody owns.")
    source: Literal[tuple(Source.values)] | None = None
    country: str | None = Field(None, max_length=2, description="The country the person lives in (ISO code).")
    created_from: str | None = Field(None, max_length=40, json_schema_extra={"format": "date-time"})
    created_to: str | None = Field(None, max_length=40, json_schema_extra={"format": "date-time"},
                                   description="Exclusive.")
    updated_since: str | None = Field(None, max_length=40, json_schema_extra={"format": "date-time"})
    cursor: str | None = Field(None, max_length=200, description="The next_cursor of the previous page.")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def _filtered(key: ApiKey, filters: LeadFilters) -> QuerySet[Lead]:
    qs = Lead.objects.filter(employer_id=key.employer_id)
    errors: dict[str, list[str]] = {}
    # The stage filter is applied by _page, one stage at a time.
    if filters.owner is not None:
        if filters.owner == "none":
            qs = qs.filter(owner__isnull=True)
        elif filters.owner.isdigit() and int(filters.owner) <= _MAX_ID:
            qs = qs.filter(owner_id=int(filters.owner))
        else:
            errors["owner"] = ["A user id (a whole number) or none."]
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.country is not None:
        qs = qs.filter(current_country=filters.country.upper())
    for name, lookup in (("created_from", "created_at__gte"), ("created_to", "created_at__lt"),
                         ("updated_since", "updated_at__gte")):
        value = getattr(filters, name)
        if value is None:
            continue
        moment, problem = parse_moment(value)
        if problem:
            errors[name] = [problem]
        else:
            qs = qs.filter(**{lookup: moment})
    if errors:
        raise ApiError(400, errors)
    return qs


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, prefix: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith(prefix):
        raise refuse(400, "cursor", "Not a cursor this API gave out: pass next_cursor as it came.")
    return text.removeprefix(prefix)


def _lead_cursor(lead: Lead) -> str:
    return _encode(f"L{lead.created_at.astimezone(dt.UTC).isoformat()}_{lead.pk}")


def _after(qs: QuerySet[Lead], cursor: str) -> QuerySet[Lead]:
    stamp, _, pk = _decode(cursor, "L").rpartition("_")
    moment, problem = parse_moment(stamp) if stamp else (None, "no moment")
    if problem or not pk.isdigit() or int(pk) > _MAX_ID:
        raise refuse(400, "cursor", "Not a cursor this API gave out: pass next_cursor as it came.")
    # The plain bound lets the index range start at the cursor; (created_at, id) orders ties.
    return qs.filter(created_at__lte=moment).filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=int(pk)))


def _with_lists(qs: QuerySet[Lead]) -> QuerySet[Lead]:
    return qs.select_related("owner", "closed_reason").prefetch_related(
        Prefetch("citizenships", queryset=Citizenship.objects.order_by("country")), "skills",
    )


def _page(qs: QuerySet[Lead], stages: list[str], size: int) -> list[Lead]:
    if len(stages) < 2:
        qs = qs.filter(stage=stages[0]) if stages else qs
        return list(_with_lists(qs).order_by("-created_at", "-pk")[:size])
    # Several stages: one keyset slice per stage, merged here. Each slice walks its stage's index
    # from the cursor; one walk of the created index would step over every row of the other
    # stages first (a rare stage among 650,000 leads: 100 ms against 1 ms).
    keys = []
    for stage in stages:
        keys += qs.filter(stage=stage).order_by("-created_at", "-pk").values_list("created_at", "pk")[:size]
    keys.sort(reverse=True)
    wanted = [pk for _, pk in keys[:size]]
    rows = _with_lists(Lead.objects.filter(pk__in=wanted))
    return sorted(rows, key=lambda lead: (lead.created_at, lead.pk), reverse=True)


@router.get("/leads", url_name="leads", auth=READ, response={200: LeadPageOut, **error_responses(*READ_ERRORS)},
            summary="List leads")
def leads_list(request: HttpRequest, filters: Query[LeadFilters]):
    """Newest first, ``limit`` at a time. Keep the filters and pass ``next_cursor`` to walk on: a
    lead is never returned twice in one walk, and leads added meanwhile do not shift the pages."""
    key = request.auth
    qs = _filtered(key, filters)
    if filters.cursor:
        qs = _after(qs, filters.cursor)
    rows = _page(qs, sorted(set(filters.stage)), filters.limit + 1)
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    if rows:
        audit_read(action=AuditAction.EXPORTED, employer_id=key.employer_id, actor=actor_of(key),
                   detail=f"API lead list ({len(rows)} leads)", remote_addr=client_ip_or_none(request))
    return {"results": [lead_json(lead) for lead in rows], "next_cursor": _lead_cursor(rows[-1]) if more else None}


# --- one lead ---------------------------------------------------------------------------------


def _lead(key: ApiKey, lead_id: int, qs: QuerySet[Lead] | None = None) -> Lead:
    base = Lead.objects if qs is None else qs
    lead = base.filter(employer_id=key.employer_id, pk=lead_id).first() if lead_id <= _MAX_ID else None
    if lead is not None:
        return lead
    merged = MergedLead.objects.filter(employer_id=key.employer_id, merged_id=lead_id).values_list(
        "kept_id", flat=True).first() if lead_id <= _MAX_ID else None
    if merged is not None:
        raise refuse(404, "lead", f"Lead {lead_id} was merged into lead {merged}; use that id.")
    raise refuse(404, "lead", f"No lead {lead_id}.")


@router.get("/leads/{lead_id}", url_name="lead", auth=READ,
            response={200: LeadDetailOut, **error_responses(*READ_ERRORS, 404)}, summary="Read a lead")
def lead_read(request: HttpRequest, lead_id: int):
    """The lead with its inquiries (oldest first) and its stage history."""
    key = request.auth
    lead = _lead(key, lead_id, _with_lists(Lead.objects))
    inquiries = [
        {"id": i.pk, "source": i.channel, "received_at": i.received_at, "subject": i.subject, "message": i.body,
         "is_repeat": i.is_repeat}
        for i in Inquiry.objects.filter(lead=lead).order_by("received_at", "id")
    ]
    history = [event_json(e) for e in StageEvent.objects.filter(lead=lead).select_related("closed_reason")
               .order_by("at", "id")]
    audit_read(action=AuditAction.VIEWED, employer_id=key.employer_id, lead_id=lead.pk, actor=actor_of(key),
               detail="API lead", remote_addr=client_ip_or_none(request))
    return {**lead_json(lead), "inquiries": inquiries, "stage_history": history}


@router.post("/leads/{lead_id}/stage", url_name="lead_stage", auth=WRITE,
             response={200: StageEventOut, **error_responses(*WRITE_ERRORS, 404)}, summary="Move a lead's stage",
             openapi_extra=IDEMPOTENT)
def lead_stage(request: HttpRequest, lead_id: int, payload: StageMoveIn):
    """The pipeline's rules apply as in the web UI: moving backwards or reopening needs a
    ``reason``, closing needs a ``closed_reason``. Refused moves are 422 (a rule) or 409 (the
    lead is already there, or was erased)."""
    key = request.auth
    lead = _lead(key, lead_id)
    closed_reason = None
    if payload.closed_reason:
        closed_reason = ClosedReason.objects.filter(employer_id=key.employer_id,
                                                    label__iexact=payload.closed_reason.strip()).first()
        if closed_reason is None:
            labels = list(ClosedReason.objects.filter(employer_id=key.employer_id, active=True)
                          .values_list("label", flat=True)[:30])
            raise refuse(422, "closed_reason", f"No closed reason “{payload.closed_reason[:120]}”; yours are: "
                         f"{', '.join(labels) or 'none yet'}.")
    try:
        event = lead_move_stage(lead=lead, to_stage=payload.stage, reason=payload.reason,
                                closed_reason=closed_reason, api_key=key)
    except StageMoveError as exc:
        topic = "closed_reason" if exc.code and exc.code.startswith("closed_reason") else (
            "reason" if exc.code == "reason_required" else "stage")
        raise ApiError(_MOVE_STATUS.get(exc.code, 422), {topic: list(exc.messages)}) from None
    event.closed_reason = closed_reason
    return Status(200, event_json(event))


@router.post("/leads/{lead_id}/notes", url_name="lead_notes", auth=WRITE,
             response={201: NoteOut, **error_responses(*WRITE_ERRORS, 404)}, summary="Add a note to a lead",
             openapi_extra=IDEMPOTENT)
def lead_note(request: HttpRequest, lead_id: int, payload: NoteIn):
    """Shown on the lead's timeline, attributed to the API key."""
    key = request.auth
    lead = _lead(key, lead_id)
    if lead.erased_at is not None:
        raise refuse(409, "lead", "This lead's data was erased; nothing can be added to it.")
    try:
        note = note_add(lead=lead, author=None, body=payload.body, api_key=key)
    except ValidationError as exc:
        raise ApiError(400, message_dict(exc)) from None
    return Status(201, {"id": note.pk, "lead": lead.pk, "body": note.body, "created_at": note.created_at})


# --- the event feed ---------------------------------------------------------------------------


class EventFilters(Schema):
    cursor: str | None = Field(None, max_length=200, description="The next_cursor of the previous call; "
                               "none to start from the first event.")
    limit: int = Field(100, ge=1, le=1000)


@router.get("/stage-events", url_name="stage_events", auth=READ,
            response={200: StageEventPageOut, **error_responses(*READ_ERRORS)}, summary="Stage events since a cursor")
def stage_events(request: HttpRequest, filters: Query[EventFilters]):
    """Every move of every lead, in the order they were written, ``limit`` at a time; call again
    with ``next_cursor`` (also when ``results`` is empty) to get what happened since. The feed
    stays a few seconds behind the present (RELOCATE_API_EVENTS_SETTLE_SECONDS), so that an event
    still committing is never skipped."""
    key = request.auth
    after = 0
    if filters.cursor:
        text = _decode(filters.cursor, "E")
        if not text.isdigit() or int(text) > _MAX_ID:
            raise refuse(400, "cursor", "Not a cursor this API gave out: pass next_cursor as it came.")
        after = int(text)
    settled = timezone.now() - dt.timedelta(seconds=settings.RELOCATE_API_EVENTS_SETTLE_SECONDS)
    events = list(StageEvent.objects.filter(employer_id=key.employer_id, pk__gt=after, recorded_at__lte=settled)
                  .select_related("closed_reason").order_by("pk")[: filters.limit])
    last = events[-1].pk if events else after
    return {"results": [event_json(e) for e in events], "next_cursor": _encode(f"E{last}")}


# --- as JSON ----------------------------------------------------------------------------------


def event_json(event: StageEvent) -> dict[str, Any]:
    by = "recruiter" if event.by_id else "api" if event.api_key_id else "system"
    return {
        "id": event.pk, "lead": event.lead_id, "from_stage": event.from_stage, "to_stage": event.to_stage,
        "at": event.at, "recorded_at": event.recorded_at, "by": by, "reason": event.reason,
        "closed_reason": event.closed_reason.label if event.closed_reason_id else None,
    }


def _profile_value(lead: Lead, spec: profile.Field) -> Any:
    if spec.kind == Kind.FILE:
        return bool(getattr(lead, spec.name))
    if spec.kind == Kind.OPENING:
        return getattr(lead, f"{spec.name}_id")
    value = getattr(lead, spec.name)
    if spec.kind == Kind.COUNTRY:
        return value.code if value else ""
    return value


def lead_json(lead: Lead) -> dict[str, Any]:
    owner = lead.owner
    return {
        "id": lead.pk, "name": lead.name, "email": lead.email, "stage": lead.stage,
        "furthest_stage": lead.furthest_stage,
        "closed_reason": lead.closed_reason.label if lead.closed_reason_id else None,
        "source": lead.source,
        "owner": {"id": owner.pk, "name": owner.get_full_name() or owner.get_username(), "email": owner.email}
        if owner else None,
        "citizenships": [c.country.code for c in lead.citizenships.all()],
        "skills": sorted((s.name for s in lead.skills.all()), key=str.lower),
        **{spec.name: _profile_value(lead, spec) for spec in profile.FIELDS},
        "created_at": lead.created_at, "updated_at": lead.updated_at,
        "first_contacted_at": lead.first_contacted_at, "stage_changed_at": lead.stage_changed_at,
        "unsubscribed_at": lead.unsubscribed_at, "erased_at": lead.erased_at,
    }
