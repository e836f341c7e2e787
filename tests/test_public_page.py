"""The public form page is rendered once per employer snapshot and language, and served with
only its per-request tokens filled in: the same page as a fresh render, and a change shows at once."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from leads.forms import PublicInquiryForm
from leads.models import Opening
from leads.selectors.public import public_employer
from leads.views import public
from tests.factories import OpeningFactory
from tests.helpers_intake import database_unreachable

_TOKENS = [
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), 'name="csrfmiddlewaretoken" value="CSRF"'),
    (re.compile(r'name="started" value="[^"]+"'), 'name="started" value="STARTED"'),
]


@pytest.fixture(autouse=True)
def _fresh_caches():
    cache.clear()
    public.form_page_html.cache_clear()
    yield
    cache.clear()


def masked(html: str) -> str:
    for pattern, stand_in in _TOKENS:
        html = pattern.sub(stand_in, html)
    return html


def fresh_render(employer_slug: str, utm: dict[str, str] | None = None) -> str:
    """The page as the template engine renders it for one request, without the cache."""
    employer = public_employer(employer_slug)
    form = PublicInquiryForm(initial={"started": "x", **(utm or {})}, openings=employer.openings)
    return render_to_string("public/apply.html", {"employer": employer, "form": form, "refusal": "",
                                                  "csrf_token": "x"})


def url(employer, **query) -> str:
    return reverse("leads:public_apply", args=[employer.slug]) + (
        "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_the_cached_page_is_the_fresh_render_with_fresh_tokens(client, cast):
    OpeningFactory(employer=cast.employer, title="Backend Engineer")
    first = client.get(url(cast.employer, utm_source="news", utm_campaign="election"))
    second = client.get(url(cast.employer, utm_source="news", utm_campaign="election"))
    assert first.status_code == second.status_code == 200
    assert public.form_page_html.cache_info().hits >= 1
    html = first.content.decode()
    assert masked(html) == masked(second.content.decode())
    assert masked(html) == masked(fresh_render(cast.employer.slug, {"utm_source": "news", "utm_campaign": "election"}))
    # Each request has its own tokens: a CSRF token that works with its cookie, a fresh start time.
    assert "relocate-slot" not in html
    assert 'name="utm_source" value="news"' in html and 'name="utm_campaign" value="election"' in html
    assert first.cookies["csrftoken"].value


def test_query_string_values_are_escaped_into_the_cached_page(client, cast):
    html = client.get(url(cast.employer, utm_source='"><script>alert(1)</script>')).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_a_changed_opening_or_employer_shows_at_once(client, cast):
    opening = OpeningFactory(employer=cast.employer, title="Backend Engineer")
    assert "Backend Engineer" in client.get(url(cast.employer)).content.decode()
    opening.title = "Platform Engineer"
    opening.save()
    html = client.get(url(cast.employer)).content.decode()
    assert "Platform Engineer" in html and "Backend Engineer" not in html
    OpeningFactory(employer=cast.employer, title="Data Analyst")
    assert "Data Analyst" in client.get(url(cast.employer)).content.decode()
    opening.status = Opening.Status.CLOSED
    opening.save()
    assert "Platform Engineer" not in client.get(url(cast.employer)).content.decode()
    opening.delete()
    cast.employer.name = "Kiwi Ledger Aotearoa"
    cast.employer.save()
    assert "Kiwi Ledger Aotearoa" in client.get(url(cast.employer)).content.decode()
    cast.employer.public_intake_enabled = False
    cast.employer.save()
    assert client.get(url(cast.employer)).status_code == 404


def test_a_renamed_slug_stops_serving_the_old_address(client, cast):
    old = url(cast.employer)
    assert client.get(old).status_code == 200
    cast.employer.slug = "kiwi-ledger-nz"
    cast.employer.save()
    assert client.get(old).status_code == 404
    assert client.get(url(cast.employer)).status_code == 200


def test_another_employers_openings_never_show(client, cast):
    OpeningFactory(employer=cast.other_employer, title="Maple Only Role")
    assert "Maple Only Role" not in client.get(url(cast.employer)).content.decode()


def test_the_page_costs_no_query_once_cached(client, cast, django_assert_num_queries):
    client.get(url(cast.employer))
    with django_assert_num_queries(0):
        assert client.get(url(cast.employer)).status_code == 200


def test_the_long_lists_are_searchable_and_work_without_javascript(client, cast):
    html = client.get(url(cast.employer)).content.decode()
    assert html.count("data-searchable") == 3
    assert re.search(r'<select[^>]*name="citizenships"[^>]*multiple', html)
    assert "vendor/tom-select/tom-select.complete.min.js" in html and "cdn" not in html.lower()
    # Without JavaScript the help says how to choose several.
    assert "Hold Ctrl" in html


@pytest.mark.django_db(transaction=True)
def test_the_form_renders_with_the_database_down(cast, postgres):
    OpeningFactory(employer=cast.employer, title="Backend Engineer")
    client = Client()
    assert client.get(url(cast.employer)).status_code == 200
    public.form_page_html.cache_clear()  # even the rendered page has to be made again
    with database_unreachable():
        response = client.get(url(cast.employer))
        assert response.status_code == 200
        assert "Backend Engineer" in response.content.decode()
        cache.clear()  # and with the cached snapshot gone too, this process still knows it
        assert client.get(url(cast.employer)).status_code == 200
        assert client.get("/apply/never-heard-of/").status_code == 503
