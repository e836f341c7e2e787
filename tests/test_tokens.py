"""Links in emails: one purpose each, and the ones that open personal data expire."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from leads.models import Lead, OutboundEmail, OutboundKind
from leads.services.privacy import my_data_links_send
from leads.tasks import dispatch_due_emails
from leads.tokens import Purpose, token_make, token_read
from tests.factories import LeadFactory


@pytest.fixture
def lead(cast):
    return LeadFactory(employer=cast.employer, email="zoe@example.org", name="Zoë Park")


def test_a_token_made_for_one_purpose_opens_no_other(lead):
    for made in Purpose:
        for read in Purpose:
            reading = token_read(read, token_make(made, lead.pk))
            assert (reading.lead_id == lead.pk) is (made is read), (made, read)


@pytest.mark.parametrize("token", ["", "abc", "1:forged", "x" * 5000, "\x00", "1:1xYKWK:" + "A" * 43])
def test_malformed_tokens_read_as_nobody(token):
    for purpose in Purpose:
        assert token_read(purpose, token).lead_id is None


def test_the_my_data_link_expires_and_a_fresh_one_can_be_had(client, lead, settings):
    settings.RELOCATE_MY_DATA_LINK_DAYS = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        url = f"/my-data/{token_make(Purpose.MY_DATA, lead.pk)}/"
        assert client.get(url).status_code == 200
    with time_machine.travel(start + dt.timedelta(days=29), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(start + dt.timedelta(days=31), tick=False):
        expired = client.get(url)
        assert expired.status_code == 410 and "This link has expired" in expired.content.decode()
        assert client.post(url, {"confirm": "erase"}).status_code == 410  # nothing erased by an old link
        assert Lead.objects.get(pk=lead.pk).erased_at is None
        sent = client.post(url, {"action": "resend"})
        assert sent.status_code == 200 and "Check your email" in sent.content.decode()
        dispatch_due_emails()
        message = next(m for m in mail.outbox if m.to == ["zoe@example.org"])
        fresh = message.body.split("/my-data/")[1].split("/")[0]
        assert token_read(Purpose.MY_DATA, fresh).valid
        assert client.get(f"/my-data/{fresh}/").status_code == 200


def test_the_still_interested_link_expires(client, lead, settings):
    settings.RELOCATE_STILL_INTERESTED_LINK_DAYS = 60
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        url = f"/still-interested/{token_make(Purpose.STILL_INTERESTED, lead.pk)}/"
    with time_machine.travel(start + dt.timedelta(days=61), tick=False):
        assert client.get(url).status_code == 404


def test_asking_for_a_fresh_link_reveals_nothing(client, lead):
    lead.unsubscribed_at = timezone.now()  # unsubscribed people may still reach their data
    lead.save(update_fields=["unsubscribed_at"])
    known = client.post("/my-data/", {"email": "ZOE@example.org"})
    unknown = client.post("/my-data/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert OutboundEmail.objects.filter(kind=OutboundKind.DATA_LINK, lead=lead).count() == 1
    dispatch_due_emails()
    assert [m.to for m in mail.outbox] == [["zoe@example.org"]]
    # A second request within the hour sends nothing more.
    client.post("/my-data/", {"email": "zoe@example.org"})
    assert OutboundEmail.objects.filter(kind=OutboundKind.DATA_LINK).count() == 1


def test_an_erased_lead_gets_no_link(lead):
    from leads.services.privacy import lead_erase

    lead_erase(lead=lead, how="test")
    assert my_data_links_send(email="zoe@example.org") == 0


def test_token_pages_are_rate_limited_per_address(client, lead, settings):
    settings.RELOCATE_TOKEN_PAGE_RATE = 3
    url = f"/unsubscribe/{token_make(Purpose.UNSUBSCRIBE, lead.pk)}/"
    statuses = [client.get(url).status_code for _ in range(3)] + [client.get("/my-data/abc/").status_code]
    assert statuses == [200, 200, 200, 429]
    assert client.get(url, REMOTE_ADDR="198.51.100.4").status_code == 200


def test_unsubscribe_links_keep_working_for_years(client, lead):
    with time_machine.travel(timezone.now() + dt.timedelta(days=3 * 365)):
        assert client.get(f"/unsubscribe/{token_make(Purpose.UNSUBSCRIBE, lead.pk)}/").status_code == 200
