"""The pages people click through, in a real browser (Playwright driving the system Chromium).

A person sends the public form and sees the thank-you page; a recruiter logs in, finds the
lead by search, opens it, adds a note, moves it to contacted, moves it on along the board,
and sees it all on the timeline.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from leads.models import Lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_inquiry_to_board(page, live_server, cast, fast_form):
    from playwright.sync_api import expect

    # The person applies.
    page.goto(f"{live_server.url}/apply/{cast.employer.slug}/")
    expect(page.get_by_role("heading", name="Tell us about yourself")).to_be_visible()
    page.get_by_label("Full name").fill("Wiremu Tane")
    page.get_by_label("Email").fill("wiremu.tane@example.org")
    # The long lists are searchable: type, then pick.
    page.get_by_role("combobox", name="Country you live in").click()
    page.keyboard.type("United States")
    page.locator("#id_current_country-ts-dropdown").get_by_role("option", name="United States of America",
                                                                 exact=True).click()
    page.get_by_role("combobox", name="Citizenships").click()
    page.keyboard.type("New Zea")
    page.locator("#id_citizenships-ts-dropdown").get_by_role("option", name="New Zealand", exact=True).click()
    page.keyboard.type("Irel")
    page.locator("#id_citizenships-ts-dropdown").get_by_role("option", name="Ireland", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_label("Why do you want to move?").fill("Looking for a fresh start in Wellington.")
    page.get_by_label("I agree that my details are stored").check()
    page.get_by_role("button", name="Send my inquiry").click()
    expect(page.get_by_role("heading", name="Thank you, we have your inquiry")).to_be_visible()
    # The intake worker turns the accepted submission into a lead (within seconds in production).
    call_command("intake_drain")
    lead = Lead.objects.get(email="wiremu.tane@example.org")
    assert lead.current_country == "US"
    assert sorted(lead.citizenships.values_list("country", flat=True)) == ["IE", "NZ"]

    # The recruiter logs in and finds the lead by search.
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(cast.teammate.username)
    page.get_by_label("Password").fill("relocate-test")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_label("Search").fill("Wiremu")
    page.get_by_label("Search").press("Enter")
    page.get_by_role("link", name="Wiremu Tane").click()
    expect(page.get_by_role("heading", name="Wiremu Tane")).to_be_visible()

    # A note, then a move to contacted.
    page.get_by_label("Note").fill("Called: keen, can move in March.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline")).to_contain_text("Called: keen, can move in March.")
    page.locator("#move-to").select_option("contacted")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator("#lead-stage")).to_have_text("Contacted")

    # On the board, the card moves on to applied without a page reload.
    page.get_by_role("link", name="Board", exact=True).first.click()
    card = page.locator("[data-stage=contacted] .board-card", has_text="Wiremu Tane")
    expect(card).to_be_visible()
    card.get_by_label("Move Wiremu Tane to").select_option("applied")
    card.get_by_role("button", name="Move").click()
    expect(page.locator("[data-stage=applied] .board-card", has_text="Wiremu Tane")).to_be_visible()
    expect(page.locator("[data-stage=contacted] .board-card", has_text="Wiremu Tane")).to_have_count(0)

    # The timeline tells the whole story.
    page.get_by_role("link", name="Wiremu Tane").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Called: keen, can move in March.")
    expect(timeline).to_contain_text("Contacted")
    expect(timeline).to_contain_text("Applied")
    expect(timeline).to_contain_text("Web form")
