"""One write path: the profile declared once and every surface derived from it; repeat
inquiries that keep what they replace; a legal basis before anything is sent; and entry
points that each own their transaction."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from leads import profile
from leads.api.inquiries import _API_PROFILE_FIELDS as API_FIELDS
from leads.forms import LeadEditForm, LeadProfileForm, ManualLeadForm, PublicInquiryForm
from leads.models import (
    Activity,
    Lead,
    LegalBasis,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    ProfileChange,
    Stage,
)
from leads.services import bulk, followups, intake, leads, merge, pipeline, privacy, timeline
from leads.services.imports import COLUMNS
from leads.services.outbox import decide
from leads.views.bulk import EXPORT_COLUMNS
from tests.factories import LeadFactory, OpeningFactory, OutboundEmailFactory, PossibleDuplicateFactory

ADD = "/leads/new/"
NOW = dt.datetime(2026, 11, 9, 15, 0, tzinfo=dt.UTC)


def web_form(cast, email="ana@example.org", **fields):
    return intake.inquiry_receive(employer=cast.employer, channel="web_form", email=email, name="Ana Silva",
                                  fields=fields, privacy_accepted=True)


def acks(lead) -> int:
    return OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT).count()


# --- the declaration and what is derived from it ---------------------------------------------------


@pytest.mark.parametrize("spec", profile.FIELDS, ids=lambda spec: spec.name)
def test_every_surface_takes_each_field_from_the_declaration(spec):
    """For each declared field, each surface has it exactly when its flags say so: a new
    declaration reaches the forms, intake, editing, API, import, export, merge and erasure."""
    assert (spec.name in intake.PROFILE_FIELDS) == spec.from_inquiry
    assert (spec.name in leads.EDITABLE_FIELDS) == spec.editable
    assert (spec.name in COLUMNS) == (spec.from_inquiry and spec.in_import)
    assert (spec.name in API_FIELDS) == (spec.from_inquiry and spec.in_api)
    assert (spec.name in EXPORT_COLUMNS) == spec.exported
    assert (spec.name in merge._FILLABLE) == spec.merge_fills
    assert (spec.name in profile.ERASED_FIELDS) == spec.erased
    answered = spec.from_inquiry and spec.editable and spec.section in ("about", "role", "move")
    assert (spec.name in LeadProfileForm.base_fields) == answered
    public = spec.from_inquiry and (spec.section in ("about", "role", "move", "consent") or spec.kind == "hidden")
    assert (spec.name in PublicInquiryForm.base_fields) == public
    assert (spec.name in LeadEditForm.base_fields) == ((spec.editable and spec.section != "") or spec.name in (
        "legal_basis",))
    if spec.max_length and isinstance(getattr(LeadProfileForm.base_fields.get(spec.name), "max_length", None), int):
        # The form's limit is the declaration's (the model's, or the wider input a phone needs).
        assert LeadProfileForm.base_fields[spec.name].max_length == spec.max_length


def test_a_readiness_question_added_to_a_copy_of_the_declaration_reaches_the_forms(monkeypatch):
    """Adding a field is one declaration (plus the model field): the form builders pick it up."""
    from leads.forms.profile import APPLICANT, profile_fields

    # An existing Lead column stands in for the new question's model field.
    question = profile.Field("stage_changed_at", profile.Kind.DATE, "Interview availability", section="move")
    monkeypatch.setattr(profile, "FIELDS", (*profile.FIELDS, question))
    fields = profile_fields(APPLICANT)
    assert "stage_changed_at" in fields and fields["stage_changed_at"].label == "Interview availability"
    assert "stage_changed_at" in profile.public_fields("move")  # the public form's "Your move" fieldset


def test_one_normaliser_for_every_channel():
    cleaned = profile.clean_profile({"phone": "021 123 4567", "current_country": "nz", "profile_url": "github.com/ana",
                                     "current_city": "  Porto   Alegre ", "motivation": ""})
    assert cleaned == {"phone": "+64211234567", "current_country": "NZ", "profile_url": "https://github.com/ana",
                       "current_city": "Porto Alegre"}
    with pytest.raises(ValidationError) as exc:
        profile.clean_profile({"visa_pathway": "teleport", "years_experience": 71})
    assert set(exc.value.message_dict) == {"visa_pathway", "years_experience"}
    with pytest.raises(TypeError):
        profile.clean_profile({"email": "a@example.org"}, allowed=intake.PROFILE_FIELDS)
    # A recruiter clearing a field gets the field's empty value.
    assert profile.clean_profile({"dependants": None, "needs_sponsorship": ""}, keep_empty=True) == {
        "dependants": 0, "needs_sponsorship": None}


def test_erasure_clears_every_field_the_declaration_marks(cast):
    lead = LeadFactory(employer=cast.employer, phone="+64211234567", current_city="Wellington",
                       profile_url="https://example.org/a", role_of_interest="SRE", motivation="Family",
                       credentials_to_recognise="MSc", utm_term="t", utm_content="c", cv="cvs/a.pdf")
    privacy.lead_erase(lead=lead, how="test")
    lead.refresh_from_db()
    for name in profile.ERASED_FIELDS:
        assert getattr(lead, name) in ("", None), name
    assert lead.current_country == "US"  # kept for the statistics


# --- a repeat inquiry keeps history ------------------------------------------------------------------


def test_a_repeat_inquiry_records_old_to_new_and_the_recruiter_restores_in_one_click(client, cast):
    lead = web_form(cast, motivation="A better climate", move_timeline="12m").lead
    web_form(cast, motivation="My partner got a job there", move_timeline="now")
    lead.refresh_from_db()
    assert (lead.motivation, lead.move_timeline) == ("My partner got a job there", "now")
    changes = {c.field: c for c in ProfileChange.objects.filter(lead=lead)}
    assert set(changes) == {"motivation", "move_timeline"}
    assert (changes["motivation"].old_value, changes["motivation"].new_value) == ("A better climate",
                                                                                  "My partner got a job there")
    assert changes["motivation"].status == ProfileChange.Status.APPLIED
    summary = Activity.objects.filter(lead=lead, summary__startswith="Repeat inquiry").get()
    assert "Motivation: A better climate → My partner got a job there" in summary.details

    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "Changed by repeat inquiries" in page and "Restore A better climate" in page
    url = reverse("leads:lead_profile_change", args=[lead.pk, changes["motivation"].pk])
    assert client.post(url, {"action": "restore"}).status_code == 302
    lead.refresh_from_db()
    assert lead.motivation == "A better climate"
    assert ProfileChange.objects.get(pk=changes["motivation"].pk).status == ProfileChange.Status.RESTORED
    assert Activity.objects.filter(lead=lead, summary__startswith="Motivation restored").exists()
    # Twice is refused, and changes nothing.
    client.post(url, {"action": "restore"})
    assert Activity.objects.filter(lead=lead, summary__startswith="Motivation restored").count() == 1


def test_restoring_a_value_changed_since_is_refused(cast):
    lead = web_form(cast, move_timeline="12m").lead
    web_form(cast, move_timeline="now")
    change = ProfileChange.objects.get(lead=lead, field="move_timeline")
    leads.lead_update(lead=Lead.objects.get(pk=lead.pk), fields={"move_timeline": "3m"}, by=cast.teammate)
    with pytest.raises(ValidationError, match="changed since"):
        leads.profile_change_decide(change=change, action="restore", by=cast.teammate)
    assert Lead.objects.get(pk=lead.pk).move_timeline == "3m"


def test_an_unverified_repeat_inquiry_only_proposes_a_new_phone(client, cast):
    lead = web_form(cast, phone="+64 21 123 4567", current_country="NZ").lead
    web_form(cast, phone="+64 21 999 0000", current_country="NZ")
    lead.refresh_from_db()
    assert lead.phone == "+64211234567"  # whoever knows the email cannot change the phone
    proposal = ProfileChange.objects.get(lead=lead, field="phone")
    assert (proposal.status, proposal.new_value) == (ProfileChange.Status.PROPOSED, "+64219990000")

    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "proposes new contact details" in page and "+64219990000" in page
    client.post(reverse("leads:lead_profile_change", args=[lead.pk, proposal.pk]), {"action": "accept"})
    lead.refresh_from_db()
    assert lead.phone == "+64219990000"
    assert Activity.objects.filter(lead=lead, summary__startswith="Proposed phone accepted").exists()


def test_a_declined_proposal_keeps_the_phone_and_says_so(cast):
    lead = web_form(cast, phone="+64 21 123 4567", current_country="NZ").lead
    web_form(cast, phone="+64 21 999 0000", current_country="NZ")
    proposal = ProfileChange.objects.get(lead=lead, field="phone")
    leads.profile_change_decide(change=proposal, action="decline", by=cast.teammate)
    assert Lead.objects.get(pk=lead.pk).phone == "+64211234567"
    assert ProfileChange.objects.get(pk=proposal.pk).status == ProfileChange.Status.DECLINED
    with pytest.raises(ValidationError):
        leads.profile_change_decide(change=proposal, action="accept", by=cast.teammate)


def test_a_recruiter_entering_a_new_phone_for_a_known_person_applies_it(cast):
    lead = web_form(cast, phone="+64 21 123 4567", current_country="NZ").lead
    intake.inquiry_receive(employer=cast.employer, channel="manual", email="ana@example.org",
                           fields={"phone": "+64 21 999 0000"}, actor=cast.teammate,
                           legal_basis=LegalBasis.CONSENT_IN_PERSON)
    assert Lead.objects.get(pk=lead.pk).phone == "+64219990000"
    assert ProfileChange.objects.get(lead=lead, field="phone").status == ProfileChange.Status.APPLIED


def test_another_employers_change_is_not_found(client, cast):
    lead = web_form(cast, motivation="One").lead
    web_form(cast, motivation="Two")
    change = ProfileChange.objects.get(lead=lead)
    client.force_login(cast.outsider)
    response = client.post(reverse("leads:lead_profile_change", args=[lead.pk, change.pk]), {"action": "restore"})
    assert response.status_code == 404
    assert Lead.objects.get(pk=lead.pk).motivation == "Two"


# --- consent and legal basis -----------------------------------------------------------------------


def test_manual_entry_needs_a_legal_basis_and_sends_nothing_without_one(client, cast):
    client.force_login(cast.teammate)
    form = {"employer": cast.employer.pk, "name": "Bo Chen", "email": "bo@example.org", "how": "Job fair"}
    refused = client.post(ADD, form)
    assert refused.status_code == 400 and b"Choose the legal basis" in refused.content
    assert not Lead.objects.exists()
    client.post(ADD, {**form, "legal_basis": LegalBasis.LEGITIMATE_INTEREST})
    lead = Lead.objects.get()
    assert lead.legal_basis == LegalBasis.LEGITIMATE_INTEREST and acks(lead) == 1


def test_a_second_manual_add_within_the_day_sends_no_second_acknowledgement(client, cast):
    client.force_login(cast.teammate)
    form = {"employer": cast.employer.pk, "name": "Bo Chen", "email": "bo@example.org",
            "legal_basis": LegalBasis.CONSENT_IN_PERSON}
    with time_machine.travel(NOW, tick=False):
        client.post(ADD, form)
        client.post(ADD, form)
    lead = Lead.objects.get()
    assert lead.inquiries.count() == 2 and acks(lead) == 1
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        client.post(ADD, form)
    assert acks(lead) == 2


def test_a_lead_without_a_legal_basis_gets_nothing_queued_and_nothing_sent(cast):
    result = intake.inquiry_receive(employer=cast.employer, channel="import", email="cy@example.org", name="Cy")
    assert result.lead.legal_basis == ""
    assert not OutboundEmail.objects.filter(lead=result.lead).exists()
    assert Activity.objects.filter(lead=result.lead, summary__contains="no legal basis").exists()
    # A row queued anyway (before the basis was withdrawn, or by hand) is cancelled at send time.
    row = OutboundEmailFactory(lead=result.lead, kind=OutboundKind.FOLLOWUP)
    assert decide(row, replied=False, now=NOW).reason == "no legal basis is recorded for this lead"


def test_the_channels_record_their_legal_basis(cast):
    assert web_form(cast).lead.legal_basis == LegalBasis.CONSENT
    by_email = intake.inquiry_receive(employer=cast.employer, channel="email", email="e@example.org")
    assert by_email.lead.legal_basis == LegalBasis.LEGITIMATE_INTEREST
    with pytest.raises(ValidationError):
        intake.inquiry_receive(employer=cast.employer, channel="manual", email="x@example.org", legal_basis="vibes")
    # A weaker basis never replaces a stronger one.
    intake.inquiry_receive(employer=cast.employer, channel="manual", email="ana@example.org",
                           legal_basis=LegalBasis.LEGITIMATE_INTEREST, actor=cast.teammate)
    assert Lead.objects.get(email="ana@example.org").legal_basis == LegalBasis.CONSENT


def test_the_recruiter_records_a_legal_basis_on_the_edit_form(client, cast):
    lead = intake.inquiry_receive(employer=cast.employer, channel="import", email="cy@example.org", name="Cy").lead
    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "No legal basis recorded" in page
    form = LeadEditForm(lead=lead)
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data.update(legal_basis=LegalBasis.CONSENT_IN_PERSON)
    response = client.post(reverse("leads:lead_edit", args=[lead.pk]), data)
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).legal_basis == LegalBasis.CONSENT_IN_PERSON
    assert Activity.objects.filter(lead=lead, summary="Profile edited: Legal basis").exists()


def test_manual_form_offers_only_the_bases_a_recruiter_can_witness(cast):
    form = ManualLeadForm(employers=[cast.employer])
    assert [v for v, _ in form.fields["legal_basis"].choices] == [
        "", LegalBasis.CONSENT_IN_PERSON, LegalBasis.LEGITIMATE_INTEREST]


# --- entry points own their transaction ------------------------------------------------------------


def _entry_points(cast):
    lead = LeadFactory(employer=cast.employer)
    other = LeadFactory(employer=cast.employer)
    PossibleDuplicateFactory(employer=cast.employer, lead=other, other=lead)
    web_form(cast, motivation="One")
    web_form(cast, motivation="Two")
    change = ProfileChange.objects.get(field="motivation")
    by = cast.teammate
    return {
        "inquiry_receive": lambda: web_form(cast, email="new@example.org"),
        "lead_update": lambda: leads.lead_update(lead=lead, fields={"current_city": "Lima"}, by=by),
        "lead_assign": lambda: leads.lead_assign(lead=lead, owner=by, by=by),
        "profile_change_decide": lambda: leads.profile_change_decide(change=change, action="restore", by=by),
        "lead_move_stage": lambda: pipeline.lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, by=by),
        "followups_pause": lambda: followups.followups_pause(lead=lead, by=by),
        "followups_resume": lambda: followups.followups_resume(lead=lead, by=by),
        "lead_unsubscribe": lambda: followups.lead_unsubscribe(lead=lead),
        "lead_confirm_interest": lambda: followups.lead_confirm_interest(lead=lead),
        "lead_merge": lambda: merge.lead_merge(lead=lead, other=other, by=by),
        "duplicates_dismiss": lambda: merge.duplicates_dismiss(lead=lead, other=other, by=by),
        "lead_erase": lambda: privacy.lead_erase(lead=lead, how="test"),
        "my_data_links_send": lambda: privacy.my_data_links_send(email=lead.email),
        "activity_log": lambda: timeline.activity_log(lead=lead, kind="call", actor=by, summary="Called"),
        "note_add": lambda: timeline.note_add(lead=lead, author=by, body="Hello"),
        "leads_bulk_assign": lambda: bulk.leads_bulk_assign(leads=Lead.objects.filter(pk=lead.pk), owner=by, by=by),
    }


ENTRY_POINTS = ["inquiry_receive", "lead_update", "lead_assign", "profile_change_decide", "lead_move_stage",
                "followups_pause", "followups_resume", "lead_unsubscribe", "lead_confirm_interest", "lead_merge",
                "duplicates_dismiss", "lead_erase", "my_data_links_send", "activity_log", "note_add",
                "leads_bulk_assign"]


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_each_entry_point_refuses_to_run_inside_an_outer_transaction(cast, name):
    call = _entry_points(cast)[name]
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        call()


def test_the_entry_points_listed_are_every_one_there_is(cast):
    assert sorted(_entry_points(cast)) == sorted(ENTRY_POINTS)


def test_a_logged_call_moves_a_new_lead_inside_its_own_transaction(cast):
    lead = LeadFactory(employer=cast.employer)
    timeline.activity_log(lead=lead, kind="call", actor=cast.teammate, summary="Called")
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED and lead.first_contacted_at is not None


def test_the_opening_a_repeat_inquiry_changed_is_restorable(cast):
    first, second = OpeningFactory(employer=cast.employer), OpeningFactory(employer=cast.employer)
    lead = web_form(cast, opening=first.pk).lead
    web_form(cast, opening=second.pk)
    change = ProfileChange.objects.get(lead=lead, field="opening")
    assert (change.old_value, change.new_value) == (first.pk, second.pk)
    leads.profile_change_decide(change=change, action="restore", by=cast.teammate)
    assert Lead.objects.get(pk=lead.pk).opening_id == first.pk


def test_a_cancelled_acknowledgement_does_not_hold_back_the_next(cast):
    lead = web_form(cast).lead
    OutboundEmail.objects.filter(lead=lead).update(status=OutboundStatus.CANCELLED)
    web_form(cast)
    assert acks(lead) == 2


def test_the_my_data_page_lists_every_personal_field_the_declaration_marks(client, cast):
    from leads.services.privacy import my_data_token

    lead = LeadFactory(employer=cast.employer, phone="+64211234567", visa_pathway="working_holiday", dependants=2,
                       credentials_to_recognise="Nursing degree", needs_sponsorship=True)
    page = client.get(f"/my-data/{my_data_token(lead.pk)}/").content.decode()
    for question in ("Phone", "Visa pathway of interest", "Number of dependants",
                     "Qualifications that need recognition", "Do you need visa sponsorship?"):
        assert question in page
    assert "+64211234567" in page and "Nursing degree" in page
