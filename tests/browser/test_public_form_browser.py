"""The public form as a person uses it in a real browser: the long lists searchable by
keyboard, the form working without JavaScript, and no accessibility violation (axe-core)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from leads.models import Lead
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_violations(page) -> list[tuple[str, str, list]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]


def test_the_form_by_keyboard_and_its_pages_pass_axe(page, live_server, cast, fast_form):
    page.goto(f"{live_server.url}/apply/{cast.employer.slug}/")
    assert axe_violations(page) == []
    page.get_by_label("Full name").fill("Amara Okafor")
    page.get_by_label("Email").fill("amara.okafor@example.org")
    # Only the keyboard, typing at a person's pace and pressing Enter at once.
    page.get_by_label("City").focus()
    page.keyboard.press("Tab")
    page.keyboard.type("Nigeria", delay=20)
    page.keyboard.press("Enter")
    page.keyboard.type("United Kingdom", delay=20)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    page.keyboard.type("Lagos", delay=20)
    page.keyboard.press("Enter")
    # Sent without consent first: the errors keep every choice.
    page.get_by_role("button", name="Send my inquiry").click()
    assert page.get_by_text("Please accept the privacy terms").is_visible()
    assert axe_violations(page) == []
    chosen = page.evaluate("() => Array.from(document.querySelector('#id_citizenships').selectedOptions)"
                           ".map(o => o.value)")
    assert chosen == ["NG", "GB"]
    page.get_by_label("I agree that my details are stored").check()
    page.get_by_role("button", name="Send my inquiry").click()
    assert page.get_by_role("heading", name="Thank you, we have your inquiry").is_visible()
    assert axe_violations(page) == []
    call_command("intake_drain")
    lead = Lead.objects.get(email="amara.okafor@example.org")
    assert sorted(lead.citizenships.values_list("country", flat=True)) == ["GB", "NG"]
    assert lead.time_zone == "Africa/Lagos"


def test_the_form_works_without_javascript(live_server, cast, fast_form, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(java_script_enabled=False)
        plain = context.new_page()
        plain.goto(f"{live_server.url}/apply/{cast.employer.slug}/")
        assert plain.get_by_text("Hold Ctrl").count() == 1  # the help for a plain multiple select
        plain.get_by_label("Full name").fill("Lin Wei")
        plain.get_by_label("Email").fill("lin.wei@example.org")
        plain.get_by_label("Country you live in").select_option("CN")
        plain.get_by_label("Citizenships").select_option(["CN", "SG"])
        plain.get_by_label("I agree that my details are stored").check()
        plain.get_by_role("button", name="Send my inquiry").click()
        assert plain.get_by_role("heading", name="Thank you, we have your inquiry").is_visible()
        context.close()
        browser.close()
    call_command("intake_drain")
    lead = Lead.objects.get(email="lin.wei@example.org")
    assert sorted(lead.citizenships.values_list("country", flat=True)) == ["CN", "SG"]
