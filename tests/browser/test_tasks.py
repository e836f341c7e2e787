"""Tasks in a real browser: a recruiter adds one on a lead's page, finds it on the dashboard and
at /tasks/, snoozes a quick one and completes the first; every page passes axe-core."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from leads.models import Task
from tests.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def serious_axe_violations(page, context: str | None = None) -> list[tuple[str, str, list]]:
    """Serious and critical axe-core violations, of the page or of one part of it."""
    from axe_playwright_python.sync_playwright import Axe

    # The page at rest: the pointer off the button it last clicked, no colour transition under way
    # (axe would measure a button half-way into its hover colours).
    page.emulate_media(reduced_motion="reduce")
    page.mouse.move(0, 0)
    results = Axe().run(page, context=context)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def test_a_task_from_the_lead_page_to_done(page, live_server, cast):
    from playwright.sync_api import expect

    lead = LeadFactory(employer=cast.employer, name="Aroha Ngata", owner=cast.teammate)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(cast.teammate.username)
    page.get_by_label("Password").fill("relocate-test")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # On the lead page: a task due ten minutes ago (the recruiter's zone is the employer's),
    # so that it is overdue at once.
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    tasks = page.locator("#lead-tasks")
    expect(tasks).to_contain_text("No open tasks.")
    assert serious_axe_violations(page, "#tasks") == []
    due = (timezone.now() - dt.timedelta(minutes=10)).astimezone(zoneinfo.ZoneInfo(cast.employer.time_zone))
    page.get_by_label("Next step").fill("Send the visa checklist")
    page.get_by_label("Due (").fill(due.strftime("%Y-%m-%dT%H:%M"))
    expect(page.get_by_label("Assigned to")).to_have_value(str(cast.teammate.pk))
    page.get_by_role("button", name="Add task").click()
    row = tasks.locator("li", has_text="Send the visa checklist")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Overdue")
    expect(row).to_contain_text(f"{due:%H:%M}")
    expect(page.locator("#timeline")).to_contain_text("Task added: Send the visa checklist")
    # A quick one, snoozed by a day.
    page.get_by_role("button", name="Call in 2 days").click()
    call = tasks.locator("li", has_text="Call")
    expect(call).to_be_visible()
    call.get_by_role("button", name="Snooze 1 day").click()
    expect(page.locator("#timeline")).to_contain_text("Task snoozed to")
    assert Task.objects.get(title="Call").snoozed == 1
    page.locator("#tasks details").first.locator("summary").click()  # the snooze-until and reassign forms
    assert serious_axe_violations(page, "#tasks") == []

    # The dashboard counts it and links to the list.
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.locator("#tasks-overdue-count")).to_have_text("1")
    assert serious_axe_violations(page) == []
    page.get_by_role("link", name="Overdue", exact=True).click()
    expect(page.get_by_role("heading", name="My open tasks")).to_be_visible()
    overdue = page.locator("#tasks-overdue li", has_text="Send the visa checklist")
    expect(overdue).to_be_visible()
    expect(overdue.get_by_role("link", name="Aroha Ngata")).to_be_visible()
    expect(page.locator("#tasks-later")).to_contain_text("Call")
    assert serious_axe_violations(page) == []
    page.get_by_role("link", name="Everyone at my employers").click()
    expect(page.get_by_role("heading", name="Open tasks at my employers")).to_be_visible()
    assert serious_axe_violations(page) == []
    page.get_by_role("link", name="Mine", exact=True).click()

    # Done, from the list: it leaves it, and the dashboard.
    page.locator("#tasks-overdue li", has_text="Send the visa checklist").get_by_role("button", name="Done").click()
    expect(page.locator("#messages")).to_contain_text("Done: Send the visa checklist.")
    expect(page.locator("#tasks-overdue")).to_contain_text("Nothing overdue.")
    assert Task.objects.get(title="Send the visa checklist").done_at is not None
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.locator("#tasks-overdue-count")).to_have_text("0")

    # A refused form shows why, in the browser too.
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.get_by_label("Next step").fill("Too late")
    page.get_by_label("Due (").fill("2020-01-01T09:00")
    page.get_by_role("button", name="Add task").click()
    expect(page.locator("#task-errors")).to_contain_text("more than a day ago")
    assert serious_axe_violations(page) == []
    assert not Task.objects.filter(title="Too late").exists()
