"""A recruiter's own time zone and page language: saved, used on every page, kept across logins,
checked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.i18n import SESSION_KEY as LANGUAGE_SESSION_KEY
from leads.models import UserPreference
from leads.services.preferences import SESSION_KEY


def test_default_is_the_employers_zone(client, cast):
    client.force_login(cast.teammate)
    response = client.get(reverse("leads:dashboard"))
    assert b"times in NZ" in response.content  # Kiwi Ledger: Pacific/Auckland


def test_choosing_a_zone_changes_the_pages_and_survives_a_new_login(client, cast):
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:time_zone"), {"time_zone": "Europe/London", "next": "/leads/"})
    assert response.status_code == 302 and response["Location"] == "/leads/"
    assert UserPreference.objects.get(user=cast.teammate).time_zone == "Europe/London"
    assert b"times in GMT" in client.get(reverse("leads:dashboard")).content
    client.logout()
    client.post(reverse("login"), {"username": "teammate", "password": "relocate-test"})
    assert client.session[SESSION_KEY] == "Europe/London"
    assert b"times in GMT" in client.get(reverse("leads:dashboard")).content


def test_back_to_the_employers_zone(client, cast):
    client.force_login(cast.teammate)
    client.post(reverse("leads:time_zone"), {"time_zone": "Europe/London"})
    client.post(reverse("leads:time_zone"), {"time_zone": ""})
    assert SESSION_KEY not in client.session
    assert b"times in NZ" in client.get(reverse("leads:dashboard")).content


@pytest.mark.parametrize("value", ["Mars/Olympus", "<script>", "x" * 500])
def test_unknown_zone_is_refused(client, cast, value):
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:time_zone"), {"time_zone": value})
    assert response.status_code == 400
    assert not UserPreference.objects.exists()


def test_offsite_next_is_ignored(client, cast):
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:time_zone"), {"time_zone": "Asia/Tokyo", "next": "https://evil.example/"})
    assert response["Location"] == reverse("leads:dashboard")


def test_login_required(client, db):
    response = client.get(reverse("leads:time_zone"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_choosing_french_translates_the_pages_and_survives_a_new_login(client, cast):
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:preferences"), {"time_zone": "", "language": "fr"}, follow=True)
    assert UserPreference.objects.get(user=cast.teammate).language == "fr"
    page = response.content.decode()
    assert '<html lang="fr"' in page
    assert "Vos préférences sont enregistrées." in page
    client.logout()
    client.post(reverse("login"), {"username": "teammate", "password": "relocate-test"})
    assert client.session[LANGUAGE_SESSION_KEY] == "fr"
    # The saved choice wins over the browser's.
    page = client.get(reverse("leads:lead_list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="fr"' in page


def test_browser_language_when_none_is_chosen(client, cast):
    client.force_login(cast.teammate)
    client.post(reverse("leads:preferences"), {"time_zone": "", "language": "fr"})
    client.post(reverse("leads:preferences"), {"time_zone": "", "language": ""})
    assert LANGUAGE_SESSION_KEY not in client.session
    assert '<html lang="en"' in client.get(reverse("leads:dashboard"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="fr"' in client.get(reverse("leads:dashboard"), HTTP_ACCEPT_LANGUAGE="fr-CA").content.decode()


@pytest.mark.parametrize("value", ["ar", "xx", "fr\x00", "<b>"])
def test_a_language_the_pages_do_not_speak_is_refused(client, cast, value):
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:preferences"), {"time_zone": "Europe/London", "language": value})
    assert response.status_code == 400
    assert not UserPreference.objects.exists()
