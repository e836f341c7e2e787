"""Outbox operations in admin: retry and cancel, scoped to the operator's employers; counts per day;
template preview with a real lead."""

from __future__ import annotations

from leads.models import OutboundStatus
from tests.factories import EmailTemplateFactory, LeadFactory, OutboundEmailFactory

CHANGELIST = "/admin/leads/outboundemail/"


def test_retry_and_cancel_actions(client, cast):
    failed = OutboundEmailFactory(lead=LeadFactory(employer=cast.employer), status=OutboundStatus.FAILED, attempts=6)
    scheduled = OutboundEmailFactory(lead=LeadFactory(employer=cast.employer))
    client.force_login(cast.owner)
    response = client.post(CHANGELIST, {"action": "retry_now", "_selected_action": [failed.pk]}, follow=True)
    assert b"1 email(s) scheduled to send now" in response.content
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.status_reason) == ("scheduled", 0, "retried by owner")
    client.post(CHANGELIST, {"action": "cancel_scheduled", "_selected_action": [scheduled.pk]})
    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.status_reason) == ("cancelled", "cancelled by owner")


def test_actions_never_touch_another_employers_rows(client, cast):
    foreign = OutboundEmailFactory(lead=LeadFactory(employer=cast.other_employer))
    client.force_login(cast.owner)
    client.post(CHANGELIST, {"action": "cancel_scheduled", "_selected_action": [foreign.pk]})
    foreign.refresh_from_db()
    assert foreign.status == OutboundStatus.SCHEDULED


def test_changelist_shows_daily_counts_of_own_employer_only(client, cast):
    OutboundEmailFactory(lead=LeadFactory(employer=cast.employer), status=OutboundStatus.SENT)
    OutboundEmailFactory(lead=LeadFactory(employer=cast.other_employer), status=OutboundStatus.FAILED)
    client.force_login(cast.owner)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    counts = response.context["daily_counts"]
    assert [(c["sent"], c["failed"]) for c in counts] == [(1, 0)]


def test_template_preview_renders_with_newest_lead_escaped(client, cast):
    LeadFactory(employer=cast.employer, name="<script>alert(1)</script> Zoë")
    template = EmailTemplateFactory(employer=cast.employer, subject="Hi {{ lead.first_name }}",
                                    body_html="<p>Dear {{ lead.name }}</p>")
    client.force_login(cast.owner)
    response = client.get(f"/admin/leads/emailtemplate/{template.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Preview with a real lead" in content
    assert "<script>alert(1)</script>" not in content
    assert 'sandbox=""' in content


def test_broken_template_preview_says_why(client, cast):
    LeadFactory(employer=cast.employer)
    template = EmailTemplateFactory(employer=cast.employer, body_text="{% if %}")
    client.force_login(cast.owner)
    response = client.get(f"/admin/leads/emailtemplate/{template.pk}/change/")
    assert response.status_code == 200
    assert b"cannot be rendered" in response.content
