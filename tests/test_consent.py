"""Consent per purpose (leads/services/consent.py): the wording stored is the wording shown,
news is a consent of its own that only a withdrawal ends, and policy versions are each
employer's own."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from leads.forms import started_token
from leads.models import (
    Consent,
    ConsentPurpose,
    Lead,
    LegalBasis,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    PrivacyPolicy,
    Source,
)
from leads.services import outbox
from leads.services.api_keys import api_key_create
from leads.services.consent import (
    DEFAULT_INQUIRY_WORDING,
    DEFAULT_NEWS_WORDING,
    consent_holds,
    consent_withdraw,
    policy_check,
    privacy_policy_save,
)
from leads.services.followups import lead_unsubscribe
from leads.services.intake import inquiry_receive
from leads.services.submissions import submissions_drain
from leads.views import public
from tests.factories import LeadFactory, OutboundEmailFactory

V1_INQUIRY = "Version one: store my details to answer me."
V1_NEWS = "Version one: tell me about other jobs."
V2_INQUIRY = "Version two: I agree you keep my details for this inquiry."
V2_NEWS = "Version two: email me news about openings."


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    public.form_page_html.cache_clear()
    yield
    cache.clear()


def publish(employer, version: str, inquiry: str, news: str, *, at=None, url: str = "") -> PrivacyPolicy:
    return privacy_policy_save(policy=PrivacyPolicy(
        employer=employer, version=version, inquiry_wording=inquiry, news_wording=news,
        url=url or f"https://example.com/privacy/{version}",
        effective_at=at or timezone.now() - dt.timedelta(minutes=1),
    ))


def apply_url(employer) -> str:
    return reverse("leads:public_apply", args=[employer.slug])


def send_form(client, employer, email: str, *, news: bool = True) -> None:
    data = {"name": "Ana Silva", "email": email, "current_country": "US", "privacy_accepted": "on",
            "started": started_token(), "website": ""}
    if news:
        data["marketing_opt_in"] = "on"
    response = client.post(apply_url(employer), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def consents(lead: Lead, purpose: str) -> list[Consent]:
    return list(Consent.objects.filter(lead=lead, purpose=purpose).order_by("at", "id"))


# --- the wording stored is the wording shown ----------------------------------------------


def test_each_lead_keeps_the_exact_wording_of_the_version_it_was_shown(client, cast):
    v1 = publish(cast.employer, "2026-01", V1_INQUIRY, V1_NEWS)
    page = client.get(apply_url(cast.employer)).content.decode()
    assert V1_INQUIRY in page and V1_NEWS in page and "https://example.com/privacy/2026-01" in page
    send_form(client, cast.employer, "first@example.org")

    v2 = publish(cast.employer, "2026-06", V2_INQUIRY, V2_NEWS)
    page = client.get(apply_url(cast.employer)).content.decode()
    assert V2_INQUIRY in page and V2_NEWS in page and V1_INQUIRY not in page
    send_form(client, cast.employer, "second@example.org")
    submissions_drain(every_pending=True)

    first, second = (Lead.objects.get(email=e) for e in ("first@example.org", "second@example.org"))
    for lead, policy, inquiry, news in ((first, v1, V1_INQUIRY, V1_NEWS), (second, v2, V2_INQUIRY, V2_NEWS)):
        [given] = consents(lead, ConsentPurpose.INQUIRY)
        [agreed] = consents(lead, ConsentPurpose.NEWS)
        assert (given.policy_id, given.wording, given.granted, given.channel) == (policy.pk, inquiry, True, "web_form")
        assert (agreed.policy_id, agreed.wording, agreed.granted) == (policy.pk, news, True)
        assert given.remote_addr == "127.0.0.1" and given.employer_id == cast.employer.pk
        assert lead.marketing_opt_in and consent_holds(lead, ConsentPurpose.NEWS)


def test_a_submission_processed_after_a_new_version_keeps_the_version_it_showed(client, cast):
    v1 = publish(cast.employer, "v1", V1_INQUIRY, V1_NEWS)
    client.get(apply_url(cast.employer))
    send_form(client, cast.employer, "slow@example.org")  # accepted; the worker has not run yet
    publish(cast.employer, "v2", V2_INQUIRY, V2_NEWS)
    submissions_drain(every_pending=True)
    [given] = consents(Lead.objects.get(email="slow@example.org"), ConsentPurpose.INQUIRY)
    assert (given.policy_id, given.wording) == (v1.pk, V1_INQUIRY)


def test_a_version_dated_ahead_shows_once_its_time_has_come(client, cast):
    now = timezone.now()
    publish(cast.employer, "v1", V1_INQUIRY, V1_NEWS, at=now - dt.timedelta(days=1))
    v2 = publish(cast.employer, "v2", V2_INQUIRY, V2_NEWS, at=now + dt.timedelta(hours=2))
    assert V1_INQUIRY in client.get(apply_url(cast.employer)).content.decode()
    # Nobody saves anything in between: the cached snapshot knows it goes stale then.
    with time_machine.travel(now + dt.timedelta(hours=2, seconds=1)):
        page = client.get(apply_url(cast.employer)).content.decode()
        assert V2_INQUIRY in page and V1_INQUIRY not in page
        send_form(client, cast.employer, "later@example.org")
        submissions_drain(every_pending=True)
    [given] = consents(Lead.objects.get(email="later@example.org"), ConsentPurpose.INQUIRY)
    assert given.policy_id == v2.pk


def test_without_a_policy_the_form_shows_and_stores_the_default_wording(client, cast):
    cast.employer.privacy_policy_url = "https://kiwi.example/privacy"
    cast.employer.save()
    page = client.get(apply_url(cast.employer)).content.decode()
    assert DEFAULT_INQUIRY_WORDING in page and "https://kiwi.example/privacy" in page
    send_form(client, cast.employer, "plain@example.org")
    submissions_drain(every_pending=True)
    lead = Lead.objects.get(email="plain@example.org")
    [given] = consents(lead, ConsentPurpose.INQUIRY)
    [agreed] = consents(lead, ConsentPurpose.NEWS)
    assert (given.policy_id, given.wording, agreed.wording) == (None, DEFAULT_INQUIRY_WORDING, DEFAULT_NEWS_WORDING)


def test_a_policy_without_its_own_url_links_the_employers(client, cast):
    cast.employer.privacy_policy_url = "https://kiwi.example/privacy"
    cast.employer.save()
    privacy_policy_save(policy=PrivacyPolicy(employer=cast.employer, version="v1", inquiry_wording=V1_INQUIRY,
                                             news_wording=V1_NEWS, effective_at=timezone.now()))
    page = client.get(apply_url(cast.employer)).content.decode()
    assert V1_INQUIRY in page and "https://kiwi.example/privacy" in page


# --- news: a consent of its own -----------------------------------------------------------


def test_a_lead_without_news_consent_is_not_opted_in(client, cast):
    publish(cast.employer, "v1", V1_INQUIRY, V1_NEWS)
    send_form(client, cast.employer, "quiet@example.org", news=False)
    submissions_drain(every_pending=True)
    lead = Lead.objects.get(email="quiet@example.org")
    assert not lead.marketing_opt_in and not consent_holds(lead, ConsentPurpose.NEWS)
    assert consents(lead, ConsentPurpose.NEWS) == []
    assert consent_holds(lead, ConsentPurpose.INQUIRY)


def test_a_repeat_inquiry_that_leaves_news_unticked_withdraws_nothing(cast):
    first = inquiry_receive(employer=cast.employer, channel=Source.WEB_FORM, email="twice@example.org",
                            privacy_accepted=True, fields={"marketing_opt_in": True})
    inquiry_receive(employer=cast.employer, channel=Source.WEB_FORM, email="twice@example.org",
                    privacy_accepted=True, fields={"marketing_opt_in": False})
    lead = Lead.objects.get(pk=first.lead.pk)
    assert lead.marketing_opt_in and consent_holds(lead, ConsentPurpose.NEWS)
    assert len(consents(lead, ConsentPurpose.NEWS)) == 1
    assert len(consents(lead, ConsentPurpose.INQUIRY)) == 2  # one per acceptance


def test_unsubscribing_withdraws_news_and_stops_everything_at_once(cast):
    lead = inquiry_receive(employer=cast.employer, channel=Source.WEB_FORM, email="bye@example.org",
                           privacy_accepted=True, fields={"marketing_opt_in": True}).lead
    queued = OutboundEmailFactory(lead=lead, kind=OutboundKind.FOLLOWUP, status=OutboundStatus.SCHEDULED)
    assert lead_unsubscribe(lead=lead, how="unsubscribe link")
    lead.refresh_from_db()
    [_, withdrawn] = consents(lead, ConsentPurpose.NEWS)
    assert (withdrawn.granted, withdrawn.channel) == (False, "unsubscribe link")
    assert not lead.marketing_opt_in and not consent_holds(lead, ConsentPurpose.NEWS)
    assert OutboundEmail.objects.get(pk=queued.pk).status == OutboundStatus.CANCELLED
    # Twice is once.
    assert not lead_unsubscribe(lead=lead)
    assert len(consents(lead, ConsentPurpose.NEWS)) == 2


def test_a_news_email_goes_only_while_the_news_consent_holds(cast, monkeypatch):
    # There is no news email yet: pretend the follow-up is one, to see the rule at work.
    monkeypatch.setattr(outbox, "NEWS_KINDS", frozenset({OutboundKind.FOLLOWUP}))
    lead = inquiry_receive(employer=cast.employer, channel=Source.WEB_FORM, email="news@example.org",
                           privacy_accepted=True, fields={"marketing_opt_in": True}).lead
    assert outbox.lead_send_stop(lead, kind=OutboundKind.FOLLOWUP) == ""
    consent_withdraw(lead=lead, purpose=ConsentPurpose.NEWS, channel="manual", wording="asked on the phone",
                     recorded_by=cast.teammate)
    assert outbox.lead_send_stop(Lead.objects.get(pk=lead.pk), kind=OutboundKind.FOLLOWUP) != ""
    assert outbox.lead_send_stop(lead, kind=OutboundKind.ACKNOWLEDGEMENT) == ""
    never = LeadFactory(employer=cast.employer)
    assert outbox.lead_send_stop(never, kind=OutboundKind.FOLLOWUP) == "the lead has not agreed to news about openings"


def test_an_erased_lead_holds_no_consent(cast):
    lead = inquiry_receive(employer=cast.employer, channel=Source.WEB_FORM, email="gone@example.org",
                           privacy_accepted=True).lead
    lead.erased_at = timezone.now()
    assert not consent_holds(lead, ConsentPurpose.INQUIRY)


# --- the API and manual entry -------------------------------------------------------------


def test_the_api_records_who_said_the_person_accepted(client, cast):
    policy = publish(cast.employer, "v1", V1_INQUIRY, V1_NEWS)
    _, raw = api_key_create(employer=cast.employer, name="careers site")
    response = client.post("/api/v1/inquiries", data=json.dumps(
        {"email": "api@example.org", "privacy_accepted": True, "marketing_opt_in": True}),
        content_type="application/json", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(email="api@example.org")
    [given] = consents(lead, ConsentPurpose.INQUIRY)
    [agreed] = consents(lead, ConsentPurpose.NEWS)
    assert (given.channel, given.wording, given.policy_id) == ("api", "accepted through the API by careers site",
                                                               policy.pk)
    assert agreed.wording == "news about openings accepted through the API by careers site"
    assert lead.legal_basis == LegalBasis.CONSENT and lead.marketing_opt_in


def test_the_api_without_acceptance_records_no_consent(client, cast):
    _, raw = api_key_create(employer=cast.employer, name="careers site")
    response = client.post("/api/v1/inquiries", data=json.dumps({"email": "nocon@example.org"}),
                           content_type="application/json", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201
    assert not Consent.objects.filter(lead__email="nocon@example.org").exists()


def test_consent_given_in_person_is_recorded_by_the_recruiter(client, cast):
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:lead_add"), {
        "employer": str(cast.employer.pk), "name": "Met At Fair", "email": "fair@example.org",
        "legal_basis": LegalBasis.CONSENT_IN_PERSON, "current_country": "US",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    lead = Lead.objects.get(email="fair@example.org")
    [given] = consents(lead, ConsentPurpose.INQUIRY)
    assert (given.channel, given.recorded_by, given.granted) == ("manual", cast.teammate, True)
    assert "in person" in given.wording
    assert not consent_holds(lead, ConsentPurpose.NEWS)


def test_legitimate_interest_records_no_consent(cast):
    lead = inquiry_receive(employer=cast.employer, channel=Source.MANUAL, email="li@example.org",
                           legal_basis=LegalBasis.LEGITIMATE_INTEREST, actor=cast.teammate).lead
    assert not Consent.objects.filter(lead=lead).exists()


# --- policy versions in admin: each employer's own ----------------------------------------


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:leads_{model._meta.model_name}_{view}", args=args)


def test_an_employer_admin_sees_and_edits_only_their_own_policies(client, cast):
    mine = publish(cast.employer, "kiwi-v1", V1_INQUIRY, V1_NEWS)
    theirs = publish(cast.other_employer, "maple-v1", V2_INQUIRY, V2_NEWS)
    lead = inquiry_receive(employer=cast.employer, channel=Source.WEB_FORM, email="k@example.org",
                           privacy_accepted=True).lead
    client.force_login(cast.outsider)
    listed = client.get(admin_url(PrivacyPolicy, "changelist"))
    assert listed.status_code == 200
    assert set(listed.context["cl"].queryset.values_list("pk", flat=True)) == {theirs.pk}
    for view in ("change", "delete", "history"):
        assert client.get(admin_url(PrivacyPolicy, view, mine.pk)).status_code == 404
    assert client.post(admin_url(PrivacyPolicy, "change", mine.pk), {"version": "hijacked"}).status_code == 404
    # Nor can they publish one for the other employer.
    response = client.post(admin_url(PrivacyPolicy, "add"), {
        "employer": str(cast.employer.pk), "version": "planted", "inquiry_wording": "x", "news_wording": "y",
        "effective_at": "2026-01-01T00:00",
    })
    assert response.status_code == 200 and "employer" in response.context["adminform"].form.errors
    assert not PrivacyPolicy.objects.filter(version="planted").exists()
    consents_listed = client.get(admin_url(Consent, "changelist"))
    assert not consents_listed.context["cl"].queryset.filter(lead=lead).exists()
    assert client.get(admin_url(Consent, "change", Consent.objects.get(lead=lead).pk)).status_code == 404
    mine.refresh_from_db()
    assert mine.version == "kiwi-v1"


def test_an_employer_admin_publishes_a_version_and_the_form_shows_it(client, cast):
    client.get(apply_url(cast.employer))  # the snapshot is cached
    client.force_login(cast.owner)
    response = client.post(admin_url(PrivacyPolicy, "add"), {
        "employer": str(cast.employer.pk), "version": "2026-11", "url": "https://kiwi.example/p",
        "text": "", "inquiry_wording": V1_INQUIRY, "news_wording": V1_NEWS,
        "effective_at": "2020-01-01T00:00",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    client.logout()
    page = client.get(apply_url(cast.employer)).content.decode()
    assert V1_INQUIRY in page and "https://kiwi.example/p" in page


def test_a_version_someone_consented_to_is_read_only(client, cast):
    policy = publish(cast.employer, "v1", V1_INQUIRY, V1_NEWS)
    client.force_login(cast.owner)
    # Nobody has agreed to it yet: a typo can still be put right.
    assert "inquiry_wording" in client.get(admin_url(PrivacyPolicy, "change", policy.pk)).context[
        "adminform"].form.fields
    inquiry_receive(employer=cast.employer, channel=Source.API, email="x@example.org", privacy_accepted=True)
    form = client.get(admin_url(PrivacyPolicy, "change", policy.pk)).context["adminform"].form
    assert "inquiry_wording" not in form.fields and "version" not in form.fields
    # The employer's admin may still see it; the consent rows are read-only for everybody.
    assert client.get(admin_url(Consent, "add")).status_code == 403


def test_the_consent_record_is_read_only(client, cast, admin_user):
    inquiry_receive(employer=cast.employer, channel=Source.WEB_FORM, email="ro@example.org", privacy_accepted=True)
    row = Consent.objects.get()
    client.force_login(admin_user)
    assert client.get(admin_url(Consent, "add")).status_code == 403
    assert client.post(admin_url(Consent, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert client.post(admin_url(Consent, "change", row.pk), {"wording": "changed"}).status_code == 403
    assert Consent.objects.get().wording == DEFAULT_INQUIRY_WORDING


# --- bad input ----------------------------------------------------------------------------


def test_a_version_without_a_name_or_wording_is_refused(client, cast):
    for blank in ("version", "inquiry_wording", "news_wording"):
        values = {"version": "v9", "inquiry_wording": V1_INQUIRY, "news_wording": V1_NEWS, blank: "   "}
        with pytest.raises(ValidationError) as refused:
            privacy_policy_save(policy=PrivacyPolicy(employer=cast.employer, **values))
        assert blank in refused.value.message_dict
    client.force_login(cast.owner)
    response = client.post(admin_url(PrivacyPolicy, "add"), {
        "employer": str(cast.employer.pk), "version": "  ", "inquiry_wording": V1_INQUIRY,
        "news_wording": V1_NEWS, "effective_at": "2026-01-01T00:00",
    })
    assert response.status_code == 200 and "version" in response.context["adminform"].form.errors
    # A line break in the version, and a second version of the same name, are refused too.
    response = client.post(admin_url(PrivacyPolicy, "add"), {
        "employer": str(cast.employer.pk), "version": "v1\r\nBcc: x", "inquiry_wording": V1_INQUIRY,
        "news_wording": V1_NEWS, "effective_at": "2026-01-01T00:00",
    })
    assert response.status_code == 200
    publish(cast.employer, "v1", V1_INQUIRY, V1_NEWS)
    response = client.post(admin_url(PrivacyPolicy, "add"), {
        "employer": str(cast.employer.pk), "version": "v1", "inquiry_wording": V2_INQUIRY,
        "news_wording": V2_NEWS, "effective_at": "2026-01-01T00:00",
    })
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert PrivacyPolicy.objects.count() == 1
    with pytest.raises(ValidationError):
        policy_check(PrivacyPolicy(employer=cast.employer, version="", inquiry_wording="a", news_wording="b"))


def test_an_unknown_purpose_is_refused(cast):
    from leads.services.consent import consent_record

    lead = LeadFactory(employer=cast.employer)
    with pytest.raises(ValidationError):
        consent_record(lead=lead, purpose="sms", granted=True, wording="x", channel="api")
