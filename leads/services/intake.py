"""The one intake service: every path (public form, manual entry, import, API, inbound email)
records an inquiry through ``inquiry_receive``.

A repeat inquiry from the same email joins the existing lead and counts as repeat interest;
it never creates a second lead, even when two arrive at the same moment.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext

from leads import profile
from leads.models import (
    ActivityKind,
    Citizenship,
    Employer,
    Inquiry,
    Lead,
    LegalBasis,
    Membership,
    Opening,
    PossibleDuplicate,
    ProfileChange,
    Role,
    Skill,
    Source,
    Stage,
    StageEvent,
    Submission,
    WebhookEvent,
    display_name,
)
from leads.normalise import normalise_email
from leads.profile import Repeat
from leads.services.activity import activity_record
from leads.services.consent import ConsentShown, consents_on_intake
from leads.services.followups import followups_cancel, followups_on_inquiry, owner_notify_assigned
from leads.services.webhooks import iso, webhook_emit_many
from leads.timezones import zone_name_for_country

# The lead fields an inquiry may set (leads/profile.py). A value of None or "" means "not given".
PROFILE_FIELDS: frozenset[str] = profile.INQUIRY_FIELDS
_MAX_DUPLICATE_FLAGS = 10
_EMAIL_MAX = Lead._meta.get_field("email").max_length
_NAME_MAX = Lead._meta.get_field("name").max_length
# A deadlock or serialization failure rolls the whole intake back; it is run again this many
# times in all before the error reaches the caller (the intake worker then keeps the
# submission pending).
_TRANSIENT_ATTEMPTS = 4
# PostgreSQL's deadlock_detected and serialization_failure.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})

logger = logging.getLogger(__name__)


class SubmissionAlreadyProcessed(Exception):
    """The submission became an inquiry already (another worker, or an earlier run)."""


class RowAlreadyImported(Exception):
    """An inquiry of this employer holds this import fingerprint already (an earlier or a
    concurrent import of the same row); nothing was written."""


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
    submission_id: uuid.UUID | None = None,
    counts_as_reply: bool = False,
    legal_basis: str = "",
    import_fingerprint: str = "",
    consent_shown: ConsentShown | None = None,
) -> IntakeResult:
    """Record one inquiry: create the lead or join the existing one, in one transaction.

    Raises ValidationError (and writes nothing) when the input is not acceptable. With a
    ``submission_id`` the pending submission is marked processed in the same transaction:
    SubmissionAlreadyProcessed when it was processed before, and nothing is written. With
    ``counts_as_reply`` an inquiry joining a known lead is that person's reply (an email answering
    ours): their sequence stops in the same transaction, so no follow-up can slip out after it.

    The legal basis: accepting the privacy terms is consent; an email the person wrote is
    legitimate interest; any other channel says which (a recruiter picks one). Without one the
    lead is stored and nothing is sent to it. With an ``import_fingerprint`` (a CSV row) an
    inquiry already holding it raises RowAlreadyImported, and nothing is written.

    Consent rows are written in the same transaction (leads/services/consent.py): accepting the
    privacy terms is an inquiry consent, ``marketing_opt_in`` a news consent, each with the
    wording of ``consent_shown`` (what the channel showed); consent given in person is recorded
    by the ``actor``. Not ticking news on a repeat inquiry withdraws nothing.
    """
    if channel not in Source.values:
        raise ValidationError({"channel": gettext("Unknown channel %(channel)s.") % {"channel": repr(channel)}})
    if legal_basis and legal_basis not in LegalBasis.values:
        raise ValidationError({"legal_basis": gettext("Choose a legal basis from the list.")})
    if privacy_accepted:
        legal_basis = LegalBasis.CONSENT
    elif not legal_basis and channel == Source.EMAIL:
        legal_basis = LegalBasis.LEGITIMATE_INTEREST
    received_at = received_at or timezone.now()
    _refuse_unstorable({"name": name, "subject": subject, "body": body, "email": email, **(fields or {})})
    profile = clean_profile(employer, fields or {})
    # Not a profile value a repeat inquiry replaces: a consent, withdrawn only explicitly.
    news = bool(profile.pop("marketing_opt_in", False))
    email = clean_email(email)
    name = " ".join((name or "").split())[:_NAME_MAX]
    countries = clean_countries(citizenships)
    if owner is not None and not _is_member(owner, employer):
        raise ValidationError({"owner": gettext("The owner must be a member of this employer.")})
    known = Lead.objects.filter(employer=employer, email=email).exists()
    if owner is None and not known:
        # Taken in a short transaction of its own: no lock is held across the intake.
        owner = _claim_round_robin_owner(employer)
    intake = _Intake(
        employer=employer, channel=channel, email=email, name=name, profile=profile, countries=countries,
        skills=sorted({" ".join(n.split())[:60] for n in skills if n and n.strip()}, key=str.lower),
        privacy_accepted=privacy_accepted, subject=(subject or "")[:300], body=body or "",
        raw_fields=_jsonable(raw_fields or {}), received_at=received_at, owner=owner, actor=actor,
        remote_addr=remote_addr or None, submission_id=submission_id, known=known, counts_as_reply=counts_as_reply,
        legal_basis=legal_basis, import_fingerprint=(import_fingerprint or "")[:64], news=news,
        consent_shown=consent_shown,
    )
    for attempt in range(1, _TRANSIENT_ATTEMPTS + 1):
        try:
            with transaction.atomic(durable=True):
                lead, inquiry, created = _record(intake)
            break
        except IntegrityError:
            if intake.import_fingerprint and Inquiry.objects.filter(
                employer=employer, import_fingerprint=intake.import_fingerprint
            ).exists():
                raise RowAlreadyImported(intake.import_fingerprint) from None
            raise
        except OperationalError as exc:
            if attempt == _TRANSIENT_ATTEMPTS or not is_transient(exc):
                raise
            # No address in the log: a log file is not reached by erasure.
            logger.info("intake retried after %s (attempt %d)", exc.__class__.__name__, attempt)
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    # After the commit, so that two people flagged as each other's duplicate never wait on each
    # other's transaction; both committed leads are visible here, so neither pair is missed.
    try:
        _flag_possible_duplicates(lead)
    except DatabaseError:
        logger.warning("possible duplicates of lead %s not flagged", lead.pk, exc_info=True)
    return IntakeResult(lead=lead, inquiry=inquiry, created=created)


@dataclass(frozen=True)
class _Intake:
    employer: Employer
    channel: str
    email: str
    name: str
    profile: dict[str, Any]
    countries: list[str]
    skills: list[str]
    privacy_accepted: bool
    subject: str
    body: str
    raw_fields: dict[str, Any]
    received_at: dt.datetime
    owner: Any
    actor: Any
    remote_addr: str | None
    submission_id: uuid.UUID | None
    known: bool
    counts_as_reply: bool = False
    legal_basis: str = ""
    import_fingerprint: str = ""
    news: bool = False
    consent_shown: ConsentShown | None = None


def _record(intake: _Intake) -> tuple[Lead, Inquiry, bool]:
    """The intake transaction. Its locks, in order: the submission row, the lead row, then rows
    only this lead has (its inquiry, events, outbox); skills are inserted in name order."""
    employer, received_at = intake.employer, intake.received_at
    if intake.submission_id is not None:
        claimed = Submission.objects.filter(pk=intake.submission_id, status=Submission.Status.PENDING).update(
            status=Submission.Status.PROCESSED, processed_at=timezone.now(), attempts=F("attempts") + 1,
        )
        if not claimed:
            raise SubmissionAlreadyProcessed(str(intake.submission_id))
    consent = {"privacy_accepted_at": received_at} if intake.privacy_accepted else {}
    if intake.legal_basis:
        consent["legal_basis"] = intake.legal_basis
    if intake.news:
        # A new lead is created opted in; its news row (below) then agrees with it.
        consent["marketing_opt_in"] = True
    lead, created = _lock_or_create_lead(
        employer, intake.email, intake.name, intake.channel, received_at, {**intake.profile, **consent},
        owner=intake.owner, known=intake.known,
    )
    if created:
        StageEvent.objects.create(
            employer=employer, lead=lead, from_stage="", to_stage=Stage.NEW, at=received_at, by=intake.actor
        )
    _add_citizenships(lead, intake.countries)
    _add_skills(employer, lead, intake.skills)
    inquiry = Inquiry.objects.create(
        employer=employer,
        lead=lead,
        channel=intake.channel,
        received_at=received_at,
        subject=intake.subject,
        body=intake.body,
        country=intake.profile.get("current_country") or lead.current_country,
        is_repeat=not created,
        raw_fields=intake.raw_fields,
        remote_addr=intake.remote_addr,
        import_fingerprint=intake.import_fingerprint,
    )
    if not created:
        _update_lead(lead, intake, inquiry)
    if intake.submission_id is not None:
        Submission.objects.filter(pk=intake.submission_id).update(inquiry=inquiry)
    consents_on_intake(
        lead=lead, channel=intake.channel, at=received_at, privacy_accepted=intake.privacy_accepted,
        news=intake.news, legal_basis=intake.legal_basis, shown=intake.consent_shown,
        remote_addr=intake.remote_addr, actor=intake.actor,
    )
    if created and lead.owner_id:
        activity_record(
            lead=lead, kind=ActivityKind.SYSTEM, actor=None, at=received_at,
            summary=f"Assigned to {display_name(lead.owner)}", touch=False,
        )
    if intake.counts_as_reply and not created:
        followups_cancel(lead=lead, reason="the lead replied")
        activity_record(lead=lead, kind=ActivityKind.REPLY, summary="Replied by email", at=received_at)
    # The outbox rows are written in this transaction; the emails go out after commit. A reply
    # to our email is a conversation, not a new inquiry: nothing automatic answers it.
    if not (intake.counts_as_reply and not created):
        followups_on_inquiry(lead=lead, inquiry=inquiry, created=created)
    if created:
        owner_notify_assigned(lead=lead)
    _webhooks_emit(lead, inquiry, created)
    return lead, inquiry, created


def _webhooks_emit(lead: Lead, inquiry: Inquiry, created: bool) -> None:
    events = [(WebhookEvent.INQUIRY_RECEIVED, {
        "inquiry": inquiry.pk, "lead": lead.pk, "source": inquiry.channel, "received_at": iso(inquiry.received_at),
    })]
    if created:
        events.insert(0, (WebhookEvent.LEAD_CREATED, {
            "lead": lead.pk, "source": lead.source, "opening": lead.opening_id, "created_at": iso(lead.created_at),
        }))
    webhook_emit_many(employer_id=lead.employer_id, events=events)


def is_transient(exc: BaseException) -> bool:
    """A deadlock or serialization failure (PostgreSQL), or a busy SQLite file: worth running
    the same transaction again."""
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(exc)


# The checks inquiry_receive applies, public so that a channel can check a whole batch
# (an import preview) before anything is stored.


def clean_email(value: str) -> str:
    try:
        email = normalise_email(value)
    except ValidationError as exc:
        raise ValidationError({"email": gettext("Enter a valid email address.")}) from exc
    if len(email) > _EMAIL_MAX:
        raise ValidationError(
            {"email": gettext("An email address has at most %(count)s characters.") % {"count": _EMAIL_MAX}})
    return email


def clean_countries(codes: Iterable[str]) -> list[str]:
    from django_countries import countries

    cleaned = []
    for code in codes:
        code = (code or "").strip().upper()
        if code and code not in countries:
            raise ValidationError({"citizenships": gettext("Unknown country code %(code)s.") % {"code": repr(code)}})
        if code and code not in cleaned:
            cleaned.append(code)
    return cleaned


def clean_profile(employer: Employer, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The inquiry's profile values (leads/profile.py's one normaliser), and the opening looked
    up among this employer's."""
    cleaned = profile.clean_profile(fields, allowed=PROFILE_FIELDS)
    opening = cleaned.get("opening")
    if opening is not None:
        opening_id = opening.pk if isinstance(opening, Opening) else opening
        found = Opening.objects.filter(employer=employer, pk=opening_id).first()
        if found is None:
            raise ValidationError({"opening": gettext("Choose an opening of this employer.")})
        cleaned["opening"] = found
    return cleaned


def check_profile(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Every rule of an inquiry's fields that needs no database (the opening is looked up by
    clean_profile): the public form applies these before it accepts a submission."""
    return profile.clean_profile(fields, allowed=PROFILE_FIELDS)


def _is_member(user, employer: Employer) -> bool:
    return Membership.objects.filter(user_id=user.pk, employer=employer).exists()


def _lock_or_create_lead(
    employer: Employer, email: str, name: str, channel: str, received_at: dt.datetime, profile: dict[str, Any],
    *, owner, known: bool,
) -> tuple[Lead, bool]:
    if known:
        lead = Lead.objects.select_for_update().filter(employer=employer, email=email).first()
        if lead is not None:
            return lead, False
    lead = Lead(
        employer=employer,
        email=email,
        name=name or email.split("@")[0][:_NAME_MAX],
        source=channel,
        owner=owner,
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


def _update_lead(lead: Lead, intake: _Intake, inquiry: Inquiry) -> None:
    """A repeat inquiry: what the person tells us now is newer than what we had, and what we had
    stays on the timeline (a ProfileChange per value, restorable). Contact details that differ
    from the ones on file are a proposal when nobody vouches for the inquiry (no recruiter
    entered it): whoever knows a person's email cannot change their phone number."""
    received_at = intake.received_at
    changed: list[str] = []
    history: list[ProfileChange] = []
    proposed: list[str] = []
    for key, value in intake.profile.items():
        spec = profile.BY_NAME[key]
        old = profile.lead_value(lead, key)
        new = value.pk if isinstance(value, Opening) else value
        has_old = old not in (None, "")
        if old == new or (spec.repeat is Repeat.KEEP and has_old) or (spec.repeat is Repeat.FILL and has_old):
            continue
        record = ProfileChange(lead=lead, inquiry=inquiry, field=key, old_value=profile.as_json(key, old),
                               new_value=profile.as_json(key, value), at=received_at)
        if spec.repeat is Repeat.PROPOSE and has_old and intake.actor is None:
            record.status = ProfileChange.Status.PROPOSED
            proposed.append(key)
        else:
            record.status = ProfileChange.Status.APPLIED
            profile.set_lead_value(lead, key, value)
            changed.append(key)
        if has_old:
            history.append(record)
    if intake.name and not lead.name:
        lead.name = intake.name
        changed.append("name")
    if "current_country" in changed and "time_zone" not in intake.profile:
        lead.time_zone = zone_name_for_country(lead.current_country.code)
        changed.append("time_zone")
    if intake.privacy_accepted and lead.privacy_accepted_at is None:
        lead.privacy_accepted_at = received_at
        changed.append("privacy_accepted_at")
    if intake.legal_basis and _basis_rank(intake.legal_basis) > _basis_rank(lead.legal_basis):
        lead.legal_basis = intake.legal_basis
        changed.append("legal_basis")
    lead.last_activity_at = max(lead.last_activity_at, received_at)
    lead.save(update_fields=[*dict.fromkeys(changed), "last_activity_at", "updated_at"])
    ProfileChange.objects.bulk_create(history)
    labels = [profile.BY_NAME[key].label for key in changed if key in profile.BY_NAME and key != "legal_basis"]
    summary = "Repeat inquiry" + (f": updated {', '.join(labels)}" if labels else "")
    if proposed:
        summary += f"; proposed a new {', '.join(profile.BY_NAME[k].label.lower() for k in proposed)}"
    activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=intake.actor, at=received_at, summary=summary,
                    details="\n".join(f"{profile.BY_NAME[c.field].label}: {profile.as_label(c.field, c.old_value)}"
                                      f" → {profile.as_label(c.field, c.new_value)}" for c in history), touch=False)


# A stronger basis replaces a weaker one; a weaker never replaces a stronger.
_BASIS_ORDER = ("", LegalBasis.LEGITIMATE_INTEREST, LegalBasis.CONSENT_IN_PERSON, LegalBasis.CONSENT)


def _basis_rank(basis: str) -> int:
    return _BASIS_ORDER.index(basis) if basis in _BASIS_ORDER else 0


def _add_citizenships(lead: Lead, countries: list[str]) -> None:
    if countries:
        Citizenship.objects.bulk_create(
            [Citizenship(lead=lead, country=code) for code in countries], ignore_conflicts=True
        )


def _add_skills(employer: Employer, lead: Lead, wanted: list[str]) -> None:
    """``wanted`` is in name order: concurrent intakes insert new skills in the same order."""
    if not wanted:
        return
    existing = {s.name.lower(): s for s in Skill.objects.filter(employer=employer)}
    missing = [n for n in wanted if n.lower() not in existing]
    if missing:
        Skill.objects.bulk_create([Skill(employer=employer, name=n) for n in missing], ignore_conflicts=True)
        existing = {s.name.lower(): s for s in Skill.objects.filter(employer=employer)}
    lead.skills.add(*[existing[n.lower()] for n in wanted if n.lower() in existing])


def _flag_possible_duplicates(lead: Lead) -> None:
    """Same phone, same profile URL, or same name and country: flagged, never merged by itself.

    Runs after the intake has committed, as one INSERT of its own whose rows are in key order."""
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
    if not candidates:
        return
    # One row per pair and reason: the newer lead points at the older one.
    rows = sorted({(max(lead.pk, pk), min(lead.pk, pk), reason) for pk, reason in candidates})
    PossibleDuplicate.objects.bulk_create(
        [PossibleDuplicate(employer_id=lead.employer_id, lead_id=a, other_id=b, reason=r) for a, b, r in rows],
        ignore_conflicts=True,
    )


def _claim_round_robin_owner(employer: Employer):
    """The next recruiter in turn. The turn is a counter on the employer, taken by one UPDATE
    that commits at once: concurrent intakes take strict turns and no lock is held across an
    intake."""
    recruiters = list(
        Membership.objects.filter(
            employer=employer, role=Role.RECRUITER, receives_assignments=True, user__is_active=True
        )
        .order_by("id")
        .select_related("user")
    )
    if not recruiters:
        return None
    chosen = recruiters[(_next_assignment_turn(employer.pk) - 1) % len(recruiters)]
    Membership.objects.filter(pk=chosen.pk).update(last_assigned_at=timezone.now())
    return chosen.user


def _next_assignment_turn(employer_id: int) -> int:
    table = connection.ops.quote_name(Employer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET assignment_turn = assignment_turn + 1 WHERE id = %s "  # noqa: S608 - our table
            "RETURNING assignment_turn",
            [employer_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 1


def _refuse_unstorable(values: Mapping[str, Any]) -> None:
    """The last check every channel passes: text no database can hold (NUL, half a UTF-16
    pair) is a ValidationError naming the field, never a database error."""
    errors = {}
    for key, value in values.items():
        if isinstance(value, str) and not _storable(value):
            errors[key] = gettext("This text holds characters that cannot be stored (NUL or a lone surrogate).")
    if errors:
        raise ValidationError(errors)


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def safe_text(value: str) -> str:
    """Text any database holds: NUL and lone surrogates become U+FFFD."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """The raw submitted fields as they came, made safe for a JSON column (no NUL, no lone
    surrogate: both are replaced by U+FFFD)."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        key = safe_text(str(key))
        if isinstance(value, str):
            result[key] = safe_text(value)
        elif isinstance(value, int | float | bool) or value is None:
            result[key] = value
        elif isinstance(value, list | tuple):
            result[key] = [safe_text(str(v)) for v in value]
        else:
            result[key] = safe_text(str(value))
    return result


__all__ = [
    "PROFILE_FIELDS", "IntakeResult", "RowAlreadyImported", "SubmissionAlreadyProcessed", "check_profile",
    "clean_countries", "clean_email", "clean_profile", "inquiry_receive", "is_transient", "safe_text",
]
