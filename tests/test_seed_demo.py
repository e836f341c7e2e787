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
    Employer,
    Inquiry,
    Lead,
    MarkedEvent,
    Membership,
    OutboundEmail,
    Role,
    Stage,
    StageEvent,
)
from leads.normalise import normalise_email, normalise_phone
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
    # Demo leads must never put emails in the outbox: a worker would send them.
    assert OutboundEmail.objects.count() == 0


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
        assert lead.last_activity_at == max(lead.last_at, lead.last_inquiry_at)
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
