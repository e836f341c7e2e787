"""The team page in a real browser: an admin invites a recruiter, the recruiter follows the link
from the email (read from the outbox row), sets a password and lands logged in. Both pages pass
axe-core without a serious or critical violation."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from leads.models import Membership, OutboundEmail, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("RELOCATE_SCREENSHOTS", "/tmp/relocate-screenshots"))


def serious_violations(page) -> list[tuple[str, str, list]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"team-{name}.png"), full_page=True)


def test_an_admin_invites_a_recruiter_who_sets_a_password_and_lands_logged_in(page, live_server, cast, settings):
    from playwright.sync_api import expect

    settings.SITE_URL = live_server.url
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(cast.owner.username)
    page.get_by_label("Password").fill("relocate-test")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Team", exact=True).click()
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=cast.teammate.email)).to_be_visible()
    assert serious_violations(page) == []

    invite = page.get_by_role("form", name="Invite someone to Kiwi Ledger")
    invite.get_by_label("Email").fill("rangi.parata@example.org")
    invite.get_by_label("Role").select_option("recruiter")
    invite.get_by_label("First name (optional)").fill("Rangi")
    invite.get_by_label("Last name (optional)").fill("Parata")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("Invitation sent to rangi.parata@example.org")
    expect(page.get_by_role("row", name=re.compile("Rangi Parata"))).to_contain_text("Invited, not yet accepted")
    shot(page, "page")
    assert serious_violations(page) == []

    # A refused invitation shows why, on the page (a 400, not swallowed by htmx).
    invite.get_by_label("Email").fill("not-an-address")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Enter a valid email address.").first).to_be_visible()
    assert serious_violations(page) == []

    # The invitee opens the link of the email, in a browser of their own (no admin session).
    row = OutboundEmail.objects.get(to_email="rangi.parata@example.org")
    link = re.search(r"http\S+/team/invite/\S+/", row.body_text)[0]
    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Kiwi Ledger on Relocate")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("New password*", exact=True).fill("rangi")
    page.get_by_label("New password confirmation*", exact=True).fill("rangi")
    page.get_by_role("button", name="Set my password and log in").click()
    expect(page.get_by_text("This password is too short.")).to_be_visible()
    shot(page, "accept-refused")
    assert serious_violations(page) == []
    page.get_by_label("New password*", exact=True).fill("Pohutukawa-summer-77")
    page.get_by_label("New password confirmation*", exact=True).fill("Pohutukawa-summer-77")
    page.get_by_role("button", name="Set my password and log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Welcome to Relocate, Rangi Parata")
    expect(page.get_by_text("rangi.parata@example.org ·")).to_be_visible()
    # A recruiter: no Team link.
    expect(page.get_by_role("link", name="Team", exact=True)).to_have_count(0)
    membership = Membership.objects.get(user__email="rangi.parata@example.org")
    assert membership.role == Role.RECRUITER
    assert membership.user.is_active

    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("heading", name="This invitation link does not work")).to_be_visible()
    shot(page, "link-used")
