"""The small rows of the demo: users, employers and their configuration. Idempotent: each row
is looked up by its natural key and created only when missing, so that a re-run changes nothing
an admin may have edited since."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from leads.demo import data
from leads.models import (
    ClosedReason,
    EmailTemplate,
    EmailTemplateTranslation,
    Employer,
    MarkedEvent,
    Membership,
    Opening,
    Sequence,
    SequenceStep,
    Skill,
    display_name,
)


@dataclass(frozen=True)
class OpeningRef:
    id: int
    title: str
    is_open: bool


@dataclass(frozen=True)
class StepRef:
    """One step of the employer's default sequence, with its template's texts by language."""

    id: int
    position: int
    delay_days: int
    delay_from: str
    template_id: int
    template_name: str
    # language -> (subject, body_text, body_html): the template itself under the default language.
    texts: dict[str, tuple[str, str, str]]


@dataclass(frozen=True)
class SequenceRef:
    """What the follow-up history needs: the sequence the app would have queued, and the employer's
    settings its worker would have applied."""

    steps: tuple[StepRef, ...]
    stop_after_stage: str
    employer_name: str
    destination: str  # country code
    default_language: str
    send_window: tuple[dt.time, dt.time, str]  # start, end, weekdays as stored ("0,1,2,3,4")
    sender_email: str
    recruiters: dict[int, tuple[str, str]]  # user id -> (display name, email)


@dataclass(frozen=True)
class DemoEmployer:
    """What lead generation needs of one employer: ids, not model instances."""

    spec: data.EmployerSpec
    id: int
    # The seed's "now": leads are placed before it (see ``_anchor``).
    anchor: dt.datetime
    openings: tuple[OpeningRef, ...]
    skills: tuple[tuple[int, str], ...]
    recruiters: tuple[tuple[int, float], ...]  # (user id, response speed factor)
    reasons: dict[str, int]  # closed reason label -> id
    sequence: SequenceRef | None = None  # None: no active default sequence, so no follow-ups


def demo_setup(*, now: dt.datetime) -> list[DemoEmployer]:
    with transaction.atomic():
        users = _users()
        return [_employer(spec, users, now) for spec in data.EMPLOYERS]


def _users() -> dict[str, AbstractUser]:
    User = get_user_model()
    users = {}
    for spec in data.USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@example.com",
                "is_staff": spec.is_staff,
                "is_superuser": spec.employer_slug is None,
            },
        )
        if created:
            # Only on creation: a re-run must not undo a password someone has changed.
            user.set_password(data.DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users[spec.username] = user
    return users


def _employer(spec: data.EmployerSpec, users: dict[str, AbstractUser], now: dt.datetime) -> DemoEmployer:
    employer, _ = Employer.objects.get_or_create(
        slug=spec.slug,
        defaults={
            "name": spec.name,
            "destination_country": spec.destination,
            "time_zone": spec.time_zone,
            "brand_colour": spec.brand_colour,
            "sender_name": spec.sender_name,
            "sender_email": spec.sender_email,
            "languages": list(data.EMPLOYER_LANGUAGES),
        },
    )
    recruiters = _memberships(employer, spec, users)
    openings = _openings(employer, spec)
    reasons = _closed_reasons(employer)
    _templates_and_sequence(employer, spec)
    skills = _skills(employer, spec)
    anchor = _anchor(employer, spec, now)
    return DemoEmployer(
        spec=spec, id=employer.pk, anchor=anchor, openings=openings, skills=skills,
        recruiters=recruiters, reasons=reasons, sequence=_sequence_ref(employer, recruiters),
    )


def _memberships(
    employer: Employer, spec: data.EmployerSpec, users: dict[str, AbstractUser]
) -> tuple[tuple[int, float], ...]:
    recruiters = []
    for user_spec in data.USERS:
        if user_spec.employer_slug != spec.slug:
            continue
        user = users[user_spec.username]
        Membership.objects.get_or_create(user=user, employer=employer, defaults={"role": user_spec.role})
        if user_spec.role == "recruiter":
            recruiters.append((user.pk, user_spec.speed))
    return tuple(recruiters)


def _openings(employer: Employer, spec: data.EmployerSpec) -> tuple[OpeningRef, ...]:
    refs = []
    for opening_spec in spec.openings:
        opening, _ = Opening.objects.get_or_create(
            employer=employer,
            title=opening_spec.title,
            defaults={
                "team": opening_spec.team,
                "location": opening_spec.location,
                "visa_sponsorship": opening_spec.visa_sponsorship,
                "status": Opening.Status.OPEN if opening_spec.open else Opening.Status.CLOSED,
            },
        )
        refs.append(OpeningRef(opening.pk, opening.title, opening.status == Opening.Status.OPEN))
    return tuple(refs)


def _closed_reasons(employer: Employer) -> dict[str, int]:
    reasons = {}
    for position, (label, stage) in enumerate(data.CLOSED_REASONS):
        reason, _ = ClosedReason.objects.get_or_create(
            employer=employer, label=label, defaults={"stage": stage, "position": position}
        )
        reasons[label] = reason.pk
    return reasons


def _templates_and_sequence(employer: Employer, spec: data.EmployerSpec) -> None:
    destination = employer.destination_country.name
    templates = {}
    for name, kind, subject, body in data.TEMPLATES:
        # str.replace, not format(): the bodies are full of template braces.
        template, _ = EmailTemplate.objects.get_or_create(
            employer=employer,
            name=name,
            defaults={
                "kind": kind,
                "subject": subject.replace("{destination}", destination),
                "body_text": body.replace("{destination}", destination),
            },
        )
        templates[name] = template
    _translations(templates, spec)
    sequence, _ = Sequence.objects.get_or_create(employer=employer, name=data.SEQUENCE_NAME)
    for position, delay_days, delay_from, template_name in data.SEQUENCE_STEPS:
        SequenceStep.objects.get_or_create(
            sequence=sequence,
            position=position,
            defaults={"delay_days": delay_days, "delay_from": delay_from, "template": templates[template_name]},
        )
    if employer.default_sequence_id is None:
        employer.default_sequence = sequence
        employer.save(update_fields=["default_sequence"])


def _sequence_ref(employer: Employer, recruiters: tuple[tuple[int, float], ...]) -> SequenceRef | None:
    """The employer's default sequence as it is now (an admin may have edited it since)."""
    sequence = employer.default_sequence
    if sequence is None or not sequence.active:
        return None
    steps = []
    for step in (SequenceStep.objects.filter(sequence=sequence).select_related("template")
                 .prefetch_related("template__translations").order_by("position")):
        template = step.template
        texts = {employer.default_language: (template.subject, template.body_text, template.body_html)}
        for translation in template.translations.all():
            if translation.language != employer.default_language:
                texts[translation.language] = (translation.subject, translation.body_text, translation.body_html)
        steps.append(StepRef(step.pk, step.position, step.delay_days, step.delay_from, template.pk, template.name,
                             texts))
    users = get_user_model().objects.in_bulk([user_id for user_id, _ in recruiters])
    return SequenceRef(
        steps=tuple(steps), stop_after_stage=sequence.stop_after_stage, employer_name=employer.name,
        destination=employer.destination_country.code, default_language=employer.default_language,
        send_window=(employer.send_window_start, employer.send_window_end, employer.send_weekdays),
        sender_email=employer.sender_email,
        recruiters={pk: (display_name(user), user.email) for pk, user in users.items()},
    )


def _translations(templates: dict[str, EmailTemplate], spec: data.EmployerSpec) -> None:
    for name, language, subject, body in data.TRANSLATIONS:
        in_destination = data.IN_DESTINATION[language][spec.destination]
        EmailTemplateTranslation.objects.get_or_create(
            template=templates[name], language=language,
            defaults={"subject": subject, "body_text": body.replace("{in_destination}", in_destination)},
        )


def _skills(employer: Employer, spec: data.EmployerSpec) -> tuple[tuple[int, str], ...]:
    # Skill names are unique case-insensitively per employer: conflicts are the rows we have.
    Skill.objects.bulk_create([Skill(employer=employer, name=name) for name in spec.skills], ignore_conflicts=True)
    by_name = {s.name.lower(): s.pk for s in Skill.objects.filter(employer=employer)}
    return tuple((by_name[name.lower()], name) for name in spec.skills)


def _anchor(employer: Employer, spec: data.EmployerSpec, now: dt.datetime) -> dt.datetime:
    """The seed's "now", read back from the marked surge on a re-run.

    A later run that adds leads (``--leads`` larger) then places them on the same calendar as
    the first run's leads, so the spike stays under its marked cause instead of smearing.
    """
    surge, _ = MarkedEvent.objects.get_or_create(
        employer=employer,
        label=data.SURGE_LABEL,
        defaults={"date": now.date() - dt.timedelta(days=data.SURGE_DAYS_AGO)},
    )
    seed_day = surge.date + dt.timedelta(days=data.SURGE_DAYS_AGO)
    others = [(s.label, s.days_ago) for s in data.SURGES if s.label != data.SURGE_LABEL]
    for label, days_ago in [*others, (spec.fair_label, spec.fair_days_ago)]:
        MarkedEvent.objects.get_or_create(
            employer=employer, label=label, defaults={"date": seed_day - dt.timedelta(days=days_ago)},
        )
    end_of_seed_day = dt.datetime.combine(seed_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return min(now, end_of_seed_day)
