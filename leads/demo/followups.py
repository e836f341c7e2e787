"""The follow-up history of a demo lead: what the app's sequence and outbox would have written.

At intake the app queues every step of the employer's default sequence for a new lead
(``services.followups.followups_schedule``). Each row then ends one of three ways, as here:
sent by the worker inside the send window in the lead's time zone (rendered in the lead's
language, else the default one, with the fallback noted); cancelled, with the reason the app
gives, when the lead unsubscribed, had its follow-ups paused, replied, moved past the
sequence's stage or was closed first; or still scheduled, when it is due after the seed's "now".
Some sent emails are answered (an email reply: a repeat inquiry that answers it and a REPLY
activity) or end in an unsubscribe (the lead's timestamp, the news consent withdrawn, an
activity), as ``lead_unsubscribe`` records it.

Rendering goes through the app's own template code once per step and language, with markers
in place of the per-lead values; each email is then a few string replacements. The values
that need the lead's id (the unsubscribe link) stay markers until the writer knows the id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext
from django_countries import countries

from leads import emails
from leads.demo import data
from leads.demo.chance import Dice
from leads.demo.setup import DemoEmployer, SequenceRef, StepRef
from leads.models import (
    CLOSED_STAGES,
    MILESTONE_RANK,
    ActivityKind,
    ConsentPurpose,
    EmailTemplate,
    Language,
    OutboundKind,
    OutboundStatus,
    Source,
    Stage,
)
from leads.sendwindow import _aware, holiday_name, is_holiday, next_send_time, parse_weekdays
from leads.services.consent import UNSUBSCRIBE_CHANNEL
from leads.services.followups import CLOSED_PREFIX, MOVED_PREFIX, PAUSED_REASON

# Values that need the lead's id: the writer replaces these (``fill_lead_links``).
LINK_MARKS = {
    "unsubscribe_url": "\x01unsubscribe_url\x01",
    "still_interested_url": "\x01still_interested_url\x01",
    "my_data_url": "\x01my_data_url\x01",
}
_LINK_MAKERS = {
    "unsubscribe_url": emails.unsubscribe_url,
    "still_interested_url": emails.still_interested_url,
    "my_data_url": emails.my_data_url,
}
# The per-lead values of the template context, as markers: "\x02key\x02".
_KEYS = ("lead.name", "lead.first_name", "lead.email", "lead.current_city", "lead.current_country",
         "employer.name", "employer.destination_country", "opening", "recruiter.name", "recruiter.email", "signature")
_MARK = "\x02"
_HOLD_LATENCY = (5, 90)  # seconds between an email coming due and the worker's sweep sending it
_UNSUBSCRIBED = "the lead unsubscribed"
_REPLIED = "the lead replied"


def fill_lead_links(text: str, lead_id: int, cache: dict[str, str]) -> str:
    """The text with the lead's own links in place of their markers."""
    if "\x01" not in text:
        return text
    for key, mark in LINK_MARKS.items():
        if mark in text:
            if key not in cache:
                cache[key] = _LINK_MAKERS[key](lead_id)
            text = text.replace(mark, cache[key])
    return text


def _context(values: dict[str, str]) -> dict[str, Any]:
    """The shape of ``emails.template_context`` from flat values."""
    return {
        "lead": {"name": values["lead.name"], "first_name": values["lead.first_name"], "email": values["lead.email"],
                 "current_city": values["lead.current_city"], "current_country": values["lead.current_country"]},
        "employer": {"name": values["employer.name"], "destination_country": values["employer.destination_country"]},
        "opening": values["opening"],
        "recruiter": {"name": values["recruiter.name"], "email": values["recruiter.email"]},
        "signature": values["signature"],
        **LINK_MARKS,
        "link_days": settings.RELOCATE_MY_DATA_LINK_DAYS,
        "link_until": timezone.localdate() + dt.timedelta(days=settings.RELOCATE_MY_DATA_LINK_DAYS),
    }


class _Skeleton:
    """One template text rendered by the app with markers for the per-lead values."""

    def __init__(self, template: EmailTemplate, language: str) -> None:
        self.template, self.language = template, language
        with translation.override(language):
            rendered = emails.render_template(template, _context({key: f"{_MARK}{key}{_MARK}" for key in _KEYS}))
        self.parts = tuple(part.split(_MARK) for part in (rendered.subject, rendered.text, rendered.html))
        sample = {key: f"{key} Ōtaki & <co> 'x'" for key in _KEYS}
        with translation.override(language):
            expected = emails.render_template(template, _context(sample))
        # A template with filters or tags on the values (an admin's edit) is rendered per email.
        self.exact = self._fill(sample) == (expected.subject, expected.text, expected.html)

    def render(self, values: dict[str, str]) -> tuple[str, str, str]:
        if self.exact:
            return self._fill(values)
        with translation.override(self.language):
            rendered = emails.render_template(self.template, _context(values))
        return rendered.subject, rendered.text, rendered.html

    def _fill(self, values: dict[str, str]) -> tuple[str, str, str]:
        subject, text, html = (
            "".join((escape(values[piece]) if escaped else values[piece]) if i % 2 else piece
                    for i, piece in enumerate(parts)) if len(parts) > 1 else parts[0]
            for parts, escaped in zip(self.parts, (False, False, True), strict=True)
        )
        return " ".join(subject.split())[:300], text, html


@dataclass(frozen=True)
class _Written:
    """A step's email for leads of one language: the text, the language it is in and why not theirs."""

    skeleton: _Skeleton
    language: str
    fallback: str


class FollowupPlanner:
    """Plans a lead's follow-up rows. Built once per employer (it renders and reads settings);
    ``plan`` then touches no database, so it runs in the planning threads."""

    def __init__(self, employer: DemoEmployer) -> None:
        self.employer = employer
        self.anchor = employer.anchor
        self.sequence: SequenceRef | None = employer.sequence
        self.since = employer.anchor - dt.timedelta(days=data.FOLLOWUPS_SINCE_DAYS_AGO)
        self.zones: dict[str, zoneinfo.ZoneInfo] = {}
        self.days: dict[tuple[str, str, dt.date], list[dt.datetime | None]] = {}
        if self.sequence is None or not self.sequence.steps:
            self.sequence = None
            return
        seq = self.sequence
        self.stop_rank = MILESTONE_RANK[seq.stop_after_stage]
        start, end, weekdays = seq.send_window
        self.window = {"start": start, "end": end, "weekdays": parse_weekdays(weekdays)}
        languages = {code for code, _ in Language.choices}
        templates = self._templates(seq)
        self.written: dict[tuple[int, str], _Written] = {}
        for step in seq.steps:
            for wanted in languages:
                self.written[step.id, wanted] = self._written(step, templates, wanted, seq.default_language)
        self.places: dict[str, dict[str, str]] = {}
        for language in languages:
            with translation.override(language):
                self.places[language] = {
                    "destination": str(countries.name(seq.destination)),
                    "a role with us": gettext("a role with us"),
                    **{code: str(countries.name(code)) for code in data.CITIES},
                }
        with translation.override(settings.LANGUAGE_CODE):
            self.closed_reasons = {stage: f"{CLOSED_PREFIX} ({Stage(stage).label.lower()})" for stage in CLOSED_STAGES}
        self.to_header = _to_header(employer.spec.sender_name or seq.employer_name, seq.sender_email)

    @staticmethod
    def _templates(seq: SequenceRef) -> dict[tuple[int, str], EmailTemplate]:
        """Unsaved template rows with the stored texts: what ``render_template`` takes."""
        from leads.models import EmailTemplateTranslation

        built: dict[tuple[int, str], Any] = {}
        for step in seq.steps:
            base = EmailTemplate(pk=step.template_id, name=step.template_name)
            for language, (subject, text, html) in step.texts.items():
                if language == seq.default_language:
                    base.subject, base.body_text, base.body_html = subject, text, html
                    built[step.id, language] = base
                else:
                    built[step.id, language] = EmailTemplateTranslation(
                        template=base, language=language, subject=subject, body_text=text, body_html=html)
        return built

    @staticmethod
    def _written(step: StepRef, templates: dict, wanted: str, default: str) -> _Written:
        """As ``emails.lead_email_render`` picks it: the translation, else the default language."""
        chosen = templates.get((step.id, wanted)) if wanted != default else None
        if chosen is not None:
            return _Written(_Skeleton(chosen, wanted), wanted, "")
        with translation.override(settings.LANGUAGE_CODE):
            fallback = "" if wanted == default else (f"sent in {Language(default).label}: “{step.template_name}” "
                                                     f"has no {Language(wanted).label} translation")
        return _Written(_Skeleton(templates[step.id, default], default), default, fallback)

    def _send_time(self, due: dt.datetime, zone: zoneinfo.ZoneInfo, country: str) -> dt.datetime:
        """``sendwindow.next_send_time`` for the employer's window, with each local day's answer
        kept: for a time inside the window it is the time itself, before it the opening, and
        after it (or on a day off) the same next opening whatever the time."""
        local = due.astimezone(zone)
        key = (zone.key, country, local.date())
        day = self.days.get(key)
        if day is None:
            working = local.weekday() in self.window["weekdays"] and not is_holiday(local.date(), country)
            opens = _aware(local.date(), self.window["start"], zone) if working else None
            closes = _aware(local.date(), self.window["end"], zone) if working else None
            day = self.days[key] = [opens, closes, None]
        opens, closes, later = day
        if opens is not None and local < closes:
            return due if opens <= local else opens.astimezone(dt.UTC)
        if later is None:
            later = day[2] = next_send_time(due, zone, country_code=country, **self.window)
        return later

    def _zone(self, name: str) -> zoneinfo.ZoneInfo:
        zone = self.zones.get(name)
        if zone is None:
            zone = self.zones[name] = zoneinfo.ZoneInfo(name or "UTC")
        return zone

    # --- per lead ---------------------------------------------------------------------------
    def plan(self, rng: Dice, plan) -> None:
        """Adds the lead's outbox rows, replies and unsubscribe to ``plan`` (a LeadPlan whose
        events are final and whose stage columns are derived)."""
        lead = plan.lead
        pause_at = self._pause(rng, plan) if lead["followups_paused"] else None
        if self.sequence is not None and lead["created_at"] >= self.since and lead["legal_basis"]:
            self._sequence(rng, plan, pause_at)
        if lead["unsubscribed_at"] is not None:
            self._unsubscribe(rng, plan)

    def _pause(self, rng: Dice, plan) -> dt.datetime:
        """The owner paused the lead's follow-ups within a day and a half of the inquiry."""
        lead = plan.lead
        latest = min(self.anchor, lead["created_at"] + dt.timedelta(hours=36))
        at = lead["created_at"] + (latest - lead["created_at"]) * (0.05 + 0.95 * rng.random())
        plan.activities.append({"kind": ActivityKind.SYSTEM, "actor_id": lead["owner_id"], "at": at,
                                "summary": "Follow-ups paused", "details": ""})
        lead["last_activity_at"] = max(lead["last_activity_at"], at)
        return at

    def _first_stop_move(self, events: list[dict[str, Any]]) -> tuple[dt.datetime, str] | None:
        for event in events[1:]:
            stage = event["to_stage"]
            if stage in CLOSED_STAGES:
                return event["at"], self.closed_reasons[stage]
            if MILESTONE_RANK[stage] > self.stop_rank:
                return event["at"], f"{MOVED_PREFIX}{stage}"
        return None

    def _sequence(self, rng: Dice, plan, pause_at: dt.datetime | None) -> None:
        seq = self.sequence
        assert seq is not None
        lead, anchor = plan.lead, self.anchor
        created = lead["created_at"]
        stops = [stop for stop in (
            (pause_at, PAUSED_REASON) if pause_at else None,
            (lead["unsubscribed_at"], _UNSUBSCRIBED) if lead["unsubscribed_at"] else None,
            self._first_stop_move(plan.events),
        ) if stop is not None]
        stop = min(stops, key=lambda s: s[0]) if stops else None
        zone = self._zone(lead["time_zone"])
        wanted = lead["language"] or seq.default_language
        advancing = lead["furthest_stage"] not in (Stage.NEW, Stage.CONTACTED)
        # Who never answered the still-interested email did not answer a follow-up either.
        silent = lead["stage"] == Stage.UNRESPONSIVE
        values: dict[str, dict[str, str]] = {}  # by the language the email is written in
        due = created
        for step in seq.steps:
            due = (created if step.delay_from == "inquiry" else due) + dt.timedelta(days=step.delay_days)
            row = {
                "employer_id": lead["employer_id"], "to_email": lead["email"], "kind": OutboundKind.FOLLOWUP,
                "template_id": step.template_id, "step_id": step.id, "language": "", "subject": "",
                "body_text": "", "body_html": "", "status": OutboundStatus.SCHEDULED, "status_reason": "",
                "scheduled_at": due, "claimed_at": None, "attempts": 0, "sent_at": None, "created_at": created,
            }
            plan.outbound.append(row)
            if stop is not None and stop[0] <= due:
                row.update(status=OutboundStatus.CANCELLED, status_reason=stop[1])
                continue
            opens = self._send_time(due, zone, lead["current_country"])
            sent_at = opens + dt.timedelta(seconds=rng.randint(*_HOLD_LATENCY))
            # Due outside the window: claimed when due, then held (rescheduled) until it opens.
            claimed = due + dt.timedelta(seconds=rng.randint(*_HOLD_LATENCY)) if opens > due else None
            if claimed is not None and claimed <= anchor and (stop is None or claimed < stop[0]):
                row.update(claimed_at=claimed, scheduled_at=opens)
            if stop is not None and stop[0] <= sent_at:
                row.update(status=OutboundStatus.CANCELLED, status_reason=stop[1])
                continue
            if sent_at > anchor:
                if row["claimed_at"] is not None:
                    row["status_reason"] = self._held_reason(due, opens, zone, lead["current_country"])
                continue  # still to come: a real email, to the lead's example.net address
            written = self.written[step.id, wanted]
            if written.language not in values:
                values[written.language] = self._values(lead, written.language)
            subject, text, html = written.skeleton.render(values[written.language])
            row.update(status=OutboundStatus.SENT, sent_at=sent_at, claimed_at=sent_at - dt.timedelta(seconds=1),
                       attempts=1, subject=subject, body_text=text, body_html=html, language=written.language,
                       status_reason=written.fallback[:300])
            stop = self._outcome(rng, plan, row, len(plan.outbound) - 1, step, stop, advancing, silent)

    def _outcome(self, rng: Dice, plan, row: dict[str, Any], index: int, step: StepRef,
                 stop: tuple[dt.datetime, str] | None, advancing: bool, silent: bool) -> tuple[dt.datetime, str] | None:
        """What the person did after this email: answered it, unsubscribed, or nothing."""
        lead = plan.lead
        reply_share = 0.0 if silent else _by_position(data.FOLLOWUP_REPLY_SHARE, step.position) * (
            data.REPLY_FACTOR_ADVANCING if advancing else data.REPLY_FACTOR_OTHERS)
        unsubscribe_share = _by_position(data.FOLLOWUP_UNSUBSCRIBE_SHARE, step.position)
        roll = rng.random()
        if roll >= reply_share + unsubscribe_share:
            return stop
        # Most within a day or two; a few after the week the report counts.
        hours = rng.uniform(0.2, 48) if rng.random() < 0.8 else rng.uniform(48, 240)
        at = row["sent_at"] + dt.timedelta(seconds=int(hours * 3600))
        unsubscribed = lead["unsubscribed_at"]
        if at > self.anchor or (unsubscribed is not None and unsubscribed <= at):
            return stop
        if roll < reply_share:
            self._reply(rng, plan, row, index, at)
            reason = _REPLIED
        else:
            lead["unsubscribed_at"] = at
            reason = _UNSUBSCRIBED
        return (at, reason) if stop is None or at < stop[0] else stop

    def _reply(self, rng: Dice, plan, row: dict[str, Any], index: int, at: dt.datetime) -> None:
        """An email reply, as inbound email records one routed by its In-Reply-To."""
        lead = plan.lead
        body = rng.choice(data.REPLY_BODIES)
        digest = hashlib.sha256(f"{lead['email']}:{at.isoformat()}".encode()).hexdigest()[:24]
        zone = self._zone(lead["time_zone"])
        plan.inquiries.append({
            "employer_id": lead["employer_id"], "channel": Source.EMAIL, "received_at": at,
            "subject": f"Re: {row['subject']}"[:300], "body": body, "country": lead["current_country"],
            "is_repeat": True, "remote_addr": None,
            # "in_reply_to" (the answered email's Message-ID) is the writer's: it needs the lead's id.
            "raw_fields": {"message_id": f"<{digest}@{data.REPLY_MAIL_DOMAIN}>",
                           "date": at.astimezone(zone).replace(microsecond=0).isoformat(), "to": self.to_header,
                           "from": lead["email"], "routed_by": "In-Reply-To"},
            "_answers": index,  # the outbox row of this plan it answers
        })
        plan.activities.append({"kind": ActivityKind.REPLY, "actor_id": None, "at": at, "summary": "Replied by email",
                                "details": ""})
        lead["last_activity_at"] = max(lead["last_activity_at"], at)

    def _unsubscribe(self, rng: Dice, plan) -> None:
        """What ``lead_unsubscribe`` writes besides the timestamp: the news consent withdrawn
        (which clears the opt-in) and a line on the timeline (not a touch)."""
        lead = plan.lead
        at = lead["unsubscribed_at"]
        how = "one-click from the mail client" if rng.random() < data.ONE_CLICK_SHARE else "unsubscribe link"
        plan.consents.append({"employer_id": lead["employer_id"], "purpose": ConsentPurpose.NEWS, "granted": False,
                              "policy_id": None, "wording": f"unsubscribed ({how})", "channel": UNSUBSCRIBE_CHANNEL,
                              "at": at, "remote_addr": None, "recorded_by_id": None})
        plan.activities.append({"kind": ActivityKind.SYSTEM, "actor_id": None, "at": at,
                                "summary": f"Unsubscribed ({how})", "details": ""})
        lead["marketing_opt_in"] = False

    def _values(self, lead: dict[str, Any], language: str) -> dict[str, str]:
        seq = self.sequence
        assert seq is not None
        places = self.places.get(language) or self.places[seq.default_language]
        recruiter, recruiter_email = seq.recruiters.get(lead["owner_id"], ("", ""))
        name = lead["name"]
        return {
            "lead.name": name, "lead.first_name": name.split()[0] if name.split() else "", "lead.email": lead["email"],
            "lead.current_city": lead["current_city"],
            "lead.current_country": places.get(lead["current_country"], ""),
            "employer.name": seq.employer_name, "employer.destination_country": places["destination"],
            "opening": lead["role_of_interest"] or places["a role with us"],
            "recruiter.name": recruiter or seq.employer_name, "recruiter.email": recruiter_email,
            "signature": f"{recruiter}\n{seq.employer_name}" if recruiter else seq.employer_name,
        }

    @staticmethod
    def _held_reason(checked: dt.datetime, opens: dt.datetime, zone: zoneinfo.ZoneInfo, country: str) -> str:
        """As the worker words a hold (``outbox._window_decision``)."""
        holiday = holiday_name(checked.astimezone(zone).date(), country) if country else ""
        why = f"{holiday} in {countries.name(country)}" if holiday else "outside the send window"
        return f"{why}: held until {opens.astimezone(zone):%a %d %b %H:%M} {zone.key}"[:300]


def _to_header(name: str, address: str) -> str:
    from email.utils import formataddr

    return formataddr((name, address)) if address else name


def _by_position(shares: tuple[float, ...], position: int) -> float:
    """The share for a step position (1-based); the last one for any step beyond."""
    return shares[min(max(position, 1), len(shares)) - 1]
