"""The board in a real browser: a recruiter drags cards between columns (in place, no page load),
gives the reason a backward move needs in the modal, closes a lead by keyboard with a closed
reason, cancels a move, loads more of a column; the page passes axe and breaks no CSP rule."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from leads.models import Lead, Stage, StageEvent
from leads.selectors import board as selectors
from tests.factories import ClosedReasonFactory, LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "relocate-test"  # tests/factories.py, UserFactory
SCREENSHOTS = Path(os.environ.get("RELOCATE_SCREENSHOTS", "/tmp/relocate-screenshots"))


def serious_axe_violations(page) -> list[tuple[str, str, list]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"board-{name}.png"), full_page=False)


@pytest.fixture
def board_page(page, live_server, cast):
    """The board, logged in as the teammate, watched for CSP refusals and full page loads."""
    from playwright.sync_api import expect

    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.text[:60]} at {page.url} {m.location['url']}") if re.search(
        r"Content Security Policy|Refused to|Uncaught", m.text, re.I) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(cast.teammate.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    def open_board(query: str = "") -> None:
        page.goto(f"{live_server.url}/leads/board/{query}")
        expect(page.get_by_role("heading", name="Board", exact=True)).to_be_visible()
        page.wait_for_function("() => document.getElementById('board').boardReady === true")
        # Gone after any full page load: the moves must leave it in place.
        page.evaluate("() => { window.__sameDocument = true; }")

    page.open_board = open_board
    page.problems = problems
    yield page
    assert page.evaluate("() => window.__sameDocument === true"), "the page was loaded again"
    assert problems == []


def card_in(page, stage: str, name: str):
    return page.locator(f".board-column[data-stage={stage}] .board-card", has_text=name)


def count_of(page, stage: str) -> str:
    return page.locator(f".board-column[data-stage={stage}] .board-count").inner_text()


def test_drag_and_drop_with_a_reason_in_the_modal(board_page, cast):
    from playwright.sync_api import expect

    page = board_page
    ana = LeadFactory(employer=cast.employer, name="Ana Silva", owner=cast.teammate)
    bo = LeadFactory(employer=cast.employer, name="Bo Chen", stage=Stage.OFFER)
    LeadFactory(employer=cast.employer, name="Cy Dole", stage=Stage.APPLIED)
    page.open_board()
    shot(page, "start")
    assert serious_axe_violations(page) == []
    assert count_of(page, "new") == "1" and count_of(page, "applied") == "1"

    # Forward: the card moves in place and the counts follow.
    card_in(page, "new", "Ana Silva").drag_to(page.locator(".board-column[data-stage=applied] .board-list"))
    expect(card_in(page, "applied", "Ana Silva")).to_be_visible()
    expect(page.locator(".board-column[data-stage=applied] .board-count")).to_have_text("2")
    expect(page.locator(".board-column[data-stage=new] .board-count")).to_have_text("0")
    expect(page.locator("#board-status")).to_have_text("Ana Silva moved to Applied.")
    ana.refresh_from_db()
    assert ana.stage == Stage.APPLIED
    # Its "Move to" choices are those of its new stage.
    assert card_in(page, "applied", "Ana Silva").locator("select").input_value() == "interviewing"

    # Backwards: the pipeline wants a reason; the modal asks for it, then the move is made.
    card_in(page, "offer", "Bo Chen").drag_to(page.locator(".board-column[data-stage=contacted] .board-list"))
    modal = page.get_by_role("dialog", name="Move Bo Chen to Contacted")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text("Moving a lead backwards needs a reason.")
    expect(modal.get_by_label("Reason")).to_be_focused()
    shot(page, "modal-reason")
    assert serious_axe_violations(page) == []
    modal.get_by_role("button", name="Move").click()  # empty: asked again, nothing sent
    expect(modal.get_by_role("alert")).to_have_text("Write why the lead moves.")
    modal.get_by_label("Reason").fill("The offer fell through")
    modal.get_by_role("button", name="Move").click()
    expect(modal).to_be_hidden()
    expect(card_in(page, "contacted", "Bo Chen")).to_be_visible()
    expect(page.locator(".board-column[data-stage=offer] .board-count")).to_have_text("0")
    bo.refresh_from_db()
    assert bo.stage == Stage.CONTACTED
    assert StageEvent.objects.get(lead=bo).reason == "The offer fell through"

    # Cancelled: the card goes back, nothing changes. (Once the last modal has faded out: a drag
    # made during the fade is a person's too, but the test waits so that it asserts one thing.)
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bmodal-open\b"))
    expect(page.locator("#board-move-modal")).not_to_have_class(re.compile(r"\bshow\b"))
    card_in(page, "applied", "Cy Dole").drag_to(page.locator(".board-column[data-stage=new] .board-list"))
    cy_modal = page.get_by_role("dialog", name="Move Cy Dole to New")
    expect(cy_modal).to_be_visible()
    expect(cy_modal.get_by_label("Reason")).to_be_focused()  # shown (Bootstrap ignores Escape while fading in)
    page.keyboard.press("Escape")
    expect(card_in(page, "applied", "Cy Dole")).to_be_visible()
    expect(card_in(page, "new", "Cy Dole")).to_have_count(0)
    assert Lead.objects.get(name="Cy Dole").stage == Stage.APPLIED


def test_keyboard_moves_and_closing_with_a_closed_reason(board_page, cast):
    from playwright.sync_api import expect

    page = board_page
    ClosedReasonFactory(employer=cast.employer, label="Salary")
    ClosedReasonFactory(employer=cast.employer, label="Visa refused", stage=Stage.DECLINED)
    dee = LeadFactory(employer=cast.employer, name="Dee Park", stage=Stage.CONTACTED)
    eve = LeadFactory(employer=cast.employer, name="Eve Moana")
    page.open_board()
    # Reached the way people do, by the menu (an htmx-boosted visit): the board's scripts run.
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name="Board", exact=True).click()
    page.wait_for_function("() => document.getElementById('board') && document.getElementById('board').boardReady")

    # By keyboard only: the select offers the next milestone first; Tab to Move, Enter.
    card = card_in(page, "contacted", "Dee Park")
    select = card.get_by_label("Move Dee Park to")
    select.focus()
    assert select.input_value() == "applied"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    moved = card_in(page, "applied", "Dee Park")
    expect(moved).to_be_visible()
    # Focus stays on the card's control, now in its new column.
    expect(moved.get_by_role("button", name="Move")).to_be_focused()
    expect(page.locator("#board-status")).to_have_text("Dee Park moved to Applied.")
    dee.refresh_from_db()
    assert dee.stage == Stage.APPLIED

    # Closing: the closed columns are collapsed; the modal asks for a closed reason.
    declined = page.locator(".board-column[data-stage=declined]")
    expect(declined.get_by_role("button", name="Show Declined")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Shift+Tab")
    expect(moved.get_by_label("Move Dee Park to")).to_be_focused()
    moved.get_by_label("Move Dee Park to").select_option("declined")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    modal = page.get_by_role("dialog", name="Move Dee Park to Declined")
    expect(modal).to_be_visible()
    expect(modal.get_by_label("Closed because")).to_be_focused()
    assert modal.get_by_label("Closed because").locator("option").all_inner_texts() == [
        "Choose a reason", "Salary", "Visa refused"]
    shot(page, "modal-closed-reason")
    assert serious_axe_violations(page) == []
    modal.get_by_label("Closed because").select_option(label="Visa refused")
    modal.get_by_label("Note (optional)").fill("Refused twice")
    modal.get_by_role("button", name="Move").click()
    expect(modal).to_be_hidden()
    # The column opened to show where the card went, and focus is back on the card.
    closed_card = card_in(page, "declined", "Dee Park")
    expect(closed_card).to_be_visible()
    expect(closed_card.get_by_label("Move Dee Park to")).to_be_focused()
    expect(declined.locator(".board-count")).to_have_text("1")
    expect(page.locator(".board-column[data-stage=applied] .board-count")).to_have_text("0")
    dee.refresh_from_db()
    assert dee.stage == Stage.DECLINED and dee.closed_reason.label == "Visa refused"
    shot(page, "after-close")

    # Collapsing is remembered in this browser.
    declined.get_by_role("button", name="Hide Declined").click()
    expect(closed_card).to_be_hidden()

    # To a lead's page and Back (htmx restores its snapshot of the board): the board still works.
    page.get_by_role("link", name="Eve Moana").click()
    expect(page.get_by_role("heading", name="Eve Moana")).to_be_visible()
    page.go_back()
    page.wait_for_function("() => document.getElementById('board') && document.getElementById('board').boardReady")
    expect(declined.get_by_role("button", name="Show Declined")).to_be_visible()
    card_in(page, "new", "Eve Moana").get_by_role("button", name="Move").click()
    expect(page.locator("#board-status")).to_have_text("Eve Moana moved to Contacted.")
    eve.refresh_from_db()
    assert eve.stage == Stage.CONTACTED


def test_more_loads_the_next_cards_in_place(board_page, cast, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setattr(selectors, "BOARD_COLUMN_CAP", 4)
    page = board_page
    start = timezone.now() - dt.timedelta(days=1)
    leads = LeadFactory.create_batch(10, employer=cast.employer)
    for i, lead in enumerate(leads):
        Lead.objects.filter(pk=lead.pk).update(name=f"Lead {i:02}", created_at=start + dt.timedelta(minutes=i))
    page.open_board()
    new = page.locator(".board-column[data-stage=new]")
    assert new.locator(".board-count").inner_text() == "10"
    expect(new.locator(".board-card")).to_have_count(4)
    new.get_by_role("link", name="More New leads").click()
    expect(new.locator(".board-card")).to_have_count(8)
    expect(new.locator(".board-card").nth(4).locator(".board-card-name")).to_be_focused()
    new.get_by_role("link", name="More New leads").click()
    expect(new.locator(".board-card")).to_have_count(10)
    expect(new.get_by_role("link", name="More New leads")).to_have_count(0)
    names = new.locator(".board-card-name").all_inner_texts()
    assert names == [f"Lead {i:02}" for i in range(9, -1, -1)]  # newest first, none twice
    shot(page, "more")
