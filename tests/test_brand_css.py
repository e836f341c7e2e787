"""/apply/<slug>/brand.css: the employer's colour as a stylesheet, which the public pages link
instead of an inline <style> (the Content Security Policy refuses those)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from leads.emails import unsubscribe_url
from leads.models import Employer
from leads.selectors.public import PublicPageUnavailable, public_page_forget
from leads.views.brand import DEFAULT_COLOUR
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def brand_url(slug: str) -> str:
    return reverse("brand_css", args=[slug])


def test_the_employer_colour_as_css(client, cast):
    cast.employer.brand_colour = "#12aB56"
    cast.employer.save()
    response = client.get(brand_url(cast.employer.slug))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=300"
    css = response.content.decode()
    assert ".brand-bar{background:#12aB56}" in css
    assert ".btn-primary{--bs-btn-bg:#12aB56;--bs-btn-border-color:#12aB56}" in css
    assert ".brand-button{background:#12aB56}" in css
    assert client.head(brand_url(cast.employer.slug)).status_code == 200
    assert client.post(brand_url(cast.employer.slug)).status_code == 405


def test_a_new_colour_shows_at_once(client, cast):
    assert "#0d6efd" in client.get(brand_url(cast.employer.slug)).content.decode()
    cast.employer.brand_colour = "#654321"
    cast.employer.save()  # drops the cached snapshot
    assert ".brand-bar{background:#654321}" in client.get(brand_url(cast.employer.slug)).content.decode()


def test_unknown_or_closed_employer_is_404(client, cast):
    assert client.get(brand_url("no-such-employer")).status_code == 404
    cast.employer.public_intake_enabled = False
    cast.employer.save()
    assert client.get(brand_url(cast.employer.slug)).status_code == 404


@pytest.mark.parametrize("stored", ["red", "#12345", "#12345g", "x}body{"])
def test_a_bad_stored_colour_falls_back_to_the_default(client, cast, stored):
    # A raw UPDATE skips the model's validator, and the signal that drops the snapshot.
    Employer.objects.filter(pk=cast.employer.pk).update(brand_colour=stored)
    public_page_forget(cast.employer.slug)
    response = client.get(brand_url(cast.employer.slug))
    assert response.status_code == 200
    css = response.content.decode()
    assert stored not in css
    assert f".brand-bar{{background:{DEFAULT_COLOUR}}}" in css


def test_nothing_known_gives_the_neutral_default(client, cast, monkeypatch):
    def unavailable(slug):
        raise PublicPageUnavailable(slug)

    monkeypatch.setattr("leads.views.brand.public_employer", unavailable)
    response = client.get(brand_url(cast.employer.slug))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert f".brand-bar{{background:{DEFAULT_COLOUR}}}" in response.content.decode()
    assert response["Cache-Control"] == "public, max-age=60"


def test_the_public_pages_link_it_and_hold_no_inline_style(client, cast):
    cast.employer.brand_colour = "#123456"
    cast.employer.save()
    link = f'href="{brand_url(cast.employer.slug)}?v=123456"'
    for path in (f"/apply/{cast.employer.slug}/", f"/apply/{cast.employer.slug}/thanks/"):
        html = client.get(path).content.decode()
        assert link in html, path
        assert "<style" not in html and "style=" not in html, path
    cache.clear()  # the unsubscribe page is rate-limited per client address
    lead = LeadFactory(employer=cast.employer)
    html = client.get(unsubscribe_url(lead.pk).removeprefix(settings.SITE_URL)).content.decode()
    assert link in html
    assert "<style" not in html and "style=" not in html
