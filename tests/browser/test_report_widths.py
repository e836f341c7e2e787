"""Each admin report at 1280 x 800, in English and in French (its longer words): the page is no
wider than the window, checked in the browser, and has no serious or critical axe finding."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_reports_dataset import build_awkward

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("RELOCATE_SCREENSHOTS", "/tmp/relocate-screenshots"))
REPORTS = ("funnel", "cohorts", "surge", "response", "followups")
RANGE = "from=2026-02-01&to=2026-03-31"  # the awkward data set's weeks


def serious_violations(page) -> list[tuple[str, str]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], v["impact"]) for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_report_fits_a_1280_pixel_window(page, live_server, cast, language):
    build_awkward(cast)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.set_extra_http_headers({"Accept-Language": language})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", cast.owner.username)
    page.fill("input[name=password]", "relocate-test")
    page.click("input[type=submit]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name in REPORTS:
        for query in (RANGE, f"{RANGE}&employer={cast.employer.pk}&by=country"):
            response = page.goto(f"{live_server.url}/admin/reports/{name}/?{query}")
            assert response.status == 200, (name, query)
            assert page.get_attribute("html", "lang") == language
            assert page.locator("table").count() > 0, name
            page.screenshot(path=str(SCREENSHOTS / f"report-{name}-{language}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1280, (name, query, width)
            assert serious_violations(page) == [], (name, query)
