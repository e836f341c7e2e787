"""Fixtures of the browser tests: Playwright driving the system Chromium (no browser download)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.cache import cache

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself (setting up the cast) would otherwise refuse to run beside it. Only for this
    # test: a process-wide setting would leak into every test after it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install it (apt-get install chromium)")
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def fast_form(settings):
    # A person in a browser takes longer than the minimum fill time; a script does not.
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0
    cache.clear()


