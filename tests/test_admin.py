"""Django admin: every model answers, and non-superuser staff only ever reach their employer's rows."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leads import models as m
from leads.access import tenant_path
from leads.admin import is_tenant_model
from leads.services.api_keys import api_key_create
from tests.factories import (
    ActivityFactory,
    CitizenshipFactory,
    ClosedReasonFactory,
    EmailTemplateFactory,
    EmployerFactory,
    InquiryFactory,
    LeadFactory,
    MarkedEventFactory,
    MembershipFactory,
    NoteFactory,
    OpeningFactory,
    OutboundEmailFactory,
    PossibleDuplicateFactory,
    SequenceFactory,
    SequenceStepFactory,
    SkillFactory,
    StageEventFactory,
    SubmissionFactory,
    UserFactory,
    WorkerHeartbeatFactory,
)

REGISTERED: list[type[models.Model]] = list(admin.site._registry)
TENANT_MODELS: list[type[models.Model]] = [model for model in REGISTERED if is_tenant_model(model)]


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def populate(employer: m.Employer, tag: str) -> dict[type[models.Model], models.Model]:
    """One row of every tenant model for the employer, each carrying the tag in its text."""
    opening = OpeningFactory(employer=employer, title=f"{tag} opening")
    lead = LeadFactory(employer=employer, name=f"{tag} Person", email=f"{tag}@example.org", opening=opening)
    template = EmailTemplateFactory(employer=employer, name=f"{tag} template")
    sequence = SequenceFactory(employer=employer, name=f"{tag} sequence")
    hook = m.WebhookEndpoint.objects.create(employer=employer, url=f"https://{tag}.example.org/hook",
                                            description=f"{tag} hook", events=["lead.created"], secret="whsec_x")
    rows: list[models.Model] = [
        employer, opening, lead, template, sequence,
        ClosedReasonFactory(employer=employer, label=f"{tag} reason"),
        SkillFactory(employer=employer, name=f"{tag} skill"),
        CitizenshipFactory(lead=lead),
        PossibleDuplicateFactory(lead=lead, other=LeadFactory(employer=employer, name=f"{tag} Twin")),
        InquiryFactory(lead=lead, subject=f"{tag} inquiry"),
        StageEventFactory(lead=lead),
        NoteFactory(lead=lead, body=f"{tag} note"),
        ActivityFactory(lead=lead, summary=f"{tag} call"),
        SequenceStepFactory(sequence=sequence, template=template),
        OutboundEmailFactory(lead=lead),
        MarkedEventFactory(employer=employer, label=f"{tag} event"),
        SubmissionFactory(employer=employer, data={"email": f"{tag}@example.org", "name": f"{tag} Person"}),
        employer.memberships.first(),
        api_key_create(employer=employer, name=f"{tag} key")[0],
        m.ProfileChange.objects.create(lead=lead, field="current_city", old_value="", new_value=f"{tag} city",
                                       status=m.ProfileChange.Status.APPLIED),
        m.Task.objects.create(employer=employer, lead=lead, title=f"{tag} task", due_at=timezone.now()),
        m.PrivacyPolicy.objects.create(employer=employer, version=f"{tag} v1"),
        m.Consent.objects.create(employer=employer, lead=lead, purpose="inquiry", granted=True,
                                 wording=f"{tag} wording", channel="web_form"),
        m.AuditEvent.objects.create(employer=employer, lead_id=lead.pk, action="viewed", detail=f"{tag} page"),
        hook, m.WebhookDelivery.objects.create(employer=employer, endpoint=hook, event_type="lead.created", body="{}"),
    ]
    return {type(row): row for row in rows}


@pytest.fixture
def world(cast) -> dict[str, dict[type[models.Model], models.Model]]:
    WorkerHeartbeatFactory()
    return {"mine": populate(cast.employer, "kiwitag"), "theirs": populate(cast.other_employer, "mapletag")}


def tenants_listed(response: HttpResponse, model: type[models.Model]) -> set[int]:
    return set(response.context["cl"].queryset.values_list(tenant_path(model), flat=True))


def post_data(response: HttpResponse) -> dict[str, Any]:
    """What a browser would post back from an admin form page, inlines included."""
    data: dict[str, Any] = {}
    page_forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()})
        page_forms.extend(formset.forms)
    for form in page_forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or value is False or isinstance(field, forms.FileField):
                continue
            data[form.add_prefix(name)] = value
    return data


# --- every changelist ---------------------------------------------------------------------


def test_every_changelist_answers_a_superuser_with_both_employers(client: Client, admin_user, cast, world) -> None:
    client.force_login(admin_user)
    for model in REGISTERED:
        response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model
        if model in TENANT_MODELS:
            listed = tenants_listed(response, model)
            if model is m.AuditEvent:
                # The superuser's own login (they belong to no employer) is theirs alone to see.
                listed.discard(None)
            assert listed == {cast.employer.pk, cast.other_employer.pk}, model


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda model: model._meta.model_name)
def test_tenant_changelists_list_only_the_users_employer(client: Client, cast, world, model) -> None:
    for user, employer, foreign_tag in [(cast.owner, cast.employer, "mapletag"),
                                        (cast.outsider, cast.other_employer, "kiwitag")]:
        client.force_login(user)
        response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 200
        assert tenants_listed(response, model) == {employer.pk}
        # Rows, filter sidebars and the date hierarchy alike.
        assert foreign_tag not in response.content.decode()


def test_other_changelists_are_refused_to_employer_staff_not_broken(client: Client, cast, world) -> None:
    client.force_login(cast.owner)
    for model in REGISTERED:
        if model not in TENANT_MODELS:
            assert client.get(admin_url(model, "changelist")).status_code == 403, model


def test_the_index_lists_the_tenant_models_only(client: Client, cast) -> None:
    client.force_login(cast.owner)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    listed = {entry["object_name"] for app in response.context["app_list"] for entry in app["models"]}
    assert listed == {model._meta.object_name for model in TENANT_MODELS}


def test_the_lead_changelist_pins_its_queries(client: Client, admin_user, cast,
                                              django_assert_num_queries) -> None:
    openings = [OpeningFactory(employer=cast.employer), OpeningFactory(employer=cast.other_employer)]
    owners = [cast.owner, cast.outsider]

    def add_leads(count: int) -> None:
        for i in range(count):
            LeadFactory(employer=openings[i % 2].employer, opening=openings[i % 2], owner=owners[i % 2])

    client.force_login(admin_user)
    url = admin_url(m.Lead, "changelist")
    add_leads(5)
    with django_assert_num_queries(9):
        assert len(client.get(url).context["cl"].result_list) == 5
    add_leads(20)
    with django_assert_num_queries(9):
        assert len(client.get(url).context["cl"].result_list) == 25


# --- another employer's objects -----------------------------------------------------------

FOREIGN_MODELS = [m.Lead, m.Note, m.Opening, m.Inquiry, m.StageEvent, m.OutboundEmail, m.Employer,
                  m.SequenceStep, m.PossibleDuplicate]


@pytest.mark.parametrize("model", FOREIGN_MODELS, ids=lambda model: model._meta.model_name)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_outsider_gets_404_for_another_employers_objects(client: Client, cast, world, model, view) -> None:
    obj = world["mine"][model]
    client.force_login(cast.outsider)
    assert client.get(admin_url(model, view, obj.pk)).status_code == 404
    assert client.post(admin_url(model, view, obj.pk), {"post": "yes"}).status_code == 404
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("model", FOREIGN_MODELS, ids=lambda model: model._meta.model_name)
def test_owner_and_superuser_open_the_change_page(client: Client, admin_user, cast, world, model) -> None:
    obj = world["mine"][model]
    for user in (cast.owner, admin_user):
        client.force_login(user)
        assert client.get(admin_url(model, "change", obj.pk)).status_code == 200


def test_a_missing_object_answers_404_too(client: Client, cast) -> None:
    client.force_login(cast.owner)
    assert client.get(admin_url(m.Lead, "change", 999_999)).status_code == 404
    assert client.get(admin_url(m.Lead, "change", "not-a-number")).status_code == 404


# --- writing for another employer ---------------------------------------------------------


def test_add_lead_opens_the_recruiters_manual_entry(client: Client, cast) -> None:
    client.force_login(cast.outsider)
    response = client.get(admin_url(m.Lead, "add"))
    assert response.status_code == 302 and response.url == reverse("leads:lead_add")
    assert client.post(admin_url(m.Lead, "add"), {"name": "Sam", "email": "sam@example.org",
                                                  "employer": cast.other_employer.pk}).status_code == 302
    assert not m.Lead.objects.exists()


def test_recruiters_have_no_add_lead_in_admin(client: Client, cast) -> None:
    recruiter = UserFactory(username="staff-recruiter", is_staff=True)
    MembershipFactory(user=recruiter, employer=cast.employer, role=m.Role.RECRUITER)
    client.force_login(recruiter)
    assert client.get(admin_url(m.Lead, "add")).status_code == 403


def lead_change_data(client: Client, lead: m.Lead, **fields: Any) -> dict[str, Any]:
    data = post_data(client.get(admin_url(m.Lead, "change", lead.pk)))
    data.update(fields)
    return data


def test_outsider_cannot_point_a_lead_at_another_employers_opening_or_people(client: Client, cast) -> None:
    opening = OpeningFactory(employer=cast.employer)
    lead = LeadFactory(employer=cast.other_employer)
    client.force_login(cast.outsider)
    data = lead_change_data(client, lead, opening=opening.pk, owner=cast.owner.pk)
    response = client.post(admin_url(m.Lead, "change", lead.pk), data)
    assert set(response.context["adminform"].form.errors) == {"opening", "owner"}
    lead.refresh_from_db()
    assert (lead.opening, lead.owner) == (None, None)
    assert not m.Activity.objects.filter(lead=lead).exists()


def test_even_a_superuser_cannot_tie_two_employers_together(client: Client, admin_user, cast) -> None:
    opening = OpeningFactory(employer=cast.other_employer)
    lead = LeadFactory(employer=cast.employer)
    client.force_login(admin_user)
    data = lead_change_data(client, lead, opening=opening.pk, owner=cast.outsider.pk)
    response = client.post(admin_url(m.Lead, "change", lead.pk), data)
    assert set(response.context["adminform"].form.errors) == {"opening", "owner"}
    lead.refresh_from_db()
    assert (lead.opening, lead.owner) == (None, None)


def test_outsider_cannot_add_an_opening_for_another_employer(client: Client, cast) -> None:
    client.force_login(cast.outsider)
    data = {"employer": cast.employer.pk, "title": "Backdoor engineer", "status": "open"}
    response = client.post(admin_url(m.Opening, "add"), data)
    assert response.status_code == 200
    assert "employer" in response.context["adminform"].form.errors
    assert not m.Opening.objects.exists()


def test_outsider_cannot_add_a_step_to_another_employers_sequence(client: Client, cast) -> None:
    sequence = SequenceFactory(employer=cast.employer)
    template = EmailTemplateFactory(employer=cast.other_employer)
    client.force_login(cast.outsider)
    data = {"sequence": sequence.pk, "position": 1, "delay_days": 2, "delay_from": "previous", "template": template.pk}
    response = client.post(admin_url(m.SequenceStep, "add"), data)
    assert response.status_code == 200
    assert "sequence" in response.context["adminform"].form.errors
    assert not m.SequenceStep.objects.exists()


def test_a_step_added_inline_must_use_its_sequences_templates(client: Client, admin_user, cast) -> None:
    foreign_template = EmailTemplateFactory(employer=cast.other_employer)
    client.force_login(admin_user)
    data = post_data(client.get(admin_url(m.Sequence, "add")))
    data.update({"employer": cast.employer.pk, "name": "Welcome", "active": "on", "stop_after_stage": "contacted",
                 "steps-TOTAL_FORMS": 1, "steps-0-position": 1, "steps-0-delay_days": 1,
                 "steps-0-delay_from": "previous", "steps-0-template": foreign_template.pk})
    response = client.post(admin_url(m.Sequence, "add"), data)
    assert response.status_code == 200
    assert "template" in response.context["inline_admin_formsets"][0].formset.errors[0]
    assert not m.Sequence.objects.filter(name="Welcome").exists()


def test_notes_are_not_added_in_admin(client: Client, cast) -> None:
    # The lead's page in the recruiter UI adds them, through the service.
    own = LeadFactory(employer=cast.other_employer)
    client.force_login(cast.outsider)
    response = client.post(admin_url(m.Note, "add"), {"lead": own.pk, "body": "Called", "created_at_0": "2026-01-05",
                                                      "created_at_1": "10:00"})
    assert response.status_code == 403
    data = lead_change_data(client, own)
    data.update({"notes-TOTAL_FORMS": 1, "notes-0-body": "Prefers Auckland."})
    client.post(admin_url(m.Lead, "change", own.pk), data)
    assert not m.Note.objects.exists()


# --- choices, autocomplete and bulk actions -----------------------------------------------


@pytest.mark.parametrize("who", ["outsider", "superuser"])
def test_lead_form_choices_are_the_leads_employers_only(client: Client, admin_user, cast, world, who) -> None:
    client.force_login(admin_user if who == "superuser" else cast.outsider)
    theirs = world["theirs"]
    fields = client.get(admin_url(m.Lead, "change", theirs[m.Lead].pk)).context["adminform"].form.fields
    assert list(fields["opening"].queryset) == [theirs[m.Opening]]
    assert list(fields["closed_reason"].queryset) == [theirs[m.ClosedReason]]
    assert list(fields["owner"].queryset) == [cast.outsider]
    # Not changed here: the employer, the email, the skills.
    assert not {"employer", "email", "skills", "cv", "source"} & set(fields)


def test_lead_autocomplete_returns_the_users_employer_only(client: Client, admin_user, cast, world) -> None:
    url = reverse("admin:autocomplete")
    params = {"app_label": "leads", "model_name": "note", "field_name": "lead", "term": ""}
    client.force_login(cast.outsider)
    found = {int(row["id"]) for row in client.get(url, params).json()["results"]}
    assert found == set(m.Lead.objects.filter(employer=cast.other_employer).values_list("pk", flat=True))
    assert client.get(url, {**params, "term": "kiwitag"}).json()["results"] == []
    client.force_login(admin_user)
    assert len(client.get(url, params).json()["results"]) == m.Lead.objects.count()


def test_bulk_erase_skips_employers_where_the_user_is_only_a_recruiter(client: Client, cast) -> None:
    MembershipFactory(user=cast.outsider, employer=cast.employer, role=m.Role.RECRUITER)
    theirs = LeadFactory(employer=cast.employer)
    own = LeadFactory(employer=cast.other_employer)
    client.force_login(cast.outsider)
    data = {"action": "erase_personal_data", "_selected_action": [theirs.pk, own.pk]}
    assert client.post(admin_url(m.Lead, "changelist"), data).status_code == 302
    assert list(m.Lead.objects.filter(erased_at__isnull=True)) == [theirs]
    # A recruiter may look but not change.
    assert client.get(admin_url(m.Lead, "change", theirs.pk)).status_code == 200
    assert client.post(admin_url(m.Lead, "change", theirs.pk), {"name": "x"}).status_code == 403


# --- append-only history ------------------------------------------------------------------


@pytest.mark.parametrize("model", [m.StageEvent, m.Inquiry, m.OutboundEmail, m.WorkerHeartbeat],
                         ids=lambda model: model._meta.model_name)
def test_history_is_view_only_even_for_a_superuser(client: Client, admin_user, world, model) -> None:
    obj = model.objects.first()
    client.force_login(admin_user)
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    response = client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]


def test_the_lead_page_shows_history_read_only(client: Client, cast, world) -> None:
    lead = world["mine"][m.Lead]
    client.force_login(cast.owner)
    response = client.get(admin_url(m.Lead, "change", lead.pk))
    inlines = {inline.opts.model: inline for inline in response.context["inline_admin_formsets"]}
    for model in (m.StageEvent, m.Inquiry, m.PossibleDuplicate, m.Note, m.Activity, m.ProfileChange,
                  m.Citizenship):
        assert not inlines[model].has_add_permission and not inlines[model].has_change_permission, model
        assert not inlines[model].has_delete_permission, model
    body = response.content.decode()
    assert "kiwitag inquiry" in body and "kiwitag Twin" in body


def test_a_lead_is_erased_not_deleted_but_goes_with_its_employer(client: Client, admin_user, world) -> None:
    lead = world["mine"][m.Lead]
    client.force_login(admin_user)
    assert client.post(admin_url(m.Lead, "delete", lead.pk), {"post": "yes"}).status_code == 403
    choices = client.get(admin_url(m.Lead, "changelist")).context["action_form"].fields["action"].choices
    assert [name for name, _ in choices if name] == ["erase_personal_data", "download_personal_data"]
    assert m.Lead.objects.filter(pk=lead.pk).exists()
    # An employer (deleted by a superuser) takes its leads and their read-only history along.
    employer = EmployerFactory()
    gone = LeadFactory(employer=employer)
    for factory in (StageEventFactory, NoteFactory, ActivityFactory, InquiryFactory, CitizenshipFactory):
        factory(lead=gone)
    assert not client.get(admin_url(m.Employer, "delete", employer.pk)).context["perms_lacking"]
    assert client.post(admin_url(m.Employer, "delete", employer.pk), {"post": "yes"}).status_code == 302
    assert not m.Lead.objects.filter(pk=gone.pk).exists()
    assert not m.StageEvent.objects.filter(lead_id=gone.pk).exists()


# --- lead data is text, never markup ------------------------------------------------------


def test_lead_text_is_escaped(client: Client, cast) -> None:
    lead = LeadFactory(employer=cast.employer, name="<script>alert(1)</script>")
    NoteFactory(lead=lead, body="<img src=x onerror=alert(2)>")
    client.force_login(cast.owner)
    for url in (admin_url(m.Lead, "changelist"), admin_url(m.Lead, "change", lead.pk),
                admin_url(m.Note, "changelist")):
        body = client.get(url).content.decode()
        assert "<script>alert(1)" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_staff_without_a_membership_see_nothing(client: Client, world) -> None:
    client.force_login(UserFactory(username="drifter", is_staff=True))
    assert client.get(admin_url(m.Lead, "changelist")).status_code == 403
    assert client.get(admin_url(m.Lead, "change", world["mine"][m.Lead].pk)).status_code == 404


def test_owner_dismisses_possible_duplicates_of_their_employer_only(client: Client, cast, world) -> None:
    MembershipFactory(user=cast.outsider, employer=cast.employer, role=m.Role.RECRUITER)
    mine, theirs = world["mine"][m.PossibleDuplicate], world["theirs"][m.PossibleDuplicate]
    client.force_login(cast.outsider)
    data = {"action": "dismiss", "_selected_action": [mine.pk, theirs.pk]}
    assert client.post(admin_url(m.PossibleDuplicate, "changelist"), data).status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.dismissed_at is None and theirs.dismissed_at is not None


def test_employer_admins_edit_their_employer_but_only_superusers_add_or_delete_one(client: Client, cast) -> None:
    client.force_login(cast.owner)
    assert client.get(admin_url(m.Employer, "change", cast.employer.pk)).context["has_change_permission"]
    assert client.get(admin_url(m.Employer, "add")).status_code == 403
    assert client.get(admin_url(m.Employer, "delete", cast.employer.pk)).status_code == 403
