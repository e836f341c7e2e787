"""Retention: leads are anonymised when their employer's time is up, admins hear a week ahead."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.base import ContentFile
from django_celery_beat.models import PeriodicTask

from leads.models import (
    AuditEvent,
    Consent,
    ConsentPurpose,
    Lead,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    ProfileChange,
    Stage,
    StageEvent,
)
from leads.services.privacy import ERASED_NAME
from leads.services.retention import months_before, retention_apply, retention_preview, retention_warnings_queue
from leads.tasks import apply_retention
from tests.factories import LeadFactory, OutboundEmailFactory, StageEventFactory

T0 = dt.datetime(2024, 3, 5, 1, 0, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 3, 5, 1, 0, tzinfo=dt.UTC)  # 24 months after T0, the default period
DAILY = dt.timedelta(hours=2)  # the daily run comes a little after the moment a lead falls due


@pytest.fixture
def employer(cast):
    # One rule at a time: each test switches on what it tests.
    cast.employer.retain_closed_months = 24
    cast.employer.retain_inactive_months = 0
    cast.employer.retain_unsubscribed_months = 0
    cast.employer.save()
    return cast.employer


def closed_lead(employer, *, at=T0, **fields) -> Lead:
    with time_machine.travel(at, tick=False):
        lead = LeadFactory(employer=employer, name="Zoë Park", stage=Stage.DECLINED, **fields)
        StageEventFactory(lead=lead, from_stage="", to_stage=Stage.NEW, reason="")
        StageEventFactory(lead=lead, from_stage=Stage.NEW, to_stage=Stage.DECLINED, reason="Zoë took a job in Oslo")
    return lead


def run(at: dt.datetime) -> dict[str, int]:
    with time_machine.travel(at, tick=False):
        return apply_retention()


def warnings_to(user) -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(to_user=user, kind=OutboundKind.NOTIFICATION,
                                             unique_key__startswith="retention:"))


def test_a_closed_lead_is_anonymised_once_when_its_time_is_up(
    employer, cast, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path)
    lead = closed_lead(employer, unsubscribed_at=None)
    lead.cv.save("cv.pdf", ContentFile(b"%PDF-1.4 test"), save=True)
    cv_path = tmp_path / lead.cv.name
    pending = OutboundEmailFactory(lead=lead, subject="Hello Zoë", body_text="Dear Zoë", scheduled_at=DUE)
    ProfileChange.objects.create(lead=lead, field="phone", old_value="+14155552671", new_value="+14155550000",
                                 status=ProfileChange.Status.APPLIED)
    Consent.objects.create(employer=employer, lead=lead, purpose=ConsentPurpose.INQUIRY, granted=True,
                           wording="I agree that my details are stored.", channel="web_form", remote_addr="203.0.113.9")
    assert cv_path.exists()

    assert run(DUE - dt.timedelta(hours=1))["anonymised"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert run(DUE + dt.timedelta(hours=1)) == {"warned": 0, "anonymised": 1}

    lead.refresh_from_db()
    assert lead.erased_at is not None and lead.name == ERASED_NAME and lead.current_country.code == "US"
    assert not cv_path.exists()
    pending.refresh_from_db()
    assert (pending.status, pending.subject, pending.body_text) == (OutboundStatus.CANCELLED, "", "")
    assert ProfileChange.objects.filter(lead=lead, old_value__isnull=True, new_value__isnull=True).count() == 1
    consent = Consent.objects.get(lead=lead)
    assert consent.remote_addr is None and consent.wording  # the record of consent stays
    # The funnel still counts it: the stage history stays, without the free-text reason.
    events = StageEvent.objects.filter(lead=lead)
    assert [e.to_stage for e in events] == [Stage.NEW, Stage.DECLINED] and not any(e.reason for e in events)
    audit = AuditEvent.objects.get(lead_id=lead.pk)
    assert (audit.action, audit.employer_id, audit.user_id, audit.detail) == (
        "erased", employer.pk, None, "retention: closed 24 months")

    # The next day's run (and a rerun) finds nothing more to do.
    assert run(DUE + dt.timedelta(hours=2)) == {"warned": 0, "anonymised": 0}
    assert run(DUE + dt.timedelta(days=1)) == {"warned": 0, "anonymised": 0}
    assert AuditEvent.objects.filter(lead_id=lead.pk).count() == 1


def test_a_lead_still_open_or_recently_closed_is_kept(employer):
    with time_machine.travel(T0, tick=False):
        open_lead = LeadFactory(employer=employer, stage=Stage.INTERVIEWING)
    recent = closed_lead(employer, at=T0 + dt.timedelta(days=30))
    run(DUE + dt.timedelta(days=1))
    assert not Lead.objects.filter(pk__in=[open_lead.pk, recent.pk], erased_at__isnull=False).exists()


def test_zero_months_means_never(employer):
    employer.retain_closed_months = 0
    employer.save()
    lead = closed_lead(employer)
    assert run(DUE + dt.timedelta(days=3650)) == {"warned": 0, "anonymised": 0}
    lead.refresh_from_db()
    assert lead.erased_at is None


def test_an_inactive_lead_goes_by_the_activity_rule(employer):
    employer.retain_closed_months, employer.retain_inactive_months = 0, 6
    employer.save()
    with time_machine.travel(T0, tick=False):
        quiet = LeadFactory(employer=employer, stage=Stage.CONTACTED)
        busy = LeadFactory(employer=employer, stage=Stage.CONTACTED)
    Lead.objects.filter(pk=busy.pk).update(last_activity_at=T0 + dt.timedelta(days=100))
    assert run(dt.datetime(2024, 9, 5, 2, 0, tzinfo=dt.UTC))["anonymised"] == 1
    assert set(Lead.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)) == {quiet.pk}
    assert AuditEvent.objects.get(lead_id=quiet.pk).detail == "retention: inactive 6 months"


def test_an_unsubscribed_lead_goes_by_its_own_rule(employer):
    employer.retain_closed_months, employer.retain_unsubscribed_months = 0, 12
    employer.save()
    with time_machine.travel(T0, tick=False):
        gone = LeadFactory(employer=employer, stage=Stage.APPLIED, unsubscribed_at=T0)
        staying = LeadFactory(employer=employer, stage=Stage.APPLIED)
    assert run(dt.datetime(2025, 3, 5, 2, 0, tzinfo=dt.UTC))["anonymised"] == 1
    assert set(Lead.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)) == {gone.pk}
    assert Lead.objects.get(pk=staying.pk).erased_at is None


def test_a_lead_that_came_back_to_life_is_kept(employer):
    """The rule is checked again under the row lock, not only when the batch is chosen."""
    lead = closed_lead(employer)
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.CONTACTED)
    with time_machine.travel(DUE + dt.timedelta(days=1), tick=False):
        assert retention_apply(employer=employer) == 0


def test_the_batch_is_limited_and_the_rest_follow(employer):
    leads = [closed_lead(employer) for _ in range(3)]
    with time_machine.travel(DUE + dt.timedelta(days=1), tick=False):
        assert retention_apply(employer=employer, limit=2) == 2
        assert retention_apply(employer=employer, limit=2) == 1
    assert Lead.objects.filter(pk__in=[lead.pk for lead in leads], erased_at__isnull=False).count() == 3


def test_the_admins_are_warned_a_week_ahead_once(employer, cast):
    closed_lead(employer)
    closed_lead(employer)
    closed_lead(employer, at=T0 + dt.timedelta(days=3))  # due three days later: its own warning
    closed_lead(cast.other_employer)

    assert run(DUE - dt.timedelta(days=8) + DAILY)["warned"] == 0
    # One email to each employer's admin.
    assert run(DUE - dt.timedelta(days=7) + DAILY) == {"warned": 2, "anonymised": 0}
    (warning,) = warnings_to(cast.owner)
    assert warning.subject == "Kiwi Ledger: 2 lead(s) will be anonymised on 05 Mar 2026"
    assert "anonymises 2 leads of Kiwi Ledger" in warning.body_text
    assert "- 2 closed 24 months ago" in warning.body_text
    assert f"/admin/retention/{employer.pk}/" in warning.body_text
    assert "Zoë" not in warning.body_text
    assert warning.status == OutboundStatus.SCHEDULED

    # Again the same day: nothing more. The next day: nothing for those two.
    assert run(DUE - dt.timedelta(days=7) + DAILY + dt.timedelta(hours=1))["warned"] == 0
    assert run(DUE - dt.timedelta(days=6) + DAILY)["warned"] == 0
    assert len(warnings_to(cast.owner)) == 1
    # Recruiters are not told; the other employer's admin hears of its own lead only.
    assert warnings_to(cast.teammate) == []
    assert [w.employer_id for w in warnings_to(cast.outsider)] == [cast.other_employer.pk]

    assert run(DUE - dt.timedelta(days=4) + DAILY)["warned"] == 1
    assert len(warnings_to(cast.owner)) == 2


def test_no_warning_when_nothing_is_due_or_the_rule_is_off(employer, cast):
    with time_machine.travel(DUE - dt.timedelta(days=7), tick=False):
        assert retention_warnings_queue(employer=employer) == 0
    closed_lead(employer)
    employer.retain_closed_months = 0
    employer.save()
    with time_machine.travel(DUE - dt.timedelta(days=7), tick=False):
        assert retention_warnings_queue(employer=employer) == 0


def test_the_preview_counts_per_rule_and_changes_nothing(employer):
    employer.retain_unsubscribed_months = 12
    employer.save()
    closed_lead(employer)
    closed_lead(employer, unsubscribed_at=T0)  # matches both rules: counted once in the total
    closed_lead(employer, at=DUE - dt.timedelta(days=700))  # due in about 30 days
    closed_lead(employer, at=T0 + dt.timedelta(days=5))  # due within the week
    preview = retention_preview(employer=employer, now=DUE + dt.timedelta(days=1))
    assert [(rule.name, months, count) for rule, months, count in preview.rules] == [
        ("closed", 24, 2), ("inactive", 0, 0), ("unsubscribed", 12, 1)]
    assert (preview.total, preview.in_a_week, len(preview.sample)) == (2, 1, 2)
    assert not Lead.objects.filter(erased_at__isnull=False).exists()


def test_the_dry_run_page_shows_counts_and_no_personal_data(client, employer, cast, django_assert_num_queries):
    lead = closed_lead(employer, email="zoe@example.org")
    client.force_login(cast.owner)
    # session, user, admin memberships, the employer, the admin menu (two permission queries
    # and all memberships), the counts, the sample: the same for any number of leads
    with time_machine.travel(DUE + dt.timedelta(days=1), tick=False), django_assert_num_queries(9):
        response = client.get(f"/admin/retention/{employer.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert f"#{lead.pk}" in content and "Declined" in content
    assert "Zoë" not in content and "zoe@example.org" not in content
    lead.refresh_from_db()
    assert lead.erased_at is None
    # One employer: the index goes straight to it.
    assert client.get("/admin/retention/").url == f"/admin/retention/{employer.pk}/"


def test_the_dry_run_page_of_another_employer_is_404(client, employer, cast):
    client.force_login(cast.outsider)
    assert client.get(f"/admin/retention/{employer.pk}/").status_code == 404
    assert client.get(f"/admin/retention/{cast.other_employer.pk}/").status_code == 200


def test_recruiters_do_not_see_the_dry_run(client, employer, cast):
    cast.teammate.is_staff = True
    cast.teammate.save()
    client.force_login(cast.teammate)
    assert client.get(f"/admin/retention/{employer.pk}/").status_code == 404
    cast.teammate.is_staff = False
    cast.teammate.save()
    assert client.get(f"/admin/retention/{employer.pk}/").status_code == 302  # to the admin login


def test_the_daily_schedule_is_installed(db):
    task = PeriodicTask.objects.get(name="Apply retention")
    assert task.task == "leads.tasks.apply_retention"
    assert (task.crontab.hour, task.crontab.minute) == ("3", "0")


@pytest.mark.parametrize(("moment", "months", "expected"), [
    (dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC), 1, dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)),
    (dt.datetime(2026, 1, 15, tzinfo=dt.UTC), 24, dt.datetime(2024, 1, 15, tzinfo=dt.UTC)),
    (dt.datetime(2026, 1, 15, tzinfo=dt.UTC), 13, dt.datetime(2024, 12, 15, tzinfo=dt.UTC)),
])
def test_months_before(moment, months, expected):
    assert months_before(moment, months) == expected
