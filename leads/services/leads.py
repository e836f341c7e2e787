"""Recruiter edits of one lead: assigning an owner and correcting the profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads import profile
from leads.models import (
    ActivityKind,
    AuditAction,
    Citizenship,
    Lead,
    Membership,
    Opening,
    ProfileChange,
    Skill,
    display_name,
)
from leads.services.activity import activity_record
from leads.services.audit import audit_record
from leads.services.followups import owner_notify_assigned
from leads.services.intake import clean_countries, clean_email
from leads.timezones import zone_name_for_country

# What a recruiter may correct (leads/profile.py); the email is the lead's identity and is not
# among them.
EDITABLE_FIELDS: frozenset[str] = frozenset({"name", *profile.EDITABLE_FIELDS})
# What lead_update also takes: the email (the lead's identity: changed only to an address no
# other lead of the employer has), and the lists.
_IDENTITY_AND_LISTS = frozenset({"email", "citizenships", "skills"})


def lead_assign(*, lead: Lead, owner, by) -> bool:
    """Give the lead to ``owner`` (a member of its employer) or to nobody; False when unchanged."""
    if owner is not None and not Membership.objects.filter(user_id=owner.pk, employer_id=lead.employer_id).exists():
        raise ValidationError({"owner": _("The owner must be a member of this lead's employer.")})
    if lead.owner_id == (owner.pk if owner else None):
        return False
    with transaction.atomic(durable=True):
        Lead.objects.filter(pk=lead.pk).update(owner=owner)
        lead.owner = owner
        summary = f"Assigned to {display_name(owner)}" if owner else "Unassigned"
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by, summary=f"{summary} by {display_name(by)}",
                        touch=False)
        if owner is not None and owner.pk != by.pk:
            owner_notify_assigned(lead=lead)
    return True


def lead_update(*, lead: Lead, fields: Mapping[str, Any], by, remote_addr: str | None = None) -> list[str]:
    """Correct the lead's profile with the one normaliser of leads/profile.py; returns the fields
    that changed. An emptied field is cleared. The audit row names the fields, never values."""
    unknown = set(fields) - EDITABLE_FIELDS - _IDENTITY_AND_LISTS
    if unknown:
        raise TypeError(f"lead_update() got fields it may not change: {', '.join(sorted(unknown))}")
    values = dict(fields)
    name = values.pop("name", None)
    email = values.pop("email", None)
    countries = values.pop("citizenships", None)
    skills = values.pop("skills", None)
    values = profile.clean_profile(values, allowed=profile.EDITABLE_FIELDS, keep_empty=True)
    if name is not None:
        values["name"] = " ".join(str(name).split())[:200]
        if not values["name"]:
            raise ValidationError({"name": _("A lead needs a name.")})
    opening = values.get("opening")
    if opening is not None and (not isinstance(opening, Opening) or opening.employer_id != lead.employer_id):
        raise ValidationError({"opening": _("Choose an opening of this lead's employer.")})
    changed = [key for key, value in values.items() if _current(lead, key) != _comparable(key, value)]
    email = _checked_email(lead, email) if email is not None else lead.email
    lists = _lists_changed(lead, countries, skills)
    if not changed and not lists and email == lead.email:
        return []
    for key in changed:
        if key == "name":
            lead.name = values[key]
        else:
            profile.set_lead_value(lead, key, values[key])
    details: list[str] = []
    if email != lead.email:
        details.append(f"Email: {lead.email} → {email}")
        lead.email = email
        changed.append("email")
    if "current_country" in changed and "time_zone" not in changed and not values.get("time_zone"):
        lead.time_zone = zone_name_for_country(lead.current_country.code if lead.current_country else "")
        changed.append("time_zone")
    with transaction.atomic(durable=True):
        if changed:
            lead.save(update_fields=[*changed, "updated_at"])
        for apply in lists.values():
            apply()
        labels = ", ".join([*(profile.BY_NAME[key].label if key in profile.BY_NAME else key.capitalize()
                              for key in changed), *lists])
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by, summary=f"Profile edited: {labels}",
                        details="\n".join(details), touch=False)
        names = [*changed, *(name.lower() for name in lists)]
        audit_record(action=AuditAction.CHANGED, employer_id=lead.employer_id, lead_id=lead.pk, user=by,
                     detail=f"profile: {', '.join(names)}", remote_addr=remote_addr)
    return names


def _checked_email(lead: Lead, value: str) -> str:
    email = clean_email(value)
    if email != lead.email and Lead.objects.filter(employer_id=lead.employer_id, email=email).exists():
        raise ValidationError({"email": _("Another lead of this employer has this email: merge them instead.")})
    return email


def _lists_changed(lead: Lead, countries, skills) -> dict[str, Any]:
    """The citizenships and skills to set, as functions to run in the transaction, by label."""
    changes: dict[str, Any] = {}
    if countries is not None:
        wanted = clean_countries(countries)
        if sorted(wanted) != sorted(c.country.code for c in lead.citizenships.all()):
            def set_countries() -> None:
                Citizenship.objects.filter(lead=lead).exclude(country__in=wanted).delete()
                Citizenship.objects.bulk_create([Citizenship(lead=lead, country=c) for c in wanted],
                                                ignore_conflicts=True)
            changes["Citizenships"] = set_countries
    if skills is not None:
        names = sorted({" ".join(n.split())[:60] for n in skills if n and n.strip()}, key=str.lower)
        if sorted(n.lower() for n in names) != sorted(s.name.lower() for s in lead.skills.all()):
            def set_skills() -> None:
                Skill.objects.bulk_create([Skill(employer_id=lead.employer_id, name=n) for n in names],
                                          ignore_conflicts=True)
                by_name = {s.name.lower(): s for s in Skill.objects.filter(employer_id=lead.employer_id)}
                lead.skills.set([by_name[n.lower()] for n in names if n.lower() in by_name])
            changes["Skills"] = set_skills
    return changes


def _current(lead: Lead, key: str) -> Any:
    return lead.name if key == "name" else profile.lead_value(lead, key)


def _comparable(key: str, value: Any) -> Any:
    return value.pk if isinstance(value, Opening) else value


def profile_change_decide(*, change: ProfileChange, action: str, by) -> None:
    """A recruiter restores the value a repeat inquiry replaced, or accepts or declines the
    contact detail it proposed. The lead's row is locked; a value changed since is refused."""
    spec = profile.BY_NAME.get(change.field)
    if spec is None:
        raise ValidationError(_("This field is no longer part of the profile."))
    wanted = {"restore": (ProfileChange.Status.APPLIED, ProfileChange.Status.RESTORED, change.old_value),
              "accept": (ProfileChange.Status.PROPOSED, ProfileChange.Status.ACCEPTED, change.new_value),
              "decline": (ProfileChange.Status.PROPOSED, ProfileChange.Status.DECLINED, None)}
    if action not in wanted:
        raise ValidationError(_("Choose to restore, accept or decline."))
    before, after, value = wanted[action]
    with transaction.atomic(durable=True):
        lead = Lead.objects.select_for_update().get(pk=change.lead_id)
        change = ProfileChange.objects.select_for_update().get(pk=change.pk)
        if change.status != before:
            raise ValidationError(_("This change was decided already."))
        current = profile.as_json(change.field, profile.lead_value(lead, change.field))
        if action == "restore" and current != change.new_value:
            raise ValidationError(_("The %(field)s has changed since; edit the profile instead.")
                                  % {"field": str(spec.label).lower()})
        label = spec.label
        if action != "decline":
            new = profile.from_json(change.field, value)
            cleaned = profile.clean_profile({change.field: new}, keep_empty=True)[change.field]
            if spec.kind is profile.Kind.OPENING and cleaned is not None and not Opening.objects.filter(
                pk=cleaned, employer_id=lead.employer_id
            ).exists():
                raise ValidationError(_("That opening no longer exists."))
            profile.set_lead_value(lead, change.field, cleaned)
            lead.save(update_fields=[change.field if spec.kind is not profile.Kind.OPENING else "opening",
                                     "updated_at"])
        ProfileChange.objects.filter(pk=change.pk).update(status=after, decided_by=by, decided_at=timezone.now())
        old_text = profile.as_label(change.field, change.old_value)
        new_text = profile.as_label(change.field, change.new_value)
        summary = {
            "restore": f"{label} restored: {new_text} → {old_text}",
            "accept": f"Proposed {label.lower()} accepted: {old_text} → {new_text}",
            "decline": f"Proposed {label.lower()} declined: kept {old_text}, not {new_text}",
        }[action]
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by, summary=f"{summary} by {display_name(by)}",
                        touch=False)
        if action != "decline":
            audit_record(action=AuditAction.CHANGED, employer_id=lead.employer_id, lead_id=lead.pk, user=by,
                         detail=f"profile: {change.field} ({action} of a repeat inquiry's value)")
