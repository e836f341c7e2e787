"""The unsubscribe link: no login, confirm page, one-click POST, tampered links refused."""

from __future__ import annotations

import pytest

from leads.emails import unsubscribe_token
from leads.models import OutboundEmail, OutboundStatus
from leads.services.intake import inquiry_receive


@pytest.fixture
def lead(cast):
    return inquiry_receive(employer=cast.employer, channel="web_form", email="ana@example.org", name="Ana",
                          privacy_accepted=True).lead


def url(lead_id) -> str:
    return f"/unsubscribe/{unsubscribe_token(lead_id)}/"


def test_get_confirms_and_changes_nothing(client, lead):
    response = client.get(url(lead.pk))
    assert response.status_code == 200
    assert b"Stop all emails from Kiwi Ledger" in response.content
    lead.refresh_from_db()
    assert lead.unsubscribed_at is None


@pytest.mark.parametrize("body", [{}, {"List-Unsubscribe": "One-Click"}])
def test_post_unsubscribes_and_cancels_everything_scheduled(client, lead, body):
    response = client.post(url(lead.pk), body)
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    lead.refresh_from_db()
    assert lead.unsubscribed_at is not None and not lead.marketing_opt_in
    rows = OutboundEmail.objects.filter(lead=lead)
    assert rows and all(r.status == OutboundStatus.CANCELLED for r in rows)
    assert lead.activities.filter(summary__startswith="Unsubscribed").count() == 1
    # Twice is harmless.
    assert client.post(url(lead.pk), body).status_code == 200
    assert lead.activities.filter(summary__startswith="Unsubscribed").count() == 1
    assert b"already unsubscribed" in client.get(url(lead.pk)).content


@pytest.mark.parametrize("token", ["1:forged", "abc", "999999:xyz", "%00"])
def test_tampered_or_unknown_link_is_404(client, lead, token):
    assert client.get(f"/unsubscribe/{token}/").status_code == 404
    assert client.post(f"/unsubscribe/{token}/").status_code == 404
    lead.refresh_from_db()
    assert lead.unsubscribed_at is None


def test_valid_signature_for_missing_lead_is_404(client, db):
    assert client.post(url(424242)).status_code == 404


def test_other_methods_refused(client, lead):
    assert client.put(url(lead.pk)).status_code == 405
