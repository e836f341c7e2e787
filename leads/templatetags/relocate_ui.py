"""Small template helpers for the recruiter UI."""

from __future__ import annotations

import functools

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext

from leads import profile
from leads.models import MILESTONES, Opening, Stage, display_name
from leads.services.saved_views import KEPT_CHOICES

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (None or '' removes one)."""
    params: QueryDict = context["request"].GET.copy()
    for kept in KEPT_CHOICES:  # a failed bulk action's choices: not carried to the next page
        params.pop(kept, None)
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


STAGE_COLOURS = {
    "new": "secondary", "contacted": "info", "applied": "primary", "interviewing": "primary",
    "offer": "warning", "hired": "success", "visa": "success", "relocated": "success",
    "declined": "dark", "withdrawn": "dark", "unresponsive": "dark",
}


@register.filter
def stage_colour(stage: str) -> str:
    return STAGE_COLOURS.get(stage, "secondary")


@register.filter
def next_stage(stage: str) -> str:
    """The milestone after this one: the usual move, preselected on the board."""
    if stage in MILESTONES and stage != MILESTONES[-1]:
        return MILESTONES[MILESTONES.index(stage) + 1]
    return ""


@functools.cache
def _stage_options(current: str, language: str | None) -> str:
    """Kept per language too: the stages' labels are translated."""
    following = next_stage(current)
    return "".join(
        format_html('<option value="{}"{}>{}</option>', value, mark_safe(" selected") if value == following else "",
                    label)
        for value, label in Stage.choices if value != current
    )


@register.simple_tag
def stage_options(current: str) -> str:
    """The <option>s of a card's move control, the next milestone preselected. Built once per
    stage: the board renders hundreds of cards, and a template loop per card was most of its time."""
    return mark_safe(_stage_options(current, get_language()))  # noqa: S308 - built with format_html from constants


# --- The profile changes repeat inquiries made or proposed (leads/profile.py) -------------------

@register.filter
def proposed_changes(changes) -> list:
    return [c for c in changes if c.status == "proposed"]


@register.filter
def applied_changes(changes) -> list:
    """What a repeat inquiry changed (restorable or restored), not the proposals."""
    return [c for c in changes if c.status in ("applied", "restored")]


@register.filter
def profile_label(name: str) -> str:
    spec = profile.BY_NAME.get(name)
    return spec.label if spec else name


@register.filter
def profile_text(value, name: str) -> str:
    """A stored value as a recruiter reads it: yes/no, a country code, an opening's id as its title."""
    if name not in profile.BY_NAME:
        return "" if value is None else str(value)
    if profile.BY_NAME[name].kind is profile.Kind.OPENING and value:
        opening = Opening.objects.filter(pk=value).only("title").first()
        return opening.title if opening else gettext("opening %(id)s (deleted)") % {"id": value}
    return profile.as_label(name, value)


@register.filter
def person(user) -> str:
    """A colleague as the rest of the UI names them: full name, else username."""
    return display_name(user) if user else ""
