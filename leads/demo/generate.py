"""Deterministic demo leads: lead ``index`` of an employer is always the same person with the
same history, generated from its own random generator. A re-run can therefore create just the
missing indexes, and no lead depends on how many came before it.

Leads are plain dicts of column values (``LeadPlan``), not model instances: building a million
model instances would cost more than writing the rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django_countries import countries

from leads.demo import data
from leads.demo.chance import DAY, Dice, Weighted, calendar_for
from leads.demo.followups import FollowupPlanner
from leads.demo.setup import DemoEmployer, OpeningRef
from leads.models import MILESTONE_RANK, MILESTONES, Lead, Source, Stage, StageEvent
from leads.timezones import zone_name_for_country

_REPEAT_SHARE = 0.10
_STALE_CLOSE_DAYS = 90 + 14  # the stale check after 90 quiet days, then two weeks to answer

_PATHWAYS = Weighted([("employer_sponsored", 60), ("skilled_residence", 25), ("not_sure", 15)])
_WITH_WHOM = Weighted([("alone", 45), ("partner", 30), ("family", 25)])
_PARTNER_RIGHTS: Weighted[bool | None] = Weighted([(True, 70), (False, 20), (None, 10)])
_TIMELINES = Weighted(data.TIMELINE_WEIGHTS)
_SOURCES = Weighted(data.SOURCE_WEIGHTS)
_FUNNEL = Weighted(list(zip(range(len(MILESTONES)), data.FUNNEL_WEIGHTS, strict=True)))
_CLOSINGS = {
    stage: Weighted([((to_stage, label), weight) for to_stage, label, weight in options])
    for stage, options in data.CLOSINGS.items()
}


@dataclass(slots=True)
class LeadPlan:
    """One lead and its rows; the writer fills in ``lead_id`` once the lead has an id."""

    lead: dict[str, Any]
    inquiries: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    citizenships: list[str] = field(default_factory=list)
    skill_ids: list[int] = field(default_factory=list)
    skill_names: list[str] = field(default_factory=list)  # for the inquiry's raw fields only
    outbound: list[dict[str, Any]] = field(default_factory=list)  # follow-ups (see demo/followups.py)
    activities: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Surge:
    """A surge's draws, weighted once."""

    spec: data.SurgeSpec
    countries: Weighted[str]
    timelines: Weighted[str]
    funnel: Weighted[int]


class LeadGenerator:
    """Plans the leads of one employer; build once, then call ``plan(index)`` per lead.

    Touches no database, so it may run in another thread than the one writing.
    """

    def __init__(self, employer: DemoEmployer) -> None:
        if not employer.recruiters:
            raise ValueError(f"{employer.spec.slug} has no demo recruiter to own its leads.")
        self.employer = employer
        self.spec = employer.spec
        self.calendar = calendar_for(employer)
        self.countries = Weighted([(c, w) for c, w in data.COUNTRY_WEIGHTS if c != self.spec.destination])
        self.destination_name = str(countries.name(self.spec.destination))
        self.country_names = {code: str(countries.name(code)) for code in data.CITIES}
        self.open_openings = [o for o in employer.openings if o.is_open]
        self.surges = {
            spec.label: _Surge(
                spec, Weighted([(c, w) for c, w in spec.countries if c != self.spec.destination]),
                Weighted(spec.timelines), Weighted(list(zip(range(len(MILESTONES)), spec.funnel, strict=True))),
            )
            for spec in data.SURGES
        }
        self.followups = FollowupPlanner(employer)

    def plan(self, index: int) -> LeadPlan:
        # A string seed is hashed with SHA-512: stable across runs and Python versions.
        rng = Dice(f"{data.SEED}:{self.spec.slug}:{index}")
        created_at, surge = self._when(rng)
        source = self._source(rng, surge)
        if source == Source.EVENT:
            created_at = self._at_fair(rng)
        country = self._country(rng, surge, source)
        plan = LeadPlan(lead={})
        plan.citizenships = self._citizenships(rng, country)
        self._profile(rng, plan, index, country, created_at, surge)
        self._readiness(rng, plan.lead, plan.citizenships, surge)
        self._campaign(rng, plan.lead, source, surge)
        # Round-robin by index: the rotation intake would have made.
        owner_id, speed = self.employer.recruiters[index % len(self.employer.recruiters)]
        plan.lead["owner_id"] = owner_id
        self._inquiries(rng, plan)
        self._history(rng, plan, surge, speed)
        self.followups.plan(rng, plan)
        return plan

    # --- when and where from -----------------------------------------------------------
    def _when(self, rng: Dice) -> tuple[dt.datetime, _Surge | None]:
        """When the lead wrote, and the surge it is part of (an extra inquiry of a surge day)."""
        calendar = self.calendar
        days_ago = calendar.days.pick(rng)
        at = calendar.day_starts[days_ago] + dt.timedelta(seconds=int(rng.random() * calendar.day_spans[days_ago]))
        in_surge = rng.random() < calendar.surge_share[days_ago]
        spec = calendar.surge_of[days_ago]
        return at, self.surges[spec.label] if in_surge and spec is not None else None

    def _at_fair(self, rng: Dice) -> dt.datetime:
        """People met at the marked job fair are entered on the day or the two after."""
        days_ago = max(self.spec.fair_days_ago - rng.randint(0, 2), 1)
        return self.calendar.day_starts[days_ago] + dt.timedelta(minutes=rng.randint(8 * 60, 20 * 60))

    def _source(self, rng: Dice, surge: _Surge | None) -> str:
        if surge:
            return Source.WEB_FORM if rng.random() < surge.spec.web_share else Source.EMAIL
        return _SOURCES.pick(rng)

    def _country(self, rng: Dice, surge: _Surge | None, source: str) -> str:
        if surge:
            return surge.countries.pick(rng)
        if source == Source.EVENT and rng.random() < 0.8:
            return self.spec.fair_country
        return self.countries.pick(rng)

    def _citizenships(self, rng: Dice, country: str) -> list[str]:
        roll = rng.random()
        if roll < 0.05:
            return [self.spec.destination]  # expats thinking of going home
        if roll < 0.13:
            # Living in one country, citizen of another (and sometimes, by now, of both).
            other = self.countries.pick(rng)
            return [other, country] if other != country and rng.random() < 0.3 else [other]
        second = data.SECOND_CITIZENSHIPS.get(country, ())
        if second and rng.random() < 0.15:
            return [country, rng.choice(second)]
        return [country]

    # --- who they are ----------------------------------------------------------------------
    def _profile(
        self, rng: Dice, plan: LeadPlan, index: int, country: str, created_at: dt.datetime, surge: _Surge | None
    ) -> None:
        firsts, lasts = data.NAMES[data.NAME_GROUP.get(plan.citizenships[0], "anglo")]
        first, last = rng.choice(firsts), rng.choice(lasts)
        handle = f"{_ascii(first)}.{_ascii(last)}.{index}"
        opening = self._opening(rng, created_at)
        plan.skill_names = rng.sample(self.spec.skills, rng.randint(1, 4))
        plan.skill_ids = [skill_id for skill_id, name in self.employer.skills if name in plan.skill_names]
        city = rng.choice(data.CITIES[country]) if rng.random() < 0.85 else ""
        plan.lead.update(
            employer_id=self.employer.id,
            name=f"{first} {last}",
            email=f"{handle}@{data.DEMO_EMAIL_DOMAIN}",
            phone=self._phone(rng, country),
            current_country=country,
            current_city=city,
            # Deterministic: the language of the country they live in, else the employer's default.
            language=data.COUNTRY_LANGUAGES.get(country, ""),
            time_zone=zone_name_for_country(country),
            profile_url=f"https://portfolio.example.org/{handle.replace('.', '-')}" if rng.random() < 0.35 else "",
            opening_id=opening.id if opening else None,
            role_of_interest=opening.title if opening else rng.choice(self.spec.roles),
            years_experience=round(rng.triangular(0, 25, 6)) if rng.random() < 0.9 else None,
            created_at=created_at,
            privacy_accepted_at=created_at,
            legal_basis="consent",  # they accepted the privacy terms on the form
            marketing_opt_in=rng.random() < 0.3,
            unsubscribed_at=self._unsubscribed(rng, created_at),
            followups_paused=rng.random() < 0.02,
            motivation=self._motivation(rng, city or self.country_names[country], surge),
        )

    def _opening(self, rng: Dice, created_at: dt.datetime) -> OpeningRef | None:
        if rng.random() >= 0.6:
            return None
        # The closed opening took inquiries only in the first year.
        old = created_at < self.employer.anchor - 365 * DAY
        candidates = self.employer.openings if old else self.open_openings
        # An admin may since have closed every opening: then the person named none.
        return rng.choice(candidates) if candidates else None

    def _phone(self, rng: Dice, country: str) -> str:
        if country not in data.PHONES or rng.random() < 0.2:
            return ""
        prefixes, digits = data.PHONES[country]
        return f"{rng.choice(prefixes)}{int(rng.random() * 10**digits):0{digits}d}"

    def _unsubscribed(self, rng: Dice, created_at: dt.datetime) -> dt.datetime | None:
        if rng.random() >= 0.03:
            return None
        at = created_at + dt.timedelta(days=rng.randint(2, 30), seconds=rng.randint(0, 86_399))
        return at if at < self.employer.anchor else None

    def _motivation(self, rng: Dice, place: str, surge: _Surge | None) -> str:
        words = {
            "role": rng.choice(self.spec.roles).lower(),
            "city": place,
            "employer": self.spec.name,
            "destination": self.destination_name,
            "years": rng.randint(2, 15),
        }
        motive = rng.choice(surge.spec.motives if surge else data.MOTIVES)
        parts = (rng.choice(data.OPENERS), motive, rng.choice(data.CLOSERS))
        return " ".join(part.format(**words) for part in parts if part)

    def _readiness(self, rng: Dice, lead: dict[str, Any], citizenships: list[str], surge: _Surge | None) -> None:
        roll = rng.random()
        if self.spec.sponsorship_exempt.intersection(citizenships):
            lead.update(needs_sponsorship=False, visa_pathway="has_rights")
        elif roll < 0.75:
            lead.update(needs_sponsorship=True, visa_pathway=_PATHWAYS.pick(rng))
        elif roll < 0.85:
            lead.update(needs_sponsorship=False, visa_pathway=rng.choice(("working_holiday", "partner")))
        else:
            lead.update(needs_sponsorship=None, visa_pathway=rng.choice(("", "not_sure")))
        timeline = (surge.timelines if surge else _TIMELINES).pick(rng) if rng.random() < 0.9 else ""
        months = data.TIMELINE_MONTHS.get(timeline)
        earliest = None
        if months is not None and rng.random() < 0.5:
            earliest = lead["created_at"].date() + dt.timedelta(days=months * 30 + rng.randint(0, 29))
        with_whom = _WITH_WHOM.pick(rng)
        lead.update(
            move_timeline=timeline,
            earliest_move_date=earliest,
            relocating_with=with_whom,
            dependants=rng.randint(1, 4) if with_whom == "family" else 0,
            partner_needs_work_rights=None if with_whom == "alone" else _PARTNER_RIGHTS.pick(rng),
            credentials_to_recognise=rng.choice(self.spec.credentials) if rng.random() < 0.08 else "",
        )

    def _campaign(self, rng: Dice, lead: dict[str, Any], source: str, surge: _Surge | None) -> None:
        campaign = ("", "", "")
        if source == Source.WEB_FORM:
            if surge and rng.random() < surge.spec.campaign_share:
                campaign = surge.spec.campaign
            elif rng.random() < 0.4:
                campaign = rng.choice(data.CAMPAIGNS)
        lead.update(source=source, utm_source=campaign[0], utm_medium=campaign[1], utm_campaign=campaign[2])

    # --- what happened ---------------------------------------------------------------------
    def _inquiries(self, rng: Dice, plan: LeadPlan) -> None:
        lead = plan.lead
        words = {"role": lead["role_of_interest"], "destination": self.destination_name,
                 "city": lead["current_city"] or self.country_names[lead["current_country"]]}
        plan.inquiries.append(self._inquiry(
            rng, lead, channel=lead["source"], at=lead["created_at"], is_repeat=False,
            subject=rng.choice(data.SUBJECTS).format(**words), body=lead["motivation"], raw=_raw_fields(plan),
        ))
        if rng.random() >= _REPEAT_SHARE:
            return
        at = lead["created_at"] + dt.timedelta(days=rng.randint(3, 180), seconds=rng.randint(0, 86_399))
        if at < self.employer.anchor:
            body = rng.choice(data.REPEAT_BODIES)
            plan.inquiries.append(self._inquiry(
                rng, lead, channel=rng.choice((Source.EMAIL, Source.WEB_FORM)), at=at, is_repeat=True,
                subject=rng.choice(data.REPEAT_SUBJECTS), body=body,
                raw={"name": lead["name"], "email": lead["email"], "message": body},
            ))

    def _inquiry(self, rng: Dice, lead: dict[str, Any], *, channel: str, at: dt.datetime, is_repeat: bool,
                 subject: str, body: str, raw: dict[str, Any]) -> dict[str, Any]:
        remote = None
        if channel in (Source.WEB_FORM, Source.API):
            remote = f"{rng.choice(data.REMOTE_PREFIXES)}{rng.randint(1, 254)}"
        return {
            "employer_id": self.employer.id, "channel": channel, "received_at": at, "subject": subject,
            "body": body, "country": lead["current_country"], "is_repeat": is_repeat, "raw_fields": raw,
            "remote_addr": remote,
        }

    def _history(self, rng: Dice, plan: LeadPlan, surge: _Surge | None, speed: float) -> None:
        """Stage events from `new` to the furthest milestone the lead reaches before the anchor,
        then perhaps a close; the lead's stage columns are derived from the events."""
        lead = plan.lead
        target = (surge.funnel if surge else _FUNNEL).pick(rng)
        path = self._path(rng, target, has_rights=lead["visa_pathway"] == "has_rights", source=lead["source"])
        at = lead["created_at"]
        events = [_event(lead, "", Stage.NEW, at, None)]
        for stage in path[1:]:
            at = at + self._gap(rng, stage, speed)
            if at > self.employer.anchor:
                break  # not there yet: the lead is still in progress
            events.append(_event(lead, events[-1]["to_stage"], stage, at, lead["owner_id"]))
        if events[-1]["to_stage"] == path[-1]:
            self._maybe_close(rng, lead, events)
        plan.events = events
        _derive_stage_columns(lead, events, plan.inquiries)

    def _path(self, rng: Dice, target: int, *, has_rights: bool, source: str) -> list[str]:
        path = list(MILESTONES[: target + 1])
        if has_rights and Stage.VISA in path:
            path.remove(Stage.VISA)  # no visa to wait for: hired, then relocated
        if Stage.INTERVIEWING in path and rng.random() < 0.08:
            path.remove(Stage.APPLIED)  # straight to interview after a strong first call
        if Stage.APPLIED in path and source == Source.REFERRAL and rng.random() < 0.3:
            path.remove(Stage.CONTACTED)  # a referral applies directly
        return path

    def _gap(self, rng: Dice, stage: str, speed: float) -> dt.timedelta:
        if stage == Stage.CONTACTED:
            # Most first replies within a day; how fast depends on the owner.
            roll = rng.random()
            hours = rng.uniform(0.5, 24) if roll < 0.6 else rng.uniform(24, 96) if roll < 0.9 else rng.uniform(96, 336)
            return dt.timedelta(seconds=int(hours * speed * 3600))
        low, high = data.MILESTONE_GAP_DAYS[stage]
        return dt.timedelta(seconds=int(rng.uniform(low, high) * 86_400))

    def _maybe_close(self, rng: Dice, lead: dict[str, Any], events: list[dict[str, Any]]) -> None:
        furthest, last = events[-1]["to_stage"], events[-1]["at"]
        if furthest not in _CLOSINGS:
            return
        if rng.random() >= data.CLOSE_SHARE[furthest]:
            if furthest == Stage.VISA:
                # Not refused: the visa comes through in the end, and they move.
                at = last + self._gap(rng, Stage.RELOCATED, 1.0)
                if at <= self.employer.anchor:
                    events.append(_event(lead, Stage.VISA, Stage.RELOCATED, at, lead["owner_id"]))
            return
        to_stage, label = _CLOSINGS[furthest].pick(rng)
        if to_stage == Stage.UNRESPONSIVE:
            # Closed by the system: the stale check went unanswered.
            at = last + dt.timedelta(days=_STALE_CLOSE_DAYS, seconds=rng.randint(0, 2 * 86_400))
            by, note = None, data.STALE_NOTE
        else:
            low, high = data.CLOSE_GAP_DAYS.get(furthest, data.CLOSE_GAP_DAYS[""])
            at = last + dt.timedelta(days=rng.randint(low, high), seconds=rng.randint(0, 86_399))
            by, note = lead["owner_id"], rng.choice(data.CLOSE_NOTES[label])
        if at <= self.employer.anchor:
            events.append(_event(lead, furthest, to_stage, at, by, note, self.employer.reasons[label]))


def _derive_stage_columns(lead: dict[str, Any], events: list[dict[str, Any]], inquiries: list[dict[str, Any]]) -> None:
    """The Lead columns the pipeline service keeps, computed from the history it would have written."""
    last = events[-1]
    milestones = [e["to_stage"] for e in events if e["to_stage"] in MILESTONE_RANK]
    lead.update(
        stage=last["to_stage"],
        furthest_stage=max(milestones, key=MILESTONE_RANK.__getitem__),
        closed_reason_id=last["closed_reason_id"],
        # As the pipeline service does: stamped by the first move out of `new`, whatever it was.
        first_contacted_at=next((e["at"] for e in events if e["from_stage"] == Stage.NEW), None),
        stage_changed_at=last["at"],
        last_activity_at=max(last["at"], *(i["received_at"] for i in inquiries)),
    )
    if _MILESTONE_TIMES:
        _derive_milestone_times(lead, events)


# The milestone times the pipeline keeps on the lead and its events (leads/services/milestones.py),
# when this version of the models has them.
_MILESTONE_TIMES = (
    {"reached_contacted_at", "visa_entered_at", "visa_left_at"} <= {f.attname for f in Lead._meta.concrete_fields}
    and "left_at" in {f.attname for f in StageEvent._meta.concrete_fields}
)
_REACHED = ("", *(f"reached_{stage}_at" for stage in MILESTONES[1:]))  # by milestone rank
_MILESTONE_NONE = dict.fromkeys((*_REACHED[1:], "visa_entered_at", "visa_left_at"))


def _derive_milestone_times(lead: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """As ``milestones.apply_event`` keeps them event by event: the first time at each milestone
    or beyond, the first move into and out of `visa`; each event left when the next came. One
    pass: the events are in time order."""
    times = _MILESTONE_NONE.copy()
    top, previous = 0, None
    for event in events:
        rank = MILESTONE_RANK.get(event["to_stage"], 0)
        while top < rank:
            top += 1
            times[_REACHED[top]] = event["at"]
        if event["to_stage"] == Stage.VISA and times["visa_entered_at"] is None:
            times["visa_entered_at"] = event["at"]
        if event["from_stage"] == Stage.VISA and times["visa_left_at"] is None:
            times["visa_left_at"] = event["at"]
        if previous is not None:
            previous["left_at"] = event["at"]
        previous = event
    previous["left_at"] = None
    lead.update(times)


def _event(lead: dict[str, Any], from_stage: str, to_stage: str, at: dt.datetime, by_id: int | None,
           reason: str = "", closed_reason_id: int | None = None) -> dict[str, Any]:
    return {"employer_id": lead["employer_id"], "from_stage": from_stage, "to_stage": to_stage, "at": at,
            "by_id": by_id, "reason": reason, "closed_reason_id": closed_reason_id}


def _raw_fields(plan: LeadPlan) -> dict[str, Any]:
    """What the person submitted, as the public form would have posted it."""
    lead = plan.lead
    raw = {
        "name": lead["name"], "email": lead["email"], "phone": lead["phone"],
        "current_country": lead["current_country"], "current_city": lead["current_city"],
        "citizenships": plan.citizenships, "skills": plan.skill_names, "role_of_interest": lead["role_of_interest"],
        "years_experience": lead["years_experience"], "move_timeline": lead["move_timeline"],
        "relocating_with": lead["relocating_with"], "privacy_accepted": True,
        "marketing_opt_in": lead["marketing_opt_in"], "utm_source": lead["utm_source"],
        "utm_campaign": lead["utm_campaign"],
    }
    return {key: value for key, value in raw.items() if value not in ("", None, [])}


@functools.cache
def _ascii(name: str) -> str:
    """'Zoë' -> 'zoe', "O'Brien" -> 'obrien': the local part of a demo email."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())
