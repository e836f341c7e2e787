"""Django admin is not a second write path: every change it makes to a lead goes through the
service the recruiter UI calls, and leaves that service's trace (a stage event, a timeline row,
a dismissed flag); the lead's history is read-only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leads import models as m
from leads.models import display_name
from tests.factories import (
    ActivityFactory,
    CitizenshipFactory,
    ClosedReasonFactory,
    InquiryFactory,
    LeadFactory,
    MembershipFactory,
    NoteFactory,
    OutboundEmailFactory,
    PossibleDuplicateFactory,
    StageEventFactory,
    UserFactory,
)
from tests.test_admin import admin_url, post_data


@pytest.fixture
def lead(cast) -> m.Lead:
    return LeadFactory(employer=cast.employer, name="Ana Silva", email="ana@example.org", current_country="NZ")


@pytest.fixture
def owner_client(client: Client, cast) -> Client:
    client.force_login(cast.owner)  # an admin of cast.employer
    return client


def change(client: Client, lead: m.Lead, **fields: Any):
    """Posts the lead's change form as a browser would, with ``fields`` changed."""
    url = admin_url(m.Lead, "change", lead.pk)
    data = post_data(client.get(url))
    for name, value in fields.items():
        if value is None:
            data.pop(name, None)  # an unticked checkbox, an emptied select
        else:
            data[name] = value
    return client.post(url, data)


def summaries(lead: m.Lead) -> list[str]:
    return list(m.Activity.objects.filter(lead_id=lead.pk).order_by("at", "pk").values_list("summary", flat=True))


def errors(response) -> dict[str, list[str]]:
    return response.context["adminform"].form.errors


# --- the change form, one service per change ---------------------------------------------


def test_changing_the_owner_goes_through_lead_assign(owner_client: Client, cast, lead) -> None:
    response = change(owner_client, lead, owner=cast.teammate.pk)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == cast.teammate
    assert summaries(lead) == [f"Assigned to {display_name(cast.teammate)} by {display_name(cast.owner)}"]


def test_pausing_and_resuming_follow_ups_go_through_the_follow_up_services(owner_client: Client, lead) -> None:
    email = OutboundEmailFactory(lead=lead, kind=m.OutboundKind.STALE_CHECK,
                                 scheduled_at=timezone.now() + dt.timedelta(days=2))
    assert change(owner_client, lead, followups_paused="on").status_code == 302
    email.refresh_from_db()
    assert m.Lead.objects.get(pk=lead.pk).followups_paused
    assert email.status == m.OutboundStatus.CANCELLED
    assert change(owner_client, lead, followups_paused=None).status_code == 302
    email.refresh_from_db()
    assert not m.Lead.objects.get(pk=lead.pk).followups_paused
    assert email.status == m.OutboundStatus.SCHEDULED
    assert summaries(lead) == ["Follow-ups paused", "Follow-ups resumed (1 scheduled again)"]


def test_moving_the_stage_records_a_stage_event(owner_client: Client, cast, lead) -> None:
    assert change(owner_client, lead, stage=m.Stage.CONTACTED).status_code == 302
    lead.refresh_from_db()
    event = m.StageEvent.objects.get(lead=lead)
    assert (event.from_stage, event.to_stage, event.by) == (m.Stage.NEW, m.Stage.CONTACTED, cast.owner)
    assert lead.stage == m.Stage.CONTACTED and lead.first_contacted_at == event.at


def test_moving_backwards_needs_a_reason_which_the_stage_event_keeps(owner_client: Client, lead) -> None:
    assert change(owner_client, lead, stage=m.Stage.INTERVIEWING).status_code == 302
    response = change(owner_client, lead, stage=m.Stage.CONTACTED)
    assert "stage_reason" in errors(response)
    assert m.StageEvent.objects.filter(lead=lead).count() == 1
    assert change(owner_client, lead, stage=m.Stage.CONTACTED, stage_reason="Interview fell through").status_code == 302
    event = m.StageEvent.objects.filter(lead=lead).latest("at", "pk")
    assert (event.from_stage, event.to_stage, event.reason) == (
        m.Stage.INTERVIEWING, m.Stage.CONTACTED, "Interview fell through")


def test_closing_needs_a_closed_reason_and_reopening_clears_it(owner_client: Client, cast, lead) -> None:
    reason = ClosedReasonFactory(employer=cast.employer, label="Took another offer")
    response = change(owner_client, lead, stage=m.Stage.DECLINED)
    assert "closed_reason" in errors(response)
    assert not m.StageEvent.objects.filter(lead=lead).exists()

    assert change(owner_client, lead, stage=m.Stage.DECLINED, closed_reason=reason.pk).status_code == 302
    lead.refresh_from_db()
    event = m.StageEvent.objects.get(lead=lead)
    assert (event.to_stage, event.closed_reason, lead.closed_reason) == (m.Stage.DECLINED, reason, reason)

    assert change(owner_client, lead, stage=m.Stage.CONTACTED, stage_reason="Changed their mind").status_code == 302
    lead.refresh_from_db()
    assert (lead.stage, lead.closed_reason) == (m.Stage.CONTACTED, None)
    assert m.StageEvent.objects.filter(lead=lead, from_stage=m.Stage.DECLINED, reason="Changed their mind").exists()


def test_a_closed_reason_of_another_employer_is_refused(owner_client: Client, cast, lead) -> None:
    foreign = ClosedReasonFactory(employer=cast.other_employer)
    response = change(owner_client, lead, stage=m.Stage.DECLINED, closed_reason=foreign.pk)
    assert "closed_reason" in errors(response)
    assert not m.StageEvent.objects.filter(lead=lead).exists()


def test_editing_profile_fields_goes_through_lead_update(owner_client: Client, lead) -> None:
    response = change(owner_client, lead, current_city="  Christchurch ", phone="021 123 4567", name="Ana  Silva Souza")
    assert response.status_code == 302
    lead.refresh_from_db()
    # The one normaliser: the phone read with the lead's country, the name's spaces folded.
    assert (lead.current_city, lead.phone, lead.name) == ("Christchurch", "+64211234567", "Ana Silva Souza")
    [summary] = summaries(lead)
    assert summary.startswith("Profile edited: ")
    assert set(summary.removeprefix("Profile edited: ").split(", ")) == {"Name", "Phone", "City"}


def test_setting_the_legal_basis_goes_through_lead_update(owner_client: Client, cast) -> None:
    lead = LeadFactory(employer=cast.employer, legal_basis="")
    assert change(owner_client, lead, legal_basis=m.LegalBasis.LEGITIMATE_INTEREST).status_code == 302
    lead.refresh_from_db()
    assert lead.legal_basis == m.LegalBasis.LEGITIMATE_INTEREST
    assert summaries(lead) == ["Profile edited: Legal basis"]


def test_an_invalid_profile_value_is_a_form_error_and_nothing_changes(owner_client: Client, lead) -> None:
    before = m.Lead.objects.filter(pk=lead.pk).values().get()
    response = change(owner_client, lead, phone="not a phone", current_city="Auckland", stage=m.Stage.CONTACTED)
    assert response.status_code == 200
    assert "phone" in errors(response)
    assert m.Lead.objects.filter(pk=lead.pk).values().get() == before
    assert summaries(lead) == [] and not m.StageEvent.objects.filter(lead=lead).exists()


def test_a_service_refusal_is_a_message_not_a_500_and_changes_nothing(owner_client: Client, lead) -> None:
    # A move the form cannot foresee: the lead's last move is dated ahead of the clock.
    m.Lead.objects.filter(pk=lead.pk).update(stage_changed_at=timezone.now() + dt.timedelta(hours=1))
    url = admin_url(m.Lead, "change", lead.pk)
    response = change(owner_client, lead, stage=m.Stage.CONTACTED, current_city="Nelson")
    assert response.status_code == 302 and response.url == url
    assert any("before the lead's last move" in str(message) for message in get_messages(response.wsgi_request))
    lead.refresh_from_db()
    assert (lead.stage, lead.current_city) == (m.Stage.NEW, "")
    assert summaries(lead) == [] and not m.StageEvent.objects.exists()
    assert not LogEntry.objects.exists()


def test_identity_source_and_timestamps_are_read_only(owner_client: Client, lead) -> None:
    before = m.Lead.objects.filter(pk=lead.pk).values().get()
    response = change(owner_client, lead, email="someone.else@example.org", source=m.Source.API,
                      created_at_0="2020-01-01", created_at_1="10:00", furthest_stage=m.Stage.HIRED,
                      unsubscribed_at_0="2020-01-01", unsubscribed_at_1="10:00", utm_source="spoofed")
    assert response.status_code == 302
    assert m.Lead.objects.filter(pk=lead.pk).values().get() == before
    assert summaries(lead) == []


def test_an_erased_lead_is_view_only(owner_client: Client, lead) -> None:
    m.Lead.objects.filter(pk=lead.pk).update(erased_at=timezone.now())
    assert not owner_client.get(admin_url(m.Lead, "change", lead.pk)).context["has_change_permission"]
    assert change(owner_client, lead, current_city="Nelson").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_change_form_runs_the_durable_services_outside_any_transaction(client: Client, cast) -> None:
    # Outside a test transaction: a service with atomic(durable=True) inside the admin's own
    # transaction.atomic() would raise RuntimeError here.
    lead = LeadFactory(employer=cast.employer, current_country="NZ")
    client.force_login(cast.owner)
    response = change(client, lead, stage=m.Stage.CONTACTED, current_city="Napier", owner=cast.teammate.pk,
                      followups_paused="on")
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.stage, lead.current_city, lead.owner, lead.followups_paused) == (
        m.Stage.CONTACTED, "Napier", cast.teammate, True)
    assert m.StageEvent.objects.filter(lead=lead, to_stage=m.Stage.CONTACTED).exists()
    assigned = f"Assigned to {display_name(cast.teammate)} by {display_name(cast.owner)}"
    assert set(summaries(lead)) >= {"Profile edited: City", assigned, "Follow-ups paused"}


# --- adding, merging, dismissing, erasing -------------------------------------------------


def test_add_lead_goes_to_the_manual_entry_service(owner_client: Client) -> None:
    response = owner_client.get(admin_url(m.Lead, "add"), follow=True)
    assert response.redirect_chain == [(reverse("leads:lead_add"), 302)]
    assert response.status_code == 200
    # The changelist's button leads there too.
    assert admin_url(m.Lead, "add") in owner_client.get(admin_url(m.Lead, "changelist")).content.decode()


def test_merging_a_possible_duplicate_goes_through_lead_merge(owner_client: Client, cast, lead) -> None:
    other = LeadFactory(employer=cast.employer, name="Ana S.", email="ana.s@example.org", current_city="Lisbon")
    NoteFactory(lead=other, body="Met at the fair")
    flag = PossibleDuplicateFactory(lead=lead, other=other)
    data = {"action": "merge", "_selected_action": [flag.pk]}
    assert owner_client.post(admin_url(m.PossibleDuplicate, "changelist"), data).status_code == 302
    assert not m.Lead.objects.filter(pk=other.pk).exists()
    lead.refresh_from_db()
    assert lead.current_city == "Lisbon"
    assert lead.notes.get().body == "Met at the fair"
    assert "Merged Ana S. <ana.s@example.org> into this lead" in summaries(lead)


def test_dismissing_a_possible_duplicate_goes_through_duplicates_dismiss(owner_client: Client, cast, lead) -> None:
    other = LeadFactory(employer=cast.employer, name="Ana Sousa", email="sousa@example.org")
    flag = PossibleDuplicateFactory(lead=lead, other=other)
    data = {"action": "dismiss", "_selected_action": [flag.pk]}
    assert owner_client.post(admin_url(m.PossibleDuplicate, "changelist"), data).status_code == 302
    flag.refresh_from_db()
    assert flag.dismissed_at is not None
    by = display_name(cast.owner)
    assert summaries(lead) == [f"Not the same person as Ana Sousa <sousa@example.org> (checked by {by})"]
    assert summaries(other) == [f"Not the same person as Ana Silva <ana@example.org> (checked by {by})"]


def test_erasing_goes_through_lead_erase(owner_client: Client, lead) -> None:
    NoteFactory(lead=lead, body="Lives in Wellington")
    data = {"action": "erase_personal_data", "_selected_action": [lead.pk]}
    assert owner_client.post(admin_url(m.Lead, "changelist"), data).status_code == 302
    lead.refresh_from_db()
    assert lead.erased_at is not None and lead.email.endswith("@erased.invalid")
    assert not lead.notes.exists()
    assert summaries(lead) == ["Personal data erased (by owner in admin)"]


def test_a_recruiter_cannot_merge_dismiss_or_erase_in_admin(client: Client, cast, lead) -> None:
    recruiter = UserFactory(username="staff-recruiter", is_staff=True)
    MembershipFactory(user=recruiter, employer=cast.employer, role=m.Role.RECRUITER)
    flag = PossibleDuplicateFactory(lead=lead)
    client.force_login(recruiter)
    for model, action, pk in ((m.PossibleDuplicate, "merge", flag.pk), (m.PossibleDuplicate, "dismiss", flag.pk),
                              (m.Lead, "erase_personal_data", lead.pk)):
        client.post(admin_url(model, "changelist"), {"action": action, "_selected_action": [pk]})
    flag.refresh_from_db()
    lead.refresh_from_db()
    assert flag.dismissed_at is None and lead.erased_at is None and summaries(lead) == []


# --- the history is read-only --------------------------------------------------------------

HISTORY = [m.StageEvent, m.Inquiry, m.Activity, m.OutboundEmail, m.Note, m.ProfileChange, m.Citizenship,
           m.PossibleDuplicate]


@pytest.fixture
def history(cast, lead) -> dict[type, Any]:
    rows = [
        StageEventFactory(lead=lead), InquiryFactory(lead=lead), ActivityFactory(lead=lead),
        OutboundEmailFactory(lead=lead), NoteFactory(lead=lead), CitizenshipFactory(lead=lead),
        PossibleDuplicateFactory(lead=lead),
        m.ProfileChange.objects.create(lead=lead, field="current_city", old_value="", new_value="Porto",
                                       status=m.ProfileChange.Status.APPLIED),
    ]
    return {type(row): row for row in rows}


@pytest.mark.parametrize("who", ["owner", "superuser"])
@pytest.mark.parametrize("model", HISTORY, ids=lambda model: model._meta.model_name)
def test_history_refuses_add_change_and_delete(client: Client, admin_user, cast, lead, history, model, who) -> None:
    obj = history[model]
    client.force_login(admin_user if who == "superuser" else cast.owner)
    before = model.objects.filter(pk=obj.pk).values().get()
    count = model.objects.count()
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.post(admin_url(model, "add"), {"lead": lead.pk, "body": "x", "summary": "x"}).status_code == 403
    page = client.get(admin_url(model, "change", obj.pk))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]
    assert client.post(admin_url(model, "change", obj.pk), {"body": "x", "summary": "x"}).status_code == 403
    assert client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    action_form = client.get(admin_url(model, "changelist")).context["action_form"]
    if action_form is not None:  # only the operations the services offer, never a bulk delete
        assert "delete_selected" not in {name for name, _ in action_form.fields["action"].choices}
    assert model.objects.count() == count
    assert model.objects.filter(pk=obj.pk).values().get() == before


def test_the_activity_inline_cannot_add_rows(owner_client: Client, lead, history) -> None:
    url = admin_url(m.Lead, "change", lead.pk)
    page = owner_client.get(url)
    inline = next(i for i in page.context["inline_admin_formsets"] if i.opts.model is m.Activity)
    assert not (inline.has_add_permission or inline.has_change_permission or inline.has_delete_permission)
    data = post_data(page)
    existing = history[m.Activity]
    data.update({"activities-TOTAL_FORMS": 2, "activities-1-kind": m.ActivityKind.REPLY,
                 "activities-1-summary": "They replied (typed by hand)", "activities-1-at_0": "2026-01-05",
                 "activities-1-at_1": "10:00", "activities-0-summary": "rewritten",
                 "activities-0-DELETE": "on"})
    owner_client.post(url, data)
    assert list(m.Activity.objects.filter(lead=lead).values_list("pk", "summary")) == [
        (existing.pk, existing.summary)]


def test_no_inline_on_the_lead_page_writes(owner_client: Client, lead, history) -> None:
    page = owner_client.get(admin_url(m.Lead, "change", lead.pk))
    for inline in page.context["inline_admin_formsets"]:
        assert not (inline.has_add_permission or inline.has_change_permission or inline.has_delete_permission), (
            inline.opts.model)
