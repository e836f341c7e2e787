"""Tasks: the next step on a lead, with a due time in the recruiter's zone and an owner; added,
done, snoozed and reassigned through the views and services; shown on the lead page, at
/tasks/ (overdue / today / later around the recruiter's own midnight), on the dashboard and
in the daily digest; scoped to the user's employers; moved by a merge, closed by erasure."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.models import Activity, ActivityKind, Lead, OutboundEmail, OutboundKind, Stage, Task
from leads.selectors.next_steps import task_counts, tasks_grouped
from leads.services import next_steps
from leads.services.merge import lead_merge
from leads.services.preferences import SESSION_KEY
from leads.services.reminders import digests_queue
from tests.factories import LeadFactory, PossibleDuplicateFactory, UserFactory

AUCKLAND = zoneinfo.ZoneInfo("Pacific/Auckland")
# Wednesday 11 Nov 2026, 13:00 in Auckland (NZDT, UTC+13).
NOW = dt.datetime(2026, 11, 11, 0, 0, tzinfo=dt.UTC)
TASKS = reverse("leads:tasks")
# /tasks/, however many tasks: the session, the user, the user's employers (recruiter_view); the
# open tasks with their leads and owners (one query, capped); the members of the user's
# employers to reassign to.
TASKS_QUERIES = 5
# The lead page (tests/test_views_lead_detail.py pins 16 without tasks): those 16, and the
# lead's open tasks with their owners. The owners to give a task to are the assign form's.
LEAD_PAGE_QUERIES = 18


@pytest.fixture
def lead(cast):
    return LeadFactory(employer=cast.employer, name="Ana Silva", owner=cast.teammate)


def make_task(lead, owner, due_at, **fields) -> Task:
    return Task.objects.create(employer_id=lead.employer_id, lead=lead, owner=owner, due_at=due_at,
                               title=fields.pop("title", "Call"), **fields)


def in_zone(client, zone: str) -> None:
    session = client.session
    session[SESSION_KEY] = zone
    session.save()


def lead_url(name: str, lead) -> str:
    return reverse(f"leads:{name}", args=[lead.pk])


def task_url(name: str, task) -> str:
    return reverse(f"leads:{name}", args=[task.pk])


def timeline(lead) -> list[str]:
    return list(Activity.objects.filter(lead=lead, kind=ActivityKind.SYSTEM).order_by("pk")
                .values_list("summary", flat=True))


# --- adding ---------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_recruiter_adds_a_task_due_in_their_own_zone(client, cast, lead):
    client.force_login(cast.teammate)  # the employer's zone: Auckland
    last_activity = lead.last_activity_at
    response = client.post(lead_url("lead_task_add", lead), {
        "title": "  Send the visa   checklist ", "due_at": "2026-11-13T09:00", "owner": cast.teammate.pk,
        "note": "Skilled migrant category",
    })
    assert response.status_code == 302 and response["Location"] == lead_url("lead_detail", lead)
    task = Task.objects.get()
    assert task.title == "Send the visa checklist" and task.note == "Skilled migrant category"
    assert task.due_at == dt.datetime(2026, 11, 12, 20, 0, tzinfo=dt.UTC)  # 09:00 NZDT
    assert (task.employer_id, task.owner, task.created_by, task.snoozed) == (cast.employer.pk, cast.teammate,
                                                                              cast.teammate, 0)
    assert timeline(lead) == ["Task added: Send the visa checklist (due Fri 13 Nov 2026 09:00 NZDT, "
                              f"{cast.teammate.get_full_name()})"]
    page = client.get(lead_url("lead_detail", lead)).content.decode()
    assert "Send the visa checklist" in page and "Fri 13 Nov 2026, 09:00" in page
    lead.refresh_from_db()
    assert lead.last_activity_at == last_activity  # bookkeeping, not the lead's interest


@time_machine.travel(NOW, tick=False)
def test_a_recruiter_in_utc_enters_and_sees_utc(client, cast, lead):
    client.force_login(cast.teammate)
    in_zone(client, "UTC")
    client.post(lead_url("lead_task_add", lead), {"title": "Call", "due_at": "2026-11-13T09:00",
                                                   "owner": cast.owner.pk})
    task = Task.objects.get()
    assert task.due_at == dt.datetime(2026, 11, 13, 9, 0, tzinfo=dt.UTC) and task.owner == cast.owner


def test_the_add_form_defaults_to_the_current_user(client, cast, lead):
    client.force_login(cast.teammate)
    response = client.get(lead_url("lead_task_add", lead))
    assert response.status_code == 200
    assert response.context["form"].initial["owner"] == cast.teammate.pk
    page = client.get(lead_url("lead_detail", lead)).content.decode()
    assert f'<option value="{cast.teammate.pk}" selected>' in page


@pytest.mark.parametrize(("data", "error"), [
    ({"title": ""}, "Say what the next step is."),
    ({"title": "   "}, "Say what the next step is."),
    ({"title": "x" * 201}, "at most 200 characters"),
    ({"due_at": "2026-11-01T09:00"}, "more than a day ago"),
    ({"due_at": "2020-01-01T09:00"}, "more than a day ago"),
    ({"due_at": "2040-01-01T09:00"}, "at most five years ahead"),
    ({"due_at": "next tuesday"}, "Enter a date and time"),
    ({"due_at": "0001-01-01T00:00"}, "Enter a date and time"),
    ({"due_at": "9999-12-31T23:59"}, "Enter a date and time"),
    ({"due_at": "2026-13-45T09:00"}, "Enter a date and time"),
    ({"due_at": ""}, "Enter when the task is due."),
    ({"owner": "outsider"}, "The owner must be a member of this lead&#x27;s employer."),
    ({"owner": "999999"}, "The owner must be a member of this lead&#x27;s employer."),
    ({"owner": "abc"}, "The owner must be a member of this lead&#x27;s employer."),
    ({"owner": "-1"}, "The owner must be a member of this lead&#x27;s employer."),
    ({"owner": ""}, "Choose who owns the task."),
    ({"note": "n" * 5001}, "5000"),
])
@time_machine.travel(NOW, tick=False)
def test_bad_input_is_a_400_with_the_error_and_changes_nothing(client, cast, lead, data, error):
    client.force_login(cast.teammate)
    if data.get("owner") == "outsider":
        data = {"owner": cast.outsider.pk}
    form = {"title": "Call", "due_at": "2026-11-13T09:00", "owner": cast.teammate.pk, **data}
    response = client.post(lead_url("lead_task_add", lead), form)
    assert response.status_code == 400
    html = response.content.decode()
    assert error in html and "Nothing was changed." in html
    assert not Task.objects.exists() and not Activity.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_time_that_does_not_exist_in_the_recruiters_zone_is_refused(client, cast, lead):
    # Auckland skips 02:00-03:00 on 27 Sep 2026 (daylight saving time starts).
    client.force_login(cast.teammate)
    with time_machine.travel(dt.datetime(2026, 9, 26, tzinfo=dt.UTC), tick=False):
        response = client.post(lead_url("lead_task_add", lead), {"title": "Call", "due_at": "2026-09-27T02:30",
                                                                  "owner": cast.teammate.pk})
    assert response.status_code == 400 and "may not exist" in response.content.decode()
    assert not Task.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_member_of_another_employer_cannot_own_a_task_by_the_service_either(cast, lead):
    with pytest.raises(ValidationError) as caught:
        next_steps.task_add(lead=lead, title="Call", due_at=NOW + dt.timedelta(days=1), owner=cast.outsider,
                            by=cast.teammate)
    assert caught.value.message_dict == {"owner": ["The owner must be a member of this lead's employer."]}
    inactive = UserFactory(username="gone", is_active=False)
    cast.employer.memberships.create(user=inactive, role="recruiter")
    with pytest.raises(ValidationError):
        next_steps.task_add(lead=lead, title="Call", due_at=NOW, owner=inactive, by=cast.teammate)
    assert not Task.objects.exists()


def test_the_task_services_are_entry_points(cast, lead):
    task = make_task(lead, cast.teammate, NOW + dt.timedelta(days=400))
    calls = [
        lambda: next_steps.task_add(lead=lead, title="Call", due_at=task.due_at, owner=cast.teammate,
                                    by=cast.teammate),
        lambda: next_steps.task_add_quick(lead=lead, key="call", by=cast.teammate),
        lambda: next_steps.task_done(task=task, by=cast.teammate),
        lambda: next_steps.task_snooze(task=task, by=cast.teammate, by_period="day"),
        lambda: next_steps.task_reassign(task=task, owner=cast.owner, by=cast.teammate),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
            call()


# --- quick tasks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "key", "due"), [
    # Wednesday 13:00 in Auckland: Friday 09:00 NZDT.
    ("", "call", dt.datetime(2026, 11, 12, 20, 0, tzinfo=dt.UTC)),
    ("", "follow-up", dt.datetime(2026, 11, 17, 20, 0, tzinfo=dt.UTC)),
    ("", "visa", dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)),
    # Wednesday 00:00 in UTC: Friday 09:00 UTC.
    ("UTC", "call", dt.datetime(2026, 11, 13, 9, 0, tzinfo=dt.UTC)),
])
@time_machine.travel(NOW, tick=False)
def test_a_quick_task_is_due_at_nine_that_many_days_ahead_in_the_recruiters_zone(client, cast, lead, zone, key,
                                                                                   due):
    client.force_login(cast.teammate)
    if zone:
        in_zone(client, zone)
    response = client.post(lead_url("lead_task_quick", lead), {"template": key})
    assert response.status_code == 302
    task = Task.objects.get()
    assert task.due_at == due and task.owner == cast.teammate
    assert task.title == next_steps.QUICK_TASKS_BY_KEY[key].title


def test_an_unknown_quick_task_is_a_400(client, cast, lead):
    client.force_login(cast.teammate)
    for data in ({"template": "nap"}, {}):
        response = client.post(lead_url("lead_task_quick", lead), data)
        assert response.status_code == 400 and "Choose one of the quick tasks." in response.content.decode()
    assert not Task.objects.exists()


def test_the_lead_page_offers_the_quick_tasks(client, cast, lead):
    client.force_login(cast.teammate)
    page = client.get(lead_url("lead_detail", lead)).content.decode()
    for label in ("Call in 2 days", "Follow up in a week", "Check visa status in 2 weeks"):
        assert label in page


# --- done, snooze, reassign -----------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_done_closes_the_task_once_and_does_not_count_as_contact(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW + dt.timedelta(hours=2), title="Call")
    client.force_login(cast.owner)
    assert client.post(task_url("task_done", task), {"next": TASKS})["Location"] == TASKS
    assert client.post(task_url("task_done", task))["Location"] == lead_url("lead_detail", lead)
    task.refresh_from_db()
    assert task.done_at == NOW and task.done_by == cast.owner
    assert timeline(lead) == [f"Task done: Call (by {cast.owner.get_full_name()})"]
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW and lead.first_contacted_at is None
    assert 'data-task="' not in client.get(TASKS).content.decode()


@time_machine.travel(NOW, tick=False)
def test_snooze_by_a_day_a_week_or_until_a_chosen_time(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW + dt.timedelta(hours=2), title="Call")
    client.force_login(cast.teammate)
    assert client.post(task_url("task_snooze", task), {"by": "day"}).status_code == 302
    task.refresh_from_db()
    assert task.due_at == NOW + dt.timedelta(days=1, hours=2) and task.snoozed == 1
    client.post(task_url("task_snooze", task), {"by": "week"})
    task.refresh_from_db()
    assert task.due_at == NOW + dt.timedelta(days=8, hours=2) and task.snoozed == 2
    client.post(task_url("task_snooze", task), {"by": "until", "until": "2026-12-01T10:30"})
    task.refresh_from_db()
    assert task.due_at == dt.datetime(2026, 11, 30, 21, 30, tzinfo=dt.UTC) and task.snoozed == 3
    assert timeline(lead) == ["Task snoozed to Thu 12 Nov 2026 15:00 NZDT: Call",
                              "Task snoozed to Thu 19 Nov 2026 15:00 NZDT: Call",
                              "Task snoozed to Tue 01 Dec 2026 10:30 NZDT: Call"]


@time_machine.travel(NOW, tick=False)
def test_an_overdue_task_is_snoozed_from_now(cast, lead):
    task = make_task(lead, cast.teammate, NOW - dt.timedelta(days=3))
    next_steps.task_snooze(task=task, by=cast.teammate, by_period="day")
    assert Task.objects.get().due_at == NOW + dt.timedelta(days=1)


def test_a_day_later_is_the_same_time_of_day_across_daylight_saving(cast, lead):
    # 09:00 NZST on Saturday 26 Sep 2026; the clocks go forward that night.
    due = dt.datetime(2026, 9, 26, 9, 0, tzinfo=AUCKLAND)
    task = make_task(lead, cast.teammate, due)
    with time_machine.travel(due - dt.timedelta(hours=1), tick=False), timezone.override(AUCKLAND):
        next_steps.task_snooze(task=task, by=cast.teammate, by_period="day")
    local = Task.objects.get().due_at.astimezone(AUCKLAND)
    assert (local.day, local.hour, local.tzname()) == (27, 9, "NZDT")


@pytest.mark.parametrize(("data", "error"), [
    ({"by": "fortnight"}, "Snooze by a day or a week, or until a time you choose."),
    ({}, "Snooze by a day or a week, or until a time you choose."),
    ({"by": "until"}, "Enter the date and time to snooze the task to."),
    ({"by": "until", "until": "2026-11-11T10:00"}, "Choose a time in the future to snooze to."),
    ({"by": "until", "until": "2026-11-09T10:00"}, "Choose a time in the future to snooze to."),
    ({"by": "until", "until": "soon"}, "Enter a date and time"),
    ({"by": "until", "until": "2099-01-01T09:00"}, "at most five years ahead"),
])
@time_machine.travel(NOW, tick=False)
def test_bad_snoozes_are_a_400_and_change_nothing(client, cast, lead, data, error):
    task = make_task(lead, cast.teammate, NOW + dt.timedelta(hours=2))
    client.force_login(cast.teammate)
    response = client.post(task_url("task_snooze", task), data)
    assert response.status_code == 400 and error in response.content.decode()
    assert Task.objects.get().due_at == task.due_at and Task.objects.get().snoozed == 0
    assert not Activity.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_done_task_is_neither_snoozed_nor_reassigned(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW + dt.timedelta(hours=2), done_at=NOW)
    client.force_login(cast.teammate)
    for name, data in (("task_snooze", {"by": "day"}), ("task_reassign", {"owner": cast.owner.pk})):
        response = client.post(task_url(name, task), data)
        assert response.status_code == 400 and "This task is done already." in response.content.decode()
    task.refresh_from_db()
    assert task.snoozed == 0 and task.owner == cast.teammate and not Activity.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_reassign_to_a_member_of_the_leads_employer_only(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW + dt.timedelta(hours=2), title="Call")
    client.force_login(cast.teammate)
    response = client.post(task_url("task_reassign", task), {"owner": cast.outsider.pk})
    assert response.status_code == 400
    assert "The owner must be a member of this lead&#x27;s employer." in response.content.decode()
    assert Task.objects.get().owner == cast.teammate and not Activity.objects.exists()
    assert client.post(task_url("task_reassign", task), {"owner": cast.owner.pk}).status_code == 302
    assert Task.objects.get().owner == cast.owner
    assert timeline(lead) == [f"Task reassigned to {cast.owner.get_full_name()}: Call "
                              f"(by {cast.teammate.get_full_name()})"]
    client.post(task_url("task_reassign", task), {"owner": cast.owner.pk})  # theirs already: no second row
    assert len(timeline(lead)) == 1


# --- tenancy --------------------------------------------------------------------------------------


def test_outsider_gets_404_for_every_task_url_and_sees_none_of_ours(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW, title="Secret step")
    make_task(lead, cast.outsider, NOW, title="Misassigned step")  # even one naming the outsider
    client.force_login(cast.outsider)
    assert client.get(lead_url("lead_task_add", lead)).status_code == 404
    for url, data in ((lead_url("lead_task_add", lead), {"title": "x", "due_at": "2030-01-01T09:00",
                                                         "owner": cast.outsider.pk}),
                      (lead_url("lead_task_quick", lead), {"template": "call"}),
                      (task_url("task_done", task), {}),
                      (task_url("task_snooze", task), {"by": "day"}),
                      (task_url("task_reassign", task), {"owner": cast.outsider.pk})):
        assert client.post(url, data).status_code == 404, url
        assert client.get(url).status_code in (404, 405), url
    for query in ("", "?owner=all"):
        page = client.get(TASKS + query).content.decode()
        assert "Secret step" not in page and "Misassigned step" not in page and "Ana Silva" not in page
    assert client.get(reverse("leads:dashboard")).context["data"]["tasks"] == {"overdue": 0, "today": 0}
    task.refresh_from_db()
    assert task.done_at is None and task.snoozed == 0 and task.owner == cast.teammate
    assert Task.objects.count() == 2 and not Activity.objects.exists()


def test_anonymous_goes_to_login(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW)
    assert client.get(TASKS)["Location"].startswith(reverse("login"))
    assert client.post(task_url("task_done", task))["Location"].startswith(reverse("login"))
    assert Task.objects.get().done_at is None


def test_an_erased_leads_tasks_are_gone_from_every_list_and_closed_by_erasure(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW - dt.timedelta(hours=1), title="Call Ana", note="Ana's mobile")
    Lead.objects.filter(pk=lead.pk).update(erased_at=NOW)  # before erasure closes them, too
    client.force_login(cast.teammate)
    assert "Call Ana" not in client.get(TASKS).content.decode()
    assert client.post(task_url("task_done", task)).status_code == 404
    assert task_counts([cast.employer.pk], owner_id=cast.teammate.pk) == {"overdue": 0, "today": 0}
    # What lead_erase calls in its transaction: open tasks close, their text goes.
    assert next_steps.tasks_erase(lead=lead, at=NOW) == 1
    task.refresh_from_db()
    assert (task.done_at, task.title, task.note) == (NOW, "(erased)", "")


# --- /tasks/: grouped around the recruiter's midnight ---------------------------------------------

# 10:30 UTC on Wednesday 11 Nov 2026 = 23:30 on Wednesday in Auckland.
LATE = dt.datetime(2026, 11, 11, 10, 30, tzinfo=dt.UTC)


@pytest.fixture
def around_midnight(cast, lead):
    def at(hours: float, title: str) -> Task:
        return make_task(lead, cast.teammate, LATE + dt.timedelta(hours=hours), title=title)

    at(-0.5, "A overdue")  # 10:00 UTC, 23:00 NZDT
    at(0.25, "B before Auckland midnight")  # 23:45 NZDT
    at(1, "C after Auckland midnight")  # 00:30 Thursday NZDT, 11:30 UTC Wednesday
    at(12.5, "D before UTC midnight")  # 23:00 UTC Wednesday, 12:00 Thursday NZDT
    at(14.5, "E after UTC midnight")  # 01:00 UTC Thursday
    make_task(lead, cast.owner, LATE + dt.timedelta(hours=0.25), title="F the owner's")
    make_task(lead, cast.teammate, LATE - dt.timedelta(days=2), title="G done", done_at=LATE)


def titles(tasks) -> list[str]:
    return [task.title[0] for task in tasks]


@pytest.mark.parametrize(("zone", "overdue", "today", "later"), [
    ("", ["A"], ["B"], ["C", "D", "E"]),  # the employer's zone, Auckland
    ("Pacific/Auckland", ["A"], ["B"], ["C", "D", "E"]),
    ("UTC", ["A"], ["B", "C", "D"], ["E"]),
])
@time_machine.travel(LATE, tick=False)
def test_tasks_are_grouped_around_the_recruiters_midnight(client, cast, around_midnight, zone, overdue, today,
                                                           later):
    client.force_login(cast.teammate)
    if zone:
        in_zone(client, zone)
    response = client.get(TASKS)
    assert response.status_code == 200
    groups = response.context["groups"]
    assert (titles(groups.overdue), titles(groups.today), titles(groups.later)) == (overdue, today, later)
    html = response.content.decode()
    assert 'id="tasks-overdue"' in html and html.count("task-overdue") == 1
    assert f'href="{reverse("leads:lead_detail", args=[Lead.objects.get().pk])}"' in html


@time_machine.travel(LATE, tick=False)
def test_everyone_at_my_employers(client, cast, around_midnight):
    client.force_login(cast.teammate)
    groups = client.get(TASKS + "?owner=all").context["groups"]
    assert titles(groups.today) == ["B", "F"]
    assert "G" not in titles(groups.overdue + groups.today + groups.later)


@time_machine.travel(LATE, tick=False)
def test_the_dashboard_counts_my_overdue_and_today_tasks(client, cast, around_midnight):
    client.force_login(cast.teammate)
    response = client.get(reverse("leads:dashboard"))
    assert response.context["data"]["tasks"] == {"overdue": 1, "today": 1}
    html = response.content.decode()
    assert f'href="{TASKS}#group-overdue"' in html and 'id="tasks-overdue-count">1<' in html
    in_zone(client, "UTC")
    assert client.get(reverse("leads:dashboard")).context["data"]["tasks"] == {"overdue": 1, "today": 3}


def test_the_list_is_capped_and_says_so(cast, lead):
    for hour in range(4):
        make_task(lead, cast.teammate, NOW + dt.timedelta(hours=hour))
    groups = tasks_grouped([cast.employer.pk], owner_id=cast.teammate.pk, now=NOW, cap=3)
    assert groups.count == 3 and groups.more


# --- query counts ---------------------------------------------------------------------------------


def test_tasks_page_query_count_does_not_grow(client, cast, django_assert_num_queries):
    client.force_login(cast.teammate)
    extra = UserFactory(username="extra")
    cast.employer.memberships.create(user=extra, role="recruiter")

    def count_after_adding(n: int) -> int:
        for i in range(n):
            lead = LeadFactory(employer=cast.employer)
            make_task(lead, cast.teammate, NOW + dt.timedelta(hours=i - n // 2), note="note")
            make_task(lead, extra, NOW + dt.timedelta(hours=i))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(TASKS).status_code == 200
        return len(ctx.captured_queries)

    three = count_after_adding(3)
    assert three == count_after_adding(27) == TASKS_QUERIES  # 3 tasks, then 30
    assert len(client.get(TASKS).context["groups"].later) + len(client.get(TASKS).context["groups"].overdue) >= 30
    with django_assert_num_queries(TASKS_QUERIES):
        assert client.get(TASKS + "?owner=all").status_code == 200


def test_lead_page_query_count_with_tasks(client, cast, lead, django_assert_num_queries):
    client.force_login(cast.teammate)

    def count_after_adding(n: int) -> int:
        for i in range(n):
            make_task(lead, cast.teammate if i % 2 else cast.owner, NOW + dt.timedelta(hours=i))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(lead_url("lead_detail", lead)).status_code == 200
        return len(ctx.captured_queries)

    assert count_after_adding(3) == count_after_adding(20)
    PossibleDuplicateFactory(lead=lead, other=LeadFactory(employer=cast.employer))
    with django_assert_num_queries(LEAD_PAGE_QUERIES):
        response = client.get(lead_url("lead_detail", lead))
    assert response.content.decode().count('data-task="') == 23


# --- digest, merge, admin -------------------------------------------------------------------------

# 19:00 UTC on Sunday 1 Nov 2026 = 08:00 on Monday 2 Nov in Auckland.
AUCKLAND_8AM = dt.datetime(2026, 11, 1, 19, 0, tzinfo=dt.UTC)


def test_the_digest_lists_the_recruiters_overdue_and_todays_tasks(cast):
    with time_machine.travel(AUCKLAND_8AM - dt.timedelta(hours=1), tick=False):
        lead = LeadFactory(employer=cast.employer, name="Ana Silva", owner=cast.teammate)
        erased = LeadFactory(employer=cast.employer, owner=cast.teammate, erased_at=AUCKLAND_8AM)
    make_task(lead, cast.teammate, AUCKLAND_8AM - dt.timedelta(days=2), title="Send visa checklist")
    make_task(lead, cast.teammate, AUCKLAND_8AM + dt.timedelta(hours=3), title="Call back")  # 11:00 today
    make_task(lead, cast.teammate, AUCKLAND_8AM + dt.timedelta(days=1), title="Tomorrow's step")
    make_task(lead, cast.teammate, AUCKLAND_8AM - dt.timedelta(days=1), title="Done step", done_at=AUCKLAND_8AM)
    make_task(lead, cast.owner, AUCKLAND_8AM - dt.timedelta(days=1), title="The owner's step")
    make_task(erased, cast.teammate, AUCKLAND_8AM - dt.timedelta(days=1), title="Erased step")
    with time_machine.travel(AUCKLAND_8AM, tick=False):
        assert digests_queue() == 1  # tasks alone are worth a digest
        assert digests_queue() == 0
    digest = OutboundEmail.objects.get(kind=OutboundKind.DIGEST)
    assert digest.to_user == cast.teammate and "1 overdue task(s)" in digest.subject
    body = digest.body_text
    assert "Your overdue tasks (1):" in body
    assert f"- Send visa checklist (Ana Silva), was due Sat 31 Oct 08:00 NZDT: http://127.0.0.1:8000/leads/{lead.pk}/" \
        in body
    assert "Your tasks due today (1):" in body and "Call back (Ana Silva), due Mon 02 Nov 11:00 NZDT" in body
    assert "http://127.0.0.1:8000/tasks/" in body
    for absent in ("Tomorrow's step", "Done step", "The owner's step", "Erased step"):
        assert absent not in body


def test_a_merge_moves_the_other_leads_tasks_to_the_kept_lead(cast, lead):
    other = LeadFactory(employer=cast.employer, name="Ana Silva", email="ana.other@example.org")
    PossibleDuplicateFactory(lead=lead, other=other)
    task = make_task(other, cast.teammate, NOW, title="Call the other")
    lead_merge(lead=lead, other=other, by=cast.teammate)
    task.refresh_from_db()
    assert task.lead_id == lead.pk and task.done_at is None


def test_admin_shows_tasks_read_only_and_scoped(client, cast, lead):
    from leads.models import Employer

    task = make_task(lead, cast.teammate, NOW, title="Kiwi step")
    theirs = make_task(LeadFactory(employer=Employer.objects.get(pk=cast.other_employer.pk)), cast.outsider, NOW,
                       title="Maple step")
    client.force_login(cast.owner)
    changelist = client.get(reverse("admin:leads_task_changelist"))
    assert changelist.status_code == 200
    assert "Kiwi step" in changelist.content.decode() and "Maple step" not in changelist.content.decode()
    assert client.get(reverse("admin:leads_task_add")).status_code == 403
    change = reverse("admin:leads_task_change", args=[task.pk])
    assert client.get(change).status_code == 200
    client.post(change, {"title": "Edited", "due_at": "2030-01-01 00:00", "owner": cast.owner.pk})
    assert Task.objects.get(pk=task.pk).title == "Kiwi step"
    assert client.get(reverse("admin:leads_task_change", args=[theirs.pk])).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_a_boosted_form_refused_goes_back_with_the_error_as_a_message(client, cast, lead):
    task = make_task(lead, cast.teammate, NOW + dt.timedelta(hours=2), done_at=NOW)
    client.force_login(cast.teammate)
    response = client.post(task_url("task_snooze", task), {"by": "day", "next": TASKS}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == TASKS
    assert "This task is done already." in client.get(TASKS).content.decode()
    assert Task.objects.get().snoozed == 0


# --- fuzzed input ---------------------------------------------------------------------------------


def test_fuzzed_task_forms_never_500_and_a_refusal_stores_nothing(cast):
    from hypothesis import given
    from hypothesis import strategies as st

    from tests.fuzz import (
        BAD_DATES,
        FUZZ,
        NEXTS,
        check,
        choice,
        encodings,
        form_pairs,
        free_text,
        fresh_client,
        fuzzing,
        ids_as_text,
        post_form,
        refused_form,
    )

    lead = LeadFactory(employer=cast.employer, name="Ana Silva")
    foreign = LeadFactory(employer=cast.other_employer)
    task = make_task(lead, cast.teammate, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    done = make_task(lead, cast.teammate, dt.datetime(2030, 1, 1, tzinfo=dt.UTC), done_at=NOW)
    theirs = make_task(foreign, cast.outsider, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    clients = {}
    for name, user, zone in (("teammate", cast.teammate, ""), ("owner", cast.owner, "Pacific/Kiritimati")):
        clients[name] = fresh_client()
        clients[name].force_login(user)
        if zone:
            in_zone(clients[name], zone)
    times = ["2030-01-01T09:00", "2029-06-30T23:59", "2030-01-01 09:00", "2030-01-01T09:00:00+05:30"]
    owners = (st.sampled_from([str(cast.teammate.pk), str(cast.owner.pk)]),
              st.one_of(st.sampled_from([str(cast.outsider.pk), "999999"]), ids_as_text))
    next_ = (st.sampled_from(["", TASKS]), st.sampled_from(NEXTS))
    forms = {
        f"/leads/{lead.pk}/tasks/new/": {"title": free_text(["Call", "Send the visa checklist"]),
                                         "due_at": choice(times, BAD_DATES), "owner": owners,
                                         "note": free_text(["", "Skilled migrant"]), "next": next_},
        f"/leads/{lead.pk}/tasks/quick/": {"template": choice(["call", "follow-up", "visa"], ["", "CALL", "nap"]),
                                           "next": next_},
        f"/tasks/{task.pk}/snooze/": {"by": choice(["day", "week", "until"], ["", "DAY", "month", "until\x00"]),
                                      "until": choice(times, BAD_DATES), "next": next_},
        f"/tasks/{task.pk}/reassign/": {"owner": owners, "next": next_},
        f"/tasks/{task.pk}/done/": {"next": next_},
        f"/tasks/{done.pk}/snooze/": {"by": choice(["day"], ["week"]), "next": next_},
        f"/tasks/{theirs.pk}/done/": {"next": next_},
        f"/leads/{foreign.pk}/tasks/quick/": {"template": choice(["call"], ["visa"])},
    }
    strategies = {path: form_pairs(fields, multi={"next"}) for path, fields in forms.items()}

    @FUZZ
    @given(data=st.data(), path=st.sampled_from(list(forms)), encoding=encodings,
           who=st.sampled_from(["teammate", "teammate", "owner"]),
           htmx=st.sampled_from([{}, {}, {"HTTP_HX_REQUEST": "true"}]))
    def run(data, path, encoding, who, htmx):
        pairs = data.draw(strategies[path], label="pairs")
        client = clients[who]
        client.cookies.pop("messages", None)
        check(lambda: post_form(client, path, pairs, encoding, **htmx), what=f"POST {path} ({encoding})",
              refused=refused_form, models=[Task, Activity])

    with fuzzing(), time_machine.travel(NOW, tick=False):
        run()
