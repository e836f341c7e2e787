"""Every page type in a real browser with the Content Security Policy enforced (django-csp,
relocate/settings.py): nothing is refused, every HTML response carries the policy, and the
styles that moved out of inline <style>s and style="" attributes still apply.

A violation shows three ways, and each is watched: a console message ("Refused to ...",
"... Content Security Policy ..."), a ``securitypolicyviolation`` event in the page, and the
browser's report to /csp-report/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from leads.emails import my_data_url, still_interested_url, unsubscribe_url
from leads.models import Employer, OutboundStatus, Stage
from tests.factories import (
    ActivityFactory,
    EmailTemplateFactory,
    InquiryFactory,
    LeadFactory,
    MarkedEventFactory,
    NoteFactory,
    OutboundEmailFactory,
    StageEventFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "relocate-test"  # tests/factories.py, UserFactory
BRAND = "#123456"
BRAND_RGB = "rgb(18, 52, 86)"

# Runs in every document and frame before the page's own scripts.
_WATCH_SCRIPT = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
  e.violatedDirective + ' ' + (e.blockedURI || '') + ' at ' + (e.sourceFile || '') + ':' + e.lineNumber));
"""
_CONSOLE = re.compile(r"Content Security Policy|Refused to", re.IGNORECASE)


class CspWatch:
    """Collects violations and policy-less HTML responses; ``check`` asserts there are none."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        self.html_responses = 0
        page.add_init_script(_WATCH_SCRIPT)
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message) -> None:
        if _CONSOLE.search(message.text):
            self.problems.append(f"console: {message.text}")

    def _request(self, request) -> None:
        if "/csp-report/" in request.url:
            self.problems.append(f"report sent to /csp-report/: {request.post_data}")

    def _response(self, response) -> None:
        if not response.url.startswith(self.base_url):
            return
        if not response.headers.get("content-type", "").startswith("text/html"):
            return
        self.html_responses += 1
        policy = response.headers.get("content-security-policy", "")
        # The email template's HTML part, framed by our own admin only: the email's inline styles
        # are its design, and nothing else at all is allowed there.
        strict_frame = all(part in policy for part in ("frame-ancestors 'self'", "script-src 'none'",
                                                       "default-src 'none'"))
        if response.url.endswith("/preview.html") and strict_frame:
            return
        if "frame-ancestors 'none'" not in policy:
            self.problems.append(f"{response.status} {response.url}: Content-Security-Policy is {policy!r}")

    def check(self, what: str) -> None:
        self.page.wait_for_load_state("networkidle")
        from playwright.sync_api import Error as PlaywrightError

        for frame in self.page.frames:
            try:
                events = frame.evaluate("() => window.__cspViolations || []")
            except PlaywrightError:  # a frame gone meanwhile, or a sandboxed one that runs no script
                events = []
            self.problems += [f"event in {frame.url}: {event}" for event in events]
        problems, self.problems = self.problems, []
        assert problems == [], f"{what}: {problems}"

    def visit(self, path: str, what: str | None = None):
        response = self.page.goto(self.base_url + path)
        self.check(what or path)
        return response


def path_of(url: str) -> str:
    return urlsplit(url).path


def style_of(page, selector: str, prop: str) -> str:
    return page.locator(selector).first.evaluate(f"(e) => getComputedStyle(e).getPropertyValue('{prop}')")


def log_in(page, base_url: str, username: str) -> None:
    from playwright.sync_api import expect

    page.context.clear_cookies()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.fixture
def watch(page, live_server):
    return CspWatch(page, live_server.url)


@pytest.fixture
def branded(cast):
    cast.employer.brand_colour = BRAND
    cast.employer.save()
    return cast


@pytest.fixture
def story(branded):
    """A lead with something of every kind on its timeline, and enough around it for the
    dashboard, the board and every report to draw something."""
    cast = branded
    now = timezone.now()
    lead = LeadFactory(employer=cast.employer, name="Aroha Ngata", owner=cast.teammate, stage=Stage.CONTACTED,
                       first_contacted_at=now)
    InquiryFactory(lead=lead, subject="Moving to Wellington")
    StageEventFactory(lead=lead, by=cast.teammate)
    NoteFactory(lead=lead, body="Keen, can move in March.")
    ActivityFactory(lead=lead, summary="Called about the role.")
    OutboundEmailFactory(lead=lead, status=OutboundStatus.SENT, scheduled_at=now)
    for stage in (Stage.NEW, Stage.APPLIED, Stage.INTERVIEWING):
        other = LeadFactory(employer=cast.employer, owner=cast.teammate, stage=stage)
        InquiryFactory(lead=other)
    MarkedEventFactory(employer=cast.employer, date=now.date(), label="Job fair")
    return lead


def test_the_watch_sees_a_violation(page, live_server, watch, cast):
    """The watch itself: a style attribute added to a page is caught, or the tests below
    would pass whatever the pages do."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate("() => document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.wait_for_function("() => window.__cspViolations.length > 0")
    with pytest.raises(AssertionError, match="style-src-attr"):
        watch.check("a page with a style attribute")


def test_public_pages_keep_the_policy(page, live_server, watch, branded, fast_form):
    from playwright.sync_api import expect

    cast = branded
    slug = cast.employer.slug
    watch.visit(f"/apply/{slug}/", "the public form")
    # The brand colour comes from brand.css, the searchable lists from Tom Select.
    assert style_of(page, ".brand-bar", "background-color") == BRAND_RGB
    assert style_of(page, ".btn-primary", "background-color") == BRAND_RGB
    page.get_by_role("combobox", name="Citizenships").click()
    page.keyboard.type("New Zea")
    expect(page.locator("#id_citizenships-ts-dropdown").get_by_role("option", name="New Zealand")).to_be_visible()
    page.keyboard.press("Escape")
    watch.check("the public form, a searchable list open")

    # Sent empty: the error state.
    page.get_by_role("button", name="Send my inquiry").click()
    expect(page.get_by_text("Please correct the fields marked below.")).to_be_visible()
    watch.check("the public form with errors")
    assert style_of(page, ".brand-bar", "background-color") == BRAND_RGB

    page.get_by_label("Full name").fill("Mere Parata")
    page.get_by_label("Email").fill("mere.parata@example.org")
    page.get_by_label("I agree that my details are stored").check()
    page.get_by_role("button", name="Send my inquiry").click()
    expect(page.get_by_role("heading", name="Thank you, we have your inquiry")).to_be_visible()
    watch.check("the thank-you page")
    assert style_of(page, ".brand-bar", "background-color") == BRAND_RGB

    brand = page.request.get(f"{live_server.url}/apply/{slug}/brand.css")
    assert brand.status == 200
    assert brand.headers["content-type"].startswith("text/css")
    assert f".brand-bar{{background:{BRAND}}}" in brand.text()
    assert watch.html_responses >= 3


def test_pages_linked_from_emails_keep_the_policy(page, live_server, watch, branded):
    from playwright.sync_api import expect

    cache.clear()  # these pages are rate-limited per client address
    cast = branded
    leaving = LeadFactory(employer=cast.employer, name="Tama Rewi")
    watch.visit(path_of(unsubscribe_url(leaving.pk)), "unsubscribe")
    assert style_of(page, "button", "background-color") == BRAND_RGB
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    watch.check("unsubscribed")
    watch.visit(path_of(unsubscribe_url(leaving.pk)), "unsubscribe, already")

    staying = LeadFactory(employer=cast.employer, name="Hana Kereama")
    watch.visit(path_of(still_interested_url(staying.pk)), "still interested")
    assert style_of(page, "button", "background-color") == BRAND_RGB
    page.get_by_role("button", name="Yes, I'm still interested").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    watch.check("still interested, thanks")

    data = path_of(my_data_url(staying.pk))
    watch.visit(data, "my data")
    assert style_of(page, "body", "max-width") == "640px"  # 40rem
    page.get_by_role("button", name="Erase my data").click()  # without the box ticked
    expect(page.get_by_role("alert")).to_contain_text("Tick the box")
    watch.check("my data, not confirmed")
    page.get_by_label(re.compile("Erase everything")).check()
    page.get_by_role("button", name="Erase my data").click()
    expect(page.get_by_role("heading", name="Your data is erased")).to_be_visible()
    watch.check("my data, erased")
    watch.visit(data, "my data, erased before")

    # An employer that takes no public inquiries has no brand.css (a 404): the page does not
    # ask for it, and its button keeps the default colour.
    Employer.objects.filter(pk=cast.other_employer.pk).update(public_intake_enabled=False)
    closed = LeadFactory(employer=Employer.objects.get(pk=cast.other_employer.pk))
    watch.visit(path_of(unsubscribe_url(closed.pk)), "unsubscribe, employer without a public form")
    assert style_of(page, "button", "background-color") == "rgb(13, 110, 253)"


def test_recruiter_pages_keep_the_policy(page, live_server, watch, story, cast):
    from playwright.sync_api import expect

    lead = story
    watch.visit("/accounts/login/", "the login page")
    log_in(page, live_server.url, cast.teammate.username)
    watch.check("the dashboard")
    # The funnel's bars: a class per percent instead of style="width: N%".
    bars = page.locator(".progress-bar")
    assert bars.count() > 0
    assert page.locator(".progress-bar.pct-100").count() >= 1
    assert float(style_of(page, ".progress-bar.pct-100", "width").removesuffix("px")) > 50

    watch.visit("/leads/", "the lead list")
    watch.visit("/leads/board/", "the board")
    assert style_of(page, ".board", "display") == "grid"
    # A move on the board, by htmx: the swapped board keeps the policy too.
    card = page.locator("[data-stage=contacted] .board-card", has_text="Aroha Ngata")
    card.get_by_label("Move Aroha Ngata to").select_option("applied")
    card.get_by_role("button", name="Move").click()
    expect(page.locator("[data-stage=applied] .board-card", has_text="Aroha Ngata")).to_be_visible()
    watch.check("the board after a move")

    watch.visit(f"/leads/{lead.pk}/", "the lead page")
    assert page.locator("#timeline .timeline-item").count() >= 4
    assert style_of(page, ".timeline-item", "border-left-width") == "3px"
    # A boosted navigation (htmx swaps the body) and a form post.
    page.get_by_label("Note").fill("Second call: visa questions.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline")).to_contain_text("Second call: visa questions.")
    watch.check("the lead page after a note")
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^Edit"))).to_be_visible()
    watch.check("the lead edit page, boosted")

    watch.visit(f"/leads/{lead.pk}/edit/", "the lead edit page")
    watch.visit("/leads/new/", "the add lead page")
    watch.visit("/account/time-zone/", "the time zone page")


def test_admin_and_reports_keep_the_policy(page, live_server, watch, story, cast):
    lead = story
    UserFactory(username="root", is_staff=True, is_superuser=True)
    log_in(page, live_server.url, "root")
    watch.visit("/admin/", "the admin index")
    watch.visit("/admin/leads/lead/", "the lead changelist")
    watch.visit(f"/admin/leads/lead/{lead.pk}/change/", "the lead change form")
    watch.visit("/admin/leads/lead/add/", "the lead add form")
    watch.visit("/admin/leads/outboundemail/", "the outbound email changelist")
    assert page.locator("table.outbox-daily").count() == 1
    watch.visit("/admin/reports/", "the reports index")
    assert style_of(page, ".report-cards", "display") == "grid"
    for name in ("funnel", "cohorts", "surge", "response", "followups"):
        watch.visit(f"/admin/reports/{name}/", f"the {name} report")
        assert style_of(page, ".report-nav", "display") == "flex"
    watch.visit("/admin/reports/funnel/", "the funnel report")
    assert style_of(page, "svg.report-chart", "max-width") == "900px"


def test_the_admin_as_an_employer_admin(page, live_server, watch, story, cast):
    """The cast's owner: staff, admin of one employer; the admin and reports scoped to it."""
    log_in(page, live_server.url, cast.owner.username)
    watch.visit("/admin/", "the admin index")
    watch.visit("/admin/leads/lead/", "the lead changelist")
    watch.visit(f"/admin/leads/lead/{story.pk}/change/", "the lead change form")
    watch.visit("/admin/reports/response/", "the response report")


def test_the_locked_out_page_keeps_the_policy(page, live_server, watch, cast, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(3):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(cast.outsider.username)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("heading", name="Too many wrong passwords").is_visible()
    watch.check("the locked-out page")


def test_the_email_template_preview_keeps_the_policy(page, live_server, watch, story, cast):
    template = EmailTemplateFactory(employer=cast.employer, body_html="<p>Kia ora {{ lead.name }}</p>")
    UserFactory(username="root", is_staff=True, is_superuser=True)
    log_in(page, live_server.url, "root")
    watch.visit(f"/admin/leads/emailtemplate/{template.pk}/change/", "the email template change form")
    # The HTML part shows in its sandboxed frame, the email's own design included.
    frame = page.frame_locator("iframe.email-preview-html")
    assert "Kia ora" in frame.locator("body").inner_text()


# What the policy refuses, as it appears in a template: a <style> element, a style attribute, a
# <script> without src (a JSON data block is not run, so the policy lets it be), an inline event
# handler, a javascript: URL.
_INLINE = re.compile(
    r"<style\b|\sstyle\s*=|<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>|\son[a-z]+\s*=|javascript:",
    re.IGNORECASE,
)


def test_no_template_holds_anything_inline():
    """Quicker than a browser, and it sees the branches the pages above did not take. Emails
    are not pages: they keep their inline styles."""
    root = Path(settings.BASE_DIR) / "templates"
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.html")) if path.relative_to(root).parts[0] != "emails"
        for number, line in enumerate(path.read_text().splitlines(), 1) if _INLINE.search(line)
    ]
    assert found == []
