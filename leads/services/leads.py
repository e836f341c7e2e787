"""Recruiter edits of one lead: assigning an owner and correcting the profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from leads.models import ActivityKind, Lead, Membership, Opening, display_name
from leads.normalise import normalise_phone, normalise_profile_url
from leads.services.activity import activity_record
from leads.services.followups import owner_notify_assigned
from leads.timezones import zone_name_for_country

# What a recruiter may correct; the email is the lead's identity and is not among them.
EDITABLE_FIELDS: frozenset[str] = frozenset({
    "name", "phone", "current_country", "current_city", "time_zone", "profile_url", "opening",
    "role_of_interest", "years_experience", "needs_sponsorship", "visa_pathway", "earliest_move_date",
    "move_timeline", "relocating_with", "dependants", "partner_needs_work_rights",
    "credentials_to_recognise", "motivation", "marketing_opt_in",
})



def lead_assign(*, lead: Lead, owner, by) -> bool:
    """Give the lead to ``owner`` (a member of its employer) or to nobody; False when unchanged."""
    if owner is not None and not Membership.objects.filter(user_id=owner.pk, employer_id=lead.employer_id).exists():
        raise ValidationError({"owner": "The owner must be a member of this lead's employer."})
    if lead.owner_id == (owner.pk if owner else None):
        return False
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(owner=owner)
        lead.owner = owner
        summary = f"Assigned to {display_name(owner)}" if owner else "Unassigned"
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by, summary=f"{summary} by {display_name(by)}",
                        touch=False)
        if owner is not None and owner.pk != by.pk:
            owner_notify_assigned(lead=lead)
    return True


def lead_update(*, lead: Lead, fields: Mapping[str, Any], by) -> list[str]:
    """Correct the lead's profile with the model's own rules; returns the fields that changed."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"lead_update() got fields it may not change: {', '.join(sorted(unknown))}")
    values = _normalised(lead, dict(fields))
    changed = [key for key, value in values.items() if getattr(lead, key) != value]
    if not changed:
        return []
    original = {key: getattr(lead, key) for key in changed}
    for key in changed:
        setattr(lead, key, values[key])
    if "current_country" in changed and "time_zone" not in changed and not values.get("time_zone"):
        lead.time_zone = zone_name_for_country(lead.current_country.code if lead.current_country else "")
        changed.append("time_zone")
    try:
        lead.full_clean(exclude=[f.name for f in Lead._meta.fields if f.name not in changed],
                        validate_unique=False, validate_constraints=False)
    except ValidationError:
        for key, value in original.items():
            setattr(lead, key, value)
        raise
    with transaction.atomic():
        lead.save(update_fields=[*changed, "updated_at"])
        labels = ", ".join(str(Lead._meta.get_field(key).verbose_name) for key in changed)
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by, summary=f"Profile edited: {labels}",
                        touch=False)
    return changed


def _normalised(lead: Lead, values: dict[str, Any]) -> dict[str, Any]:
    country = str(values.get("current_country") or "")
    for key in ("phone", "current_country", "current_city", "time_zone", "profile_url", "role_of_interest",
                "visa_pathway", "move_timeline", "relocating_with", "credentials_to_recognise", "motivation"):
        if key in values and values[key] is None:
            values[key] = ""
    if values.get("dependants") is None and "dependants" in values:
        values["dependants"] = 0
    if values.get("phone"):
        try:
            values["phone"] = normalise_phone(str(values["phone"]), country)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
    if values.get("profile_url"):
        values["profile_url"] = normalise_profile_url(str(values["profile_url"]))
    opening = values.get("opening")
    if opening is not None and (not isinstance(opening, Opening) or opening.employer_id != lead.employer_id):
        raise ValidationError({"opening": "Choose an opening of this lead's employer."})
    if values.get("name") is not None:
        values["name"] = " ".join(str(values["name"]).split())[:200]
        if not values["name"]:
            raise ValidationError({"name": "A lead needs a name."})
    return values
