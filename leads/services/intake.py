"""The one intake service: every path (public form, manual entry, import, API, inbound email)
records an inquiry through ``inquiry_receive``.

A repeat inquiry from the same email joins the existing lead and counts as repeat interest;
it never creates a second lead, even when two arrive at the same moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from leads.models import (
    ActivityKind,
    Citizenship,
    Employer,
    Inquiry,
    Lead,
    Membership,
    Opening,
    PossibleDuplicate,
    Role,
    Skill,
    Source,
    Stage,
    StageEvent,
    display_name,
)
from leads.normalise import normalise_email, normalise_phone, normalise_profile_url
from leads.services.activity import activity_record
from leads.services.followups import followups_on_inquiry, owner_notify_assigned
from leads.timezones import zone_name_for_country

# The lead fields an inquiry may set. A value of None or "" means "not given".
PROFILE_FIELDS: frozenset[str] = frozenset({
    "phone", "current_country", "current_city", "time_zone", "profile_url", "opening",
    "role_of_interest", "years_experience", "needs_sponsorship", "visa_pathway",
    "earliest_move_date", "move_timeline", "relocating_with", "dependants",
    "partner_needs_work_rights", "credentials_to_recognise", "motivation", "cv",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "marketing_opt_in",
})
# Fields a repeat inquiry leaves alone: who the person is and how they first arrived.
_KEPT_ON_REPEAT: frozenset[str] = frozenset(
    {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}
)
_MAX_DUPLICATE_FLAGS = 10


@dataclass(frozen=True)
class IntakeResult:
    lead: Lead
    inquiry: Inquiry
    created: bool


def inquiry_receive(
    *,
    employer: Employer,
    channel: str,
    email: str,
    name: str = "",
    fields: Mapping[str, Any] | None = None,
    citizenships: Iterable[str] = (),
    skills: Iterable[str] = (),
    privacy_accepted: bool = False,
    subject: str = "",
    body: str = "",
    raw_fields: Mapping[str, Any] | None = None,
    received_at: dt.datetime | None = None,
    owner=None,
    actor=None,
    remote_addr: str | None = None,
) -> IntakeResult:
    """Record one inquiry: create the lead or join the existing one, in one transaction.

    Raises ValidationError (and writes nothing) when the input is not acceptable.
    """
    if channel not in Source.values:
        raise ValidationError({"channel": f"Unknown channel {channel!r}."})
    received_at = received_at or timezone.now()
    profile = clean_profile(employer, fields or {})
    email = clean_email(email)
    name = " ".join((name or "").split())[:200]
    countries = clean_countries(citizenships)
    if owner is not None and not _is_member(owner, employer):
        raise ValidationError({"owner": "The owner must be a member of this employer."})

    with transaction.atomic(durable=True):
        consent = {"privacy_accepted_at": received_at} if privacy_accepted else {}
        lead, created = _lock_or_create_lead(employer, email, name, channel, received_at, {**profile, **consent})
        if created:
            StageEvent.objects.create(
                employer=employer, lead=lead, from_stage="", to_stage=Stage.NEW, at=received_at, by=actor
            )
        else:
            _update_lead(lead, name, profile, privacy_accepted, received_at, actor)
        _add_citizenships(lead, countries)
        _add_skills(employer, lead, skills)
        inquiry = Inquiry.objects.create(
            employer=employer,
            lead=lead,
            channel=channel,
            received_at=received_at,
            subject=(subject or "")[:300],
            body=body or "",
            country=profile.get("current_country") or lead.current_country,
            is_repeat=not created,
            raw_fields=_jsonable(raw_fields or {}),
            remote_addr=remote_addr or None,
        )
        _flag_possible_duplicates(lead)
        if created:
            _assign_owner(lead, owner or _next_round_robin_owner(employer), received_at)
        # The outbox rows are written in this transaction; the emails go out after commit.
        followups_on_inquiry(lead=lead, inquiry=inquiry, created=created)
        if created:
            owner_notify_assigned(lead=lead)
    return IntakeResult(lead=lead, inquiry=inquiry, created=created)


# The checks inquiry_receive applies, public so that a channel can check a whole batch
# (an import preview) before anything is stored.


def clean_email(value: str) -> str:
    try:
        return normalise_email(value)
    except ValidationError as exc:
        raise ValidationError({"email": "Enter a valid email address."}) from exc


def clean_countries(codes: Iterable[str]) -> list[str]:
    from django_countries import countries

    cleaned = []
    for code in codes:
        code = (code or "").strip().upper()
        if code and code not in countries:
            raise ValidationError({"citizenships": f"Unknown country code {code!r}."})
        if code and code not in cleaned:
            cleaned.append(code)
    return cleaned


def clean_profile(employer: Employer, fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"inquiry_receive() got unknown lead fields: {', '.join(sorted(unknown))}")
    profile = {key: value for key, value in fields.items() if value is not None and value != ""}
    country = str(profile.get("current_country") or "")
    if "phone" in profile:
        try:
            profile["phone"] = normalise_phone(str(profile["phone"]), country)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
    if "profile_url" in profile:
        try:
            profile["profile_url"] = normalise_profile_url(str(profile["profile_url"]))
        except ValueError as exc:  # urlsplit refuses some malformed hosts, e.g. "https://[x"
            raise ValidationError({"profile_url": "Enter a valid URL."}) from exc
    opening = profile.get("opening")
    if opening is not None:
        opening_id = opening.pk if isinstance(opening, Opening) else opening
        found = Opening.objects.filter(employer=employer, pk=opening_id).first()
        if found is None:
            raise ValidationError({"opening": "Choose an opening of this employer."})
        profile["opening"] = found
    # Validate every value with the model's own field rules (choices, lengths, URLs, ...).
    probe = Lead(employer=employer, name="probe", email="probe@example.com", **profile)
    try:
        probe.full_clean(
            exclude=[f.name for f in Lead._meta.fields if f.name not in profile], validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    return profile


def _is_member(user, employer: Employer) -> bool:
    return Membership.objects.filter(user_id=user.pk, employer=employer).exists()


def _lock_or_create_lead(
    employer: Employer, email: str, name: str, channel: str, received_at: dt.datetime, profile: dict[str, Any]
) -> tuple[Lead, bool]:
    lead = Lead.objects.select_for_update().filter(employer=employer, email=email).first()
    if lead is not None:
        return lead, False
    lead = Lead(
        employer=employer,
        email=email,
        name=name or email.split("@")[0],
        source=channel,
        created_at=received_at,
        last_activity_at=received_at,
        stage_changed_at=received_at,
        **profile,
    )
    if not lead.time_zone and lead.current_country:
        lead.time_zone = zone_name_for_country(lead.current_country.code)
    try:
        # A savepoint: when another request created this lead a moment ago, the unique
        # constraint refuses ours and we join theirs instead.
        with transaction.atomic():
            lead.save(force_insert=True)
    except IntegrityError:
        lead = Lead.objects.select_for_update().filter(employer=employer, email=email).first()
        if lead is None:
            raise
        return lead, False
    return lead, True


def _update_lead(
    lead: Lead, name: str, profile: dict[str, Any], privacy_accepted: bool, received_at: dt.datetime, actor
) -> None:
    """A repeat inquiry: what the person tells us now is newer than what we had."""
    changed: list[str] = []
    for key, value in profile.items():
        if key in _KEPT_ON_REPEAT and getattr(lead, key):
            continue
        if getattr(lead, key) != value:
            setattr(lead, key, value)
            changed.append(key)
    if name and not lead.name:
        lead.name = name
        changed.append("name")
    if "current_country" in changed and "time_zone" not in profile:
        lead.time_zone = zone_name_for_country(lead.current_country.code)
        changed.append("time_zone")
    if privacy_accepted and lead.privacy_accepted_at is None:
        lead.privacy_accepted_at = received_at
        changed.append("privacy_accepted_at")
    lead.last_activity_at = max(lead.last_activity_at, received_at)
    lead.save(update_fields=[*changed, "last_activity_at", "updated_at"])
    labels = [str(Lead._meta.get_field(key).verbose_name) for key in changed if key != "privacy_accepted_at"]
    activity_record(
        lead=lead,
        kind=ActivityKind.SYSTEM,
        actor=actor,
        at=received_at,
        summary="Repeat inquiry" + (f": updated {', '.join(labels)}" if labels else ""),
        touch=False,
    )


def _add_citizenships(lead: Lead, countries: list[str]) -> None:
    if countries:
        Citizenship.objects.bulk_create(
            [Citizenship(lead=lead, country=code) for code in countries], ignore_conflicts=True
        )


def _add_skills(employer: Employer, lead: Lead, names: Iterable[str]) -> None:
    wanted = {" ".join(n.split())[:60] for n in names if n and n.strip()}
    if not wanted:
        return
    existing = {s.name.lower(): s for s in Skill.objects.filter(employer=employer)}
    missing = [n for n in wanted if n.lower() not in existing]
    if missing:
        Skill.objects.bulk_create([Skill(employer=employer, name=n) for n in missing], ignore_conflicts=True)
        existing = {s.name.lower(): s for s in Skill.objects.filter(employer=employer)}
    lead.skills.add(*[existing[n.lower()] for n in wanted if n.lower() in existing])


def _flag_possible_duplicates(lead: Lead) -> None:
    """Same phone, same profile URL, or same name and country: flagged, never merged by itself."""
    others = Lead.objects.filter(employer_id=lead.employer_id, erased_at__isnull=True).exclude(pk=lead.pk)
    candidates: list[tuple[int, str]] = []
    if lead.phone:
        candidates += [(pk, PossibleDuplicate.Reason.PHONE)
                       for pk in others.filter(phone=lead.phone).values_list("pk", flat=True)[:_MAX_DUPLICATE_FLAGS]]
    if lead.profile_url:
        candidates += [(pk, PossibleDuplicate.Reason.PROFILE_URL)
                       for pk in others.filter(profile_url=lead.profile_url)
                       .values_list("pk", flat=True)[:_MAX_DUPLICATE_FLAGS]]
    if lead.name and lead.current_country:
        candidates += [(pk, PossibleDuplicate.Reason.NAME_COUNTRY)
                       # Lower(name), as the lead_emp_name_country index is built.
                       for pk in others.alias(lower_name=Lower("name"))
                       .filter(lower_name=lead.name.lower(), current_country=lead.current_country)
                       .values_list("pk", flat=True)[:_MAX_DUPLICATE_FLAGS]]
    # One row per pair and reason: the newer lead points at the older one.
    PossibleDuplicate.objects.bulk_create(
        [
            PossibleDuplicate(
                employer_id=lead.employer_id, lead_id=max(lead.pk, pk), other_id=min(lead.pk, pk), reason=reason
            )
            for pk, reason in candidates
        ],
        ignore_conflicts=True,
    )


def _next_round_robin_owner(employer: Employer):
    """The recruiter assigned longest ago (or never). Locking the recruiters' memberships makes
    concurrent intakes take turns instead of both picking the same person."""
    memberships = list(
        Membership.objects.select_for_update()
        .filter(employer=employer, role=Role.RECRUITER, receives_assignments=True, user__is_active=True)
        .order_by("id")
        .select_related("user")
    )
    if not memberships:
        return None
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    chosen = min(memberships, key=lambda m: (m.last_assigned_at or epoch, m.id))
    return chosen.user


def _assign_owner(lead: Lead, owner, at: dt.datetime) -> None:
    if owner is None:
        return
    lead.owner = owner
    lead.save(update_fields=["owner"])
    Membership.objects.filter(user_id=owner.pk, employer_id=lead.employer_id).update(
        last_assigned_at=timezone.now()
    )
    activity_record(
        lead=lead, kind=ActivityKind.SYSTEM, actor=None, at=at, summary=f"Assigned to {display_name(owner)}",
        touch=False,
    )



def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """The raw submitted fields as they came, made safe for a JSON column."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            result[str(key)] = value
        elif isinstance(value, list | tuple):
            result[str(key)] = [str(v) for v in value]
        else:
            result[str(key)] = str(value)
    return result


__all__ = ["PROFILE_FIELDS", "IntakeResult", "clean_countries", "clean_email", "clean_profile", "inquiry_receive"]
