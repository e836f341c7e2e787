"""``seed_demo``: idempotent, consistent with the pipeline's rules, and showing the surge."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections import defaultdict

import phonenumbers
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from leads.demo import data
from leads.demo.generate import LeadGenerator
from leads.demo.setup import demo_setup
from leads.models import (
    CLOSED_STAGES,
    MILESTONE_RANK,
    Activity,
    ActivityKind,
    Consent,
    ConsentPurpose,
    Employer,
    Inquiry,
    Lead,
    MarkedEvent,
    Membership,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    Role,
    Stage,
    StageEvent,
)
from leads.normalise import normalise_email, normalise_phone
from leads.services.outbox import outbox_claim_due
from leads.timezones import available_zones
from tests.factories import UserFactory

User = get_user_model()


def seed(leads: int, *extra: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--leads", str(leads), *extra, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = [User, *apps.get_app_config("leads").get_models(include_auto_created=True)]
    return {model._meta.label: model._default_manager.count() for model in models}


@pytest.mark.django_db
def test_running_twice_leaves_the_same_counts() -> None:
    seed(300)
    first = row_counts()
    output = seed(300)

    assert row_counts() == first
    assert first["leads.Lead"] == 300
    assert first["leads.Employer"] == 2
    assert "already there" in output
    assert "http://127.0.0.1:8000/admin/" in output
    # The outbox has the demo's follow-up history, but a worker running now sends nothing: the
    # emails still to come are due later, and only to the leads' example.net addresses.
    assert OutboundEmail.objects.count() > 0
    assert not OutboundEmail.objects.exclude(to_email__endswith="@" + data.DEMO_EMAIL_DOMAIN).exists()
    assert not OutboundEmail.objects.filter(status=OutboundStatus.SCHEDULED, scheduled_at__lte=timezone.now()).exists()
    assert outbox_claim_due(limit=1000) == []


@pytest.mark.django_db
def test_a_larger_run_adds_only_the_difference() -> None:
    seed(200)
    before = set(Lead.objects.values_list("id", "email"))

    seed(500)

    after = set(Lead.objects.values_list("id", "email"))
    assert len(after) == 500
    assert before <= after
    assert Lead.objects.filter(employer__slug="kiwi-ledger").count() == 325
    assert Lead.objects.filter(employer__slug="maple-pixel").count() == 175


@pytest.mark.django_db
def test_demo_users_log_in_with_their_roles() -> None:
    seed(0)

    for spec in data.USERS:
        user = User.objects.get(username=spec.username)
        assert user.check_password(data.DEMO_PASSWORD), spec.username
        assert user.is_staff == spec.is_staff
    assert User.objects.get(username="admin").is_superuser
    roles = set(Membership.objects.values_list("user__username", "employer__slug", "role"))
    assert {("ava", "kiwi-ledger", Role.RECRUITER), ("cleo", "kiwi-ledger", Role.RECRUITER),
            ("ben", "maple-pixel", Role.RECRUITER), ("dev", "maple-pixel", Role.RECRUITER),
            ("nina", "kiwi-ledger", Role.ADMIN), ("mark", "maple-pixel", Role.ADMIN)} == roles
    kiwi = Employer.objects.get(slug="kiwi-ledger")
    assert kiwi.default_sequence is not None
    assert list(kiwi.default_sequence.steps.values_list("delay_days", flat=True)) == [2, 5, 10]


@pytest.mark.django_db
def test_an_existing_users_password_is_left_alone() -> None:
    UserFactory(username="ava", password="her-own-secret")

    seed(0)

    ava = User.objects.get(username="ava")
    assert ava.check_password("her-own-secret")
    assert Membership.objects.filter(user=ava, employer__slug="kiwi-ledger").exists()


@pytest.mark.django_db
def test_lead_rows_match_their_stage_histories() -> None:
    seed(300)
    now = timezone.now()
    events = StageEvent.objects.filter(lead=OuterRef("pk")).order_by("-at", "-id")
    left_new = StageEvent.objects.filter(lead=OuterRef("pk"), from_stage=Stage.NEW).order_by("at", "id")
    leads = Lead.objects.annotate(
        last_to=Subquery(events.values("to_stage")[:1]),
        last_at=Subquery(events.values("at")[:1]),
        left_new_at=Subquery(left_new.values("at")[:1]),
        last_inquiry_at=Subquery(
            Inquiry.objects.filter(lead=OuterRef("pk")).order_by("-received_at").values("received_at")[:1]
        ),
        # The activities that move the last activity forward (an unsubscribe is recorded without).
        last_touch_at=Subquery(
            Activity.objects.filter(lead=OuterRef("pk")).exclude(summary__startswith="Unsubscribed")
            .order_by("-at").values("at")[:1]
        ),
    ).select_related("closed_reason")
    history: dict[int, list[StageEvent]] = defaultdict(list)
    for event in StageEvent.objects.order_by("at", "id"):
        history[event.lead_id].append(event)

    for lead in leads:
        assert lead.stage == lead.last_to
        assert lead.furthest_stage == max(
            (e.to_stage for e in history[lead.pk] if e.to_stage in MILESTONE_RANK), key=MILESTONE_RANK.__getitem__
        )
        assert lead.first_contacted_at == lead.left_new_at
        assert lead.stage_changed_at == lead.last_at
        assert lead.last_activity_at == max(lead.last_at, lead.last_inquiry_at, lead.last_touch_at or lead.last_at)
        assert (lead.closed_reason is not None) == (lead.stage in CLOSED_STAGES)
        if lead.closed_reason is not None:
            assert lead.closed_reason.fits(lead.stage)
            assert lead.closed_reason.employer_id == lead.employer_id
        _assert_history_is_a_chain(lead, history[lead.pk], now)


def _assert_history_is_a_chain(lead: Lead, events: list[StageEvent], now: dt.datetime) -> None:
    first = events[0]
    assert (first.from_stage, first.to_stage, first.at, first.by_id) == ("", Stage.NEW, lead.created_at, None)
    for previous, event in itertools.pairwise(events):
        assert event.from_stage == previous.to_stage
        assert event.at > previous.at
        assert event.by_id in (None, lead.owner_id)
        assert (event.closed_reason_id is not None) == (event.to_stage in CLOSED_STAGES)
    assert events[-1].at <= now


@pytest.mark.django_db
def test_leads_obey_the_intake_rules() -> None:
    seed(300)

    for lead in Lead.objects.prefetch_related("citizenships", "inquiries"):
        assert normalise_email(lead.email) == lead.email
        assert lead.email.endswith("@" + data.DEMO_EMAIL_DOMAIN)
        if lead.phone:
            assert normalise_phone(lead.phone) == lead.phone
            assert phonenumbers.is_possible_number(phonenumbers.parse(lead.phone))
        assert lead.time_zone in available_zones()
        assert lead.owner_id is not None
        assert lead.privacy_accepted_at == lead.created_at
        assert 1 <= len(lead.citizenships.all()) <= 2
        first, *repeats = sorted(lead.inquiries.all(), key=lambda i: i.received_at)
        assert (first.received_at, first.channel, first.is_repeat) == (lead.created_at, lead.source, False)
        assert first.country == lead.current_country
        assert first.raw_fields["email"] == lead.email
        assert all(r.is_repeat for r in repeats)
    owners = Lead.objects.filter(employer__slug="kiwi-ledger").values_list("owner__username", flat=True)
    assert set(owners) == {"ava", "cleo"}


@pytest.mark.django_db
def test_the_surge_and_the_whole_funnel_are_visible() -> None:
    seed(2000)
    kiwi = Employer.objects.get(slug="kiwi-ledger")
    marked = MarkedEvent.objects.get(employer=kiwi, label=data.SURGE_LABEL)
    start = dt.datetime.combine(marked.date, dt.time(), tzinfo=dt.UTC)

    def us_inquiries_per_day(since: dt.datetime) -> float:
        window = Inquiry.objects.filter(
            employer=kiwi, country="US", received_at__gte=since, received_at__lt=since + dt.timedelta(days=14)
        )
        return window.count() / 14

    assert us_inquiries_per_day(start) >= 3 * us_inquiries_per_day(start - dt.timedelta(days=365))
    window = Inquiry.objects.filter(employer=kiwi, received_at__gte=start, received_at__lt=start + dt.timedelta(14))
    assert window.filter(country="US").count() >= 0.85 * window.count()
    # Every milestone and every closed stage shows up, including offers withdrawn and visas waiting.
    assert set(Lead.objects.values_list("furthest_stage", flat=True)) == set(MILESTONE_RANK)
    assert set(Lead.objects.values_list("stage", flat=True)) >= CLOSED_STAGES | {Stage.VISA, Stage.RELOCATED}
    assert Lead.objects.filter(furthest_stage=Stage.OFFER, stage=Stage.WITHDRAWN).exists()
    assert Lead.objects.filter(closed_reason__label="Visa refused").exists()
    assert Inquiry.objects.filter(is_repeat=True).count() > 100


@pytest.mark.django_db
def test_the_same_index_is_always_the_same_lead() -> None:
    kiwi = demo_setup(now=timezone.now())[0]

    assert LeadGenerator(kiwi).plan(42) == LeadGenerator(kiwi).plan(42)
    assert LeadGenerator(kiwi).plan(42).lead["email"] != LeadGenerator(kiwi).plan(43).lead["email"]


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_on_postgresql(postgres) -> None:
    seed(1200, "--jobs", "2", "--batch-size", "250")
    first = row_counts()

    seed(1200, "--jobs", "2", "--batch-size", "250")

    assert row_counts() == first
    assert first["leads.Lead"] == 1200


@pytest.mark.django_db
def test_the_admin_submissions_page_has_the_recent_web_form_inquiries() -> None:
    from leads.models import Source, Submission

    seed(300)
    processed = Submission.objects.filter(status=Submission.Status.PROCESSED)
    assert processed.count() == processed.filter(inquiry__channel=Source.WEB_FORM).count() > 0
    assert not Submission.objects.filter(status=Submission.Status.PENDING).exists()
    assert all(s.data["email"] == s.inquiry.lead.email for s in processed.select_related("inquiry__lead"))


@pytest.mark.django_db
def test_the_integration_pages_have_keys_api_notes_and_webhook_history(client) -> None:
    from django.contrib.auth import get_user_model

    from leads.models import ApiKey, Note, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint

    seed(300)
    for employer_id in ApiKey.objects.values_list("employer_id", flat=True).distinct():
        assert {k.name: k.scopes for k in ApiKey.objects.filter(employer_id=employer_id)} == {
            "Careers site": ["intake"], "HRIS sync": ["read", "write"], "Data warehouse": ["read"]}
        assert Note.objects.filter(lead__employer_id=employer_id, api_key__isnull=False).exists()
        endpoint = WebhookEndpoint.objects.get(employer_id=employer_id)
        # Paused: the demo never sends to an address that answers nobody.
        assert not endpoint.is_active and endpoint.disabled_reason
        statuses = set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("status", flat=True))
        assert statuses == {WebhookDeliveryStatus.DELIVERED, WebhookDeliveryStatus.FAILED}
    assert ApiKey.objects.values("employer_id").distinct().count() == 2
    counts = row_counts()
    seed(300)
    assert row_counts() == counts and ApiKey.objects.count() == 6
    client.force_login(get_user_model().objects.get(username="nina"))
    for url in ("/admin/leads/apikey/", "/admin/leads/webhookendpoint/", "/admin/leads/webhookdelivery/"):
        page = client.get(url).content.decode()
        assert "HRIS sync" in page or "hris.example.com" in page or "lead.stage_changed" in page, url


# --- follow-up history, surges and the reports -------------------------------------------------


def report_filters(user, default_days: int, **params: str):
    """The filters a report request with this query string gets (as tests/test_reports_dataset.py)."""
    from django.http import QueryDict

    from leads.reports.filters import ReportFilterForm, report_scope

    query = QueryDict(mutable=True)
    query.update(params)
    form = ReportFilterForm(query, scope=report_scope(user), default_days=default_days)
    assert form.is_valid(), form.errors
    return form.filters()


def has_data(table) -> bool:
    """A row with a figure that is neither zero nor a dash (the first column is the row's label)."""
    from leads.reports.tables import DASH

    return any(cell not in ("", "0", DASH, "0.0%") for row in table.rows for cell in row[1:])


@pytest.mark.django_db
def test_follow_ups_were_sent_answered_cancelled_and_some_are_still_to_come() -> None:
    from leads import emails

    seed(2000)
    now = timezone.now()
    followups = OutboundEmail.objects.select_related("lead", "step__sequence")
    assert set(followups.values_list("kind", flat=True)) == {OutboundKind.FOLLOWUP}
    assert set(followups.values_list("status", flat=True)) == {
        OutboundStatus.SENT, OutboundStatus.CANCELLED, OutboundStatus.SCHEDULED}
    reasons = set(followups.filter(status=OutboundStatus.CANCELLED).values_list("status_reason", flat=True))
    assert {"the lead replied", "the lead unsubscribed", "the lead moved to applied", "follow-ups paused"} <= reasons
    assert any(reason.startswith("the lead was closed (") for reason in reasons)
    # As followups_schedule queues them: every step of the sequence for each lead, once.
    per_lead = defaultdict(list)
    for row in followups:
        per_lead[row.lead_id].append(row)
        assert row.unique_key == f"lead:{row.lead_id}:step:{row.step_id}"
        assert row.message_id == emails.message_id(row.unique_key)
        assert row.step.sequence.employer_id == row.employer_id == row.lead.employer_id
        assert row.template_id == row.step.template_id and row.to_email == row.lead.email
        assert row.created_at == row.lead.created_at
        if row.status == OutboundStatus.SENT:
            local = row.sent_at.astimezone(row.lead.zone)
            assert local.weekday() < 5 and 9 <= local.hour < 17, row.unique_key  # the send window
            assert row.scheduled_at <= row.sent_at <= now and row.attempts == 1
            assert row.subject and emails.unsubscribe_url(row.lead_id) in row.body_text
            assert row.language in {row.lead.language or "en", "en"}
            assert "\x01" not in row.body_text and "\x02" not in row.body_text + row.subject
        else:
            assert row.sent_at is None and not row.subject and not row.body_text
        if row.status == OutboundStatus.SCHEDULED:
            assert row.scheduled_at > now
    assert {len(rows) for rows in per_lead.values()} == {3}
    assert {row.step.position for row in followups.filter(status=OutboundStatus.SENT)} == {1, 2, 3}
    # A translated step goes out in the lead's language; the others say why they did not.
    assert followups.filter(status=OutboundStatus.SENT, step__position=1, language="fr").exists()
    assert followups.filter(status=OutboundStatus.SENT, status_reason__contains="has no").exists()
    # Word for word what the worker renders for the lead (outbox._render and the row it updates).
    sent = followups.filter(status=OutboundStatus.SENT).select_related(
        "lead__employer", "lead__owner", "lead__opening", "template")
    sample = [*sent.exclude(lead__language="")[:15], *sent.filter(lead__language="")[:15]]
    for row in sample:
        rendered = emails.lead_email_render(lead=row.lead, kind=row.kind, template=row.template)
        assert (row.subject, row.body_text, row.body_html, row.language, row.status_reason) == (
            rendered.subject, rendered.text, rendered.html, rendered.language, rendered.fallback), row.unique_key


@pytest.mark.django_db
def test_replies_and_unsubscribes_are_recorded_as_the_app_records_them() -> None:
    seed(2000)
    replies = Inquiry.objects.filter(in_reply_to__isnull=False).select_related("in_reply_to")
    assert replies.count() > 20
    for reply in replies:
        answered = reply.in_reply_to
        assert answered.lead_id == reply.lead_id and answered.status == OutboundStatus.SENT
        assert answered.sent_at < reply.received_at and reply.is_repeat and reply.channel == "email"
        assert reply.raw_fields["in_reply_to"] == answered.message_id
        assert reply.subject == f"Re: {answered.subject}"
        assert Activity.objects.filter(lead_id=reply.lead_id, kind=ActivityKind.REPLY, at=reply.received_at).exists()
        # Nothing of the sequence went out after the reply.
        assert not OutboundEmail.objects.filter(lead_id=reply.lead_id, sent_at__gt=reply.received_at).exists()
    unsubscribed = Lead.objects.filter(unsubscribed_at__isnull=False)
    assert unsubscribed.count() > 20
    for lead in unsubscribed:
        withdrawn = Consent.objects.get(lead=lead, purpose=ConsentPurpose.NEWS)
        assert (withdrawn.granted, withdrawn.at, withdrawn.channel) == (False, lead.unsubscribed_at, "unsubscribe link")
        assert not lead.marketing_opt_in
        assert Activity.objects.filter(lead=lead, kind=ActivityKind.SYSTEM, at=lead.unsubscribed_at,
                                       summary__startswith="Unsubscribed (").exists()
        assert not OutboundEmail.objects.filter(lead=lead, sent_at__gt=lead.unsubscribed_at).exists()


@pytest.mark.django_db
def test_the_follow_up_report_counts_replies_advances_and_unsubscribes() -> None:
    from leads.reports.followups import step_rows

    seed(2000)
    for admin in ("nina", "mark"):
        user = User.objects.get(username=admin)
        steps = step_rows(report_filters(user, 90))
        assert [s.position for s in steps] == [1, 2, 3], admin
        assert all(s.sent > 0 for s in steps)
        assert sum(s.replied for s in steps) > 0 and sum(s.advanced for s in steps) > 0
        assert sum(s.unsubscribed for s in steps) > 0
        assert all(s.replied + s.advanced + s.unsubscribed < s.sent for s in steps)


@pytest.mark.django_db
def test_every_report_shows_data_for_every_demo_employer(client) -> None:
    from leads.views.reports import REPORTS

    seed(2000)
    superuser = User.objects.get(username="admin")
    for admin in ("nina", "mark", "admin"):
        user = User.objects.get(username=admin)
        employers = [None] if user.is_superuser else list(Membership.objects.filter(user=user).values_list(
            "employer_id", flat=True))
        for employer_id in employers:
            params = {"employer": str(employer_id)} if employer_id else {}
            for name, spec in REPORTS.items():
                report = spec.build(report_filters(user, spec.default_days, **params))
                assert any(has_data(table) for table in report.tables.values()), (admin, name)
    # The tables a newcomer looks for first.
    for employer in Employer.objects.all():
        params = {"employer": str(employer.pk)}
        cohorts = REPORTS["cohorts"].build(report_filters(superuser, REPORTS["cohorts"].default_days, **params))
        assert has_data(cohorts.tables["visa"]) and has_data(cohorts.tables["closed"]), employer.slug
        assert sum(c.visa_left for c in cohorts.cohorts) > 0
        assert any(c.visa_median_seconds for c in cohorts.cohorts)
        assert has_data(REPORTS["followups"].build(report_filters(superuser, 90, **params)).tables["steps"])
    year = REPORTS["cohorts"].build(report_filters(superuser, 365, period="month"))
    assert "Visa refused" in year.reasons
    client.force_login(User.objects.get(username="nina"))
    for name in REPORTS:
        assert client.get(f"/admin/reports/{name}/").status_code == 200, name


@pytest.mark.django_db
def test_the_earlier_surge_is_marked_and_its_cohort_has_come_all_the_way() -> None:
    from leads.reports.surge import surge_report

    seed(2000)
    for employer in Employer.objects.all():
        marked = dict(MarkedEvent.objects.filter(employer=employer).values_list("label", "date"))
        assert {data.SURGE_LABEL, data.EARLIER_SURGE_LABEL} <= set(marked)
        start_day = marked[data.EARLIER_SURGE_LABEL]
        apart = data.EARLIER_SURGE_DAYS_AGO - data.SURGE_DAYS_AGO
        assert marked[data.SURGE_LABEL] - start_day == dt.timedelta(days=apart)
        assert 13 * 30 <= data.EARLIER_SURGE_DAYS_AGO <= 14 * 31
        start = dt.datetime.combine(start_day, dt.time(), tzinfo=dt.UTC)
        window = dt.timedelta(days=data.SURGE_LENGTH)
        cohort = Lead.objects.filter(employer=employer, created_at__gte=start, created_at__lt=start + window)
        before = Lead.objects.filter(employer=employer, created_at__gte=start - 3 * window, created_at__lt=start)
        assert cohort.count() >= 2 * before.count() / 3, employer.slug  # at least twice the usual rate

        def reached(leads, stage: str) -> int:
            return sum(1 for s in leads.values_list("furthest_stage", flat=True)
                       if MILESTONE_RANK[s] >= MILESTONE_RANK[stage])

        applied, hired, relocated = (reached(cohort, s) for s in (Stage.APPLIED, Stage.HIRED, Stage.RELOCATED))
        assert cohort.count() > applied > hired >= relocated > 0, (employer.slug, cohort.count(), applied, hired)
        assert cohort.filter(stage=Stage.RELOCATED).exists()
        assert cohort.filter(stage=Stage.VISA).count() == 0  # no visa still pending after 14 months
        # Not another US election: people from many countries wrote.
        assert cohort.exclude(current_country="US").count() > cohort.count() / 2
        user = User.objects.get(username="admin")
        report = surge_report(report_filters(user, 30, employer=str(employer.pk),
                                             **{"from": f"{start_day:%Y-%m-%d}"}))
        assert report.summary.surge_days >= 3
        assert any(data.EARLIER_SURGE_LABEL in row[-1] for row in report.tables["days"].rows)


@pytest.mark.django_db
def test_a_surge_cohort_converts_less_well_than_ordinary_leads() -> None:
    kiwi = demo_setup(now=timezone.now())[0]
    generator = LeadGenerator(kiwi)
    year_ago = kiwi.anchor - dt.timedelta(days=365)
    reached: dict[str, list[int]] = defaultdict(list)
    for index in range(8000):
        lead = generator.plan(index).lead
        if lead["created_at"] < year_ago:  # time enough to relocate
            marked = "earlier surge" if lead["utm_campaign"] == data.EARLIER_SURGE_CAMPAIGN[2] else "other"
            reached[marked].append(MILESTONE_RANK[lead["furthest_stage"]])

    def share(group: str, stage: str) -> float:
        return sum(rank >= MILESTONE_RANK[stage] for rank in reached[group]) / len(reached[group])

    assert len(reached["earlier surge"]) > 100
    for stage in (Stage.APPLIED, Stage.HIRED, Stage.RELOCATED):
        assert 0 < share("earlier surge", stage) < share("other", stage), stage


@pytest.mark.django_db
def test_the_milestone_times_are_those_the_history_gives() -> None:
    milestones = pytest.importorskip("leads.services.milestones")
    seed(300)
    stored = list(Lead.objects.order_by("id").values("id", *milestones.FIELDS))
    left = list(StageEvent.objects.order_by("id").values_list("id", "left_at"))
    assert any(row["visa_left_at"] for row in stored) and any(at for _, at in left)

    milestones.refresh()

    assert list(Lead.objects.order_by("id").values("id", *milestones.FIELDS)) == stored
    assert list(StageEvent.objects.order_by("id").values_list("id", "left_at")) == left
