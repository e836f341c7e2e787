"""The recruiter's list and lead page as a new user found them: saved views, an "open only"
filter, bulk actions that say what happened and keep what was chosen, paging both ways, an
export people can read, and a profile that can be corrected in full."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from leads.admin.email import TEMPLATE_VARIABLES
from leads.emails import template_context
from leads.models import Activity, Lead, OutboundEmail, OutboundKind, OutboundStatus, SavedView, Stage, Task
from leads.services import pipeline
from leads.services.saved_views import builtin_views
from tests.factories import (
    ClosedReasonFactory,
    EmployerFactory,
    LeadFactory,
    MembershipFactory,
    OutboundEmailFactory,
    SequenceFactory,
    SequenceStepFactory,
    UserFactory,
)

LIST = reverse("leads:lead_list")
BULK = reverse("leads:bulk_action")
NOW = dt.datetime(2026, 11, 9, 15, 0, tzinfo=dt.UTC)


def listed(response) -> list[str]:
    return [lead.name for lead in response.context["page"].leads]


# --- filters and views -------------------------------------------------------------------------------


def test_open_only_leaves_out_closed_leads_and_my_open_leads_uses_it(client, cast):
    LeadFactory(employer=cast.employer, name="Open One", owner=cast.teammate)
    LeadFactory(employer=cast.employer, name="Closed One", owner=cast.teammate, stage=Stage.WITHDRAWN)
    LeadFactory(employer=cast.employer, name="Someone Else's", owner=cast.owner)
    client.force_login(cast.teammate)
    mine = next(v for v in builtin_views(cast.teammate) if v.name == "My open leads")
    response = client.get(f"{LIST}?{mine.query}")
    assert listed(response) == ["Open One"]
    assert response.context["current_view"] == mine
    assert 'aria-current="page">My open leads' in response.content.decode()


def test_not_contacted_and_overdue_task_views(client, cast):
    fresh = LeadFactory(employer=cast.employer, name="Fresh")
    LeadFactory(employer=cast.employer, name="Talked", first_contacted_at=NOW)
    late = LeadFactory(employer=cast.employer, name="Late", first_contacted_at=NOW)
    Task.objects.create(employer=cast.employer, lead=late, title="Call", due_at=NOW, owner=cast.teammate)
    Task.objects.create(employer=cast.employer, lead=fresh, title="Later", due_at=NOW + dt.timedelta(days=30),
                        owner=cast.teammate)
    client.force_login(cast.teammate)
    views = {v.name: v for v in builtin_views(cast.teammate)}
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        assert listed(client.get(f"{LIST}?{views['Not contacted yet'].query}")) == ["Fresh"]
        assert listed(client.get(f"{LIST}?{views['Overdue tasks'].query}")) == ["Late"]
        assert sorted(listed(client.get(f"{LIST}?tasks=open"))) == ["Fresh", "Late"]


def test_a_saved_view_is_private_unless_shared_and_never_crosses_employers(client, cast):
    LeadFactory(employer=cast.employer, name="Brazil Lead", current_country="BR")
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:saved_view_create"),
                           {"name": "  Brazil  ", "query": "current_country=BR&after=x&ticked=1"})
    view = SavedView.objects.get()
    assert (view.name, view.query, view.shared, view.employer) == ("Brazil", "current_country=BR", False,
                                                                  cast.employer)
    assert response["Location"].endswith(f"?current_country=BR&view=saved:{view.pk}")
    client.force_login(cast.owner)
    assert "Brazil" not in [v.name for v in client.get(LIST).context["views"]]
    SavedView.objects.filter(pk=view.pk).update(shared=True)
    assert "Brazil" in [v.name for v in client.get(LIST).context["views"]]
    client.force_login(cast.outsider)
    assert "Brazil" not in [v.name for v in client.get(LIST).context["views"]]
    assert client.post(reverse("leads:saved_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.exists()


def test_saving_a_view_refuses_a_duplicate_name_and_an_empty_filter(client, cast):
    client.force_login(cast.teammate)
    client.post(reverse("leads:saved_view_create"), {"name": "Mine", "query": "stage=new"})
    client.post(reverse("leads:saved_view_create"), {"name": "Mine", "query": "stage=offer"})
    client.post(reverse("leads:saved_view_create"), {"name": "Nothing", "query": "after=abc"})
    assert list(SavedView.objects.values_list("name", "query")) == [("Mine", "stage=new")]


def test_only_the_owner_or_an_admin_deletes_a_shared_view(client, cast):
    view = SavedView.objects.create(employer=cast.employer, owner=cast.teammate, name="Team", query="stage=new",
                                    shared=True)
    colleague = UserFactory()
    MembershipFactory(user=colleague, employer=cast.employer)
    client.force_login(colleague)
    client.post(reverse("leads:saved_view_delete", args=[view.pk]))
    assert SavedView.objects.filter(pk=view.pk).exists()
    client.force_login(cast.owner)  # an admin of the employer
    client.post(reverse("leads:saved_view_delete", args=[view.pk]))
    assert not SavedView.objects.filter(pk=view.pk).exists()


# --- the list itself -----------------------------------------------------------------------------------


def test_per_page_shows_the_size_used(client, cast):
    client.force_login(cast.teammate)
    for query in ("", "?stage=new"):
        page = client.get(LIST + query).content.decode()
        assert '<option value="50" selected>' in page


def test_paging_forward_and_back_again(client, cast):
    for n in range(5):
        LeadFactory(employer=cast.employer, name=f"Lead {n}", created_at=NOW - dt.timedelta(hours=n))
    client.force_login(cast.teammate)
    first = client.get(f"{LIST}?size=25")
    assert first.context["page"].prev_cursor is None
    from leads.selectors.leads import encode_cursor

    second = client.get(LIST, {"after": encode_cursor(Lead.objects.get(name="Lead 1"), "newest")})
    assert listed(second) == ["Lead 2", "Lead 3", "Lead 4"]
    back = client.get(LIST, {"before": second.context["page"].prev_cursor})
    assert listed(back) == ["Lead 0", "Lead 1"] and back.context["page"].is_first
    assert "Previous page" in second.content.decode() and 'data-select-all="ids"' in second.content.decode()


# --- bulk actions -------------------------------------------------------------------------------------


def test_no_action_chosen_is_an_error_and_the_ticks_are_kept(client, cast):
    leads = LeadFactory.create_batch(2, employer=cast.employer)
    client.force_login(cast.teammate)
    response = client.post(BULK, {"ids": [lead.pk for lead in leads], "next": LIST}, follow=True)
    page = response.content.decode()
    assert "Choose what to do with the ticked leads." in page
    for lead in leads:
        assert f'value="{lead.pk}" aria-label="Select {lead.name}" checked' in page


def test_assign_needs_a_choice_and_nobody_is_an_explicit_one(client, cast):
    lead = LeadFactory(employer=cast.employer, owner=cast.teammate)
    client.force_login(cast.teammate)
    response = client.post(BULK, {"action": "assign", "owner": "", "ids": [lead.pk], "next": LIST}, follow=True)
    assert "Choose who gets the leads" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).owner == cast.teammate
    client.post(BULK, {"action": "assign", "owner": "none", "ids": [lead.pk]})
    assert Lead.objects.get(pk=lead.pk).owner is None


def test_a_bulk_action_that_changes_nothing_says_so_without_green(client, cast):
    lead = LeadFactory(employer=cast.employer, stage=Stage.CONTACTED)
    client.force_login(cast.teammate)
    response = client.post(BULK, {"action": "move", "to_stage": "new", "ids": [lead.pk], "next": LIST}, follow=True)
    page = response.content.decode()
    assert "0 lead(s) changed" not in page and "No lead changed" in page
    assert "bulk_action=move" in response.redirect_chain[-1][0]


# --- the export -----------------------------------------------------------------------------------------


def test_the_export_reads_as_people_read_and_keeps_codes_for_machines(client, cast):
    LeadFactory(employer=cast.employer, name="Ana", phone="+64211234567", current_country="NZ", stage=Stage.OFFER,
                created_at=dt.datetime(2026, 11, 9, 23, 30, tzinfo=dt.UTC), owner=cast.teammate,
                move_timeline="3m")
    cast.teammate.first_name, cast.teammate.last_name = "Tia", "Mate"
    cast.teammate.save()
    client.force_login(cast.teammate)
    session = client.session
    session["relocate_time_zone"] = "Pacific/Auckland"
    session.save()
    body = b"".join(client.get(reverse("leads:export_csv")).streaming_content).decode().lstrip("\ufeff")
    header, row = list(csv.reader(io.StringIO(body)))[:2]
    cells = dict(zip(header, row, strict=True))
    assert cells["phone"] == "+64211234567"  # a plain number runs no formula: no apostrophe
    assert cells["current_country"] == "New Zealand" and cells["current_country_code"] == "NZ"
    assert cells["stage"] == "Offer" and cells["stage_code"] == "offer"
    assert cells["move_timeline"] == "Within 3 months"
    assert cells["owner"] == "Tia Mate"
    zone = zoneinfo.ZoneInfo(next(k.split("(")[1].rstrip(")") for k in header if k.startswith("created_at")))
    assert cells[f"created_at ({zone.key})"] == dt.datetime(2026, 11, 9, 23, 30, tzinfo=dt.UTC).astimezone(
        zone).strftime("%Y-%m-%d %H:%M")


# --- one lead -------------------------------------------------------------------------------------------


def test_the_lead_page_links_contact_details_names_people_and_suggests_the_next_stage(client, cast):
    cast.teammate.first_name, cast.teammate.last_name = "Tia", "Mate"
    cast.teammate.save()
    lead = LeadFactory(employer=cast.employer, phone="+64211234567", owner=cast.teammate, stage=Stage.CONTACTED)
    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert f'href="mailto:{lead.email}"' in page and 'href="tel:+64211234567"' in page
    assert "Tia Mate" in page
    assert '<option value="applied" selected>' in page


def test_a_refused_move_from_a_boosted_form_says_why_on_the_page_it_opens(client, cast):
    lead = LeadFactory(employer=cast.employer, stage=Stage.CONTACTED)
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:lead_move", args=[lead.pk]), {"to_stage": "new"}, HTTP_HX_REQUEST="true")
    target = response["HX-Redirect"]
    assert "Moving a lead backwards needs a reason." in client.get(target).content.decode()


def test_the_edit_form_corrects_email_citizenships_and_skills(client, cast):
    lead = LeadFactory(employer=cast.employer, name="Ana", email="ana@old.example")
    LeadFactory(employer=cast.employer, email="taken@example.org")
    client.force_login(cast.teammate)
    url = reverse("leads:lead_edit", args=[lead.pk])
    refused = client.post(url, {"name": "Ana", "email": "taken@example.org"})
    assert refused.status_code == 400 and "merge them instead" in refused.content.decode()
    response = client.post(url, {"name": "Ana", "email": "Ana@New.example", "citizenships": ["BR", "PT"],
                                 "skills": "Go, SQL"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.email == "ana@new.example"
    assert sorted(c.country.code for c in lead.citizenships.all()) == ["BR", "PT"]
    assert sorted(s.name for s in lead.skills.all()) == ["Go", "SQL"]
    edit = Activity.objects.get(lead=lead, summary__startswith="Profile edited")
    assert "Email: ana@old.example → ana@new.example" in edit.details
    assert "Citizenships" in edit.summary and "Skills" in edit.summary


def test_follow_ups_a_move_cancelled_come_back_when_the_lead_moves_back(cast):
    sequence = SequenceFactory(employer=cast.employer, stop_after_stage="contacted")
    step = SequenceStepFactory(sequence=sequence)
    with time_machine.travel(NOW, tick=False):
        lead = LeadFactory(employer=cast.employer, stage=Stage.CONTACTED)
        row = OutboundEmailFactory(lead=lead, employer=cast.employer, kind=OutboundKind.FOLLOWUP, step=step,
                                   scheduled_at=NOW + dt.timedelta(days=3))
        pipeline.lead_move_stage(lead=lead, to_stage=Stage.APPLIED, by=cast.teammate)
        assert OutboundEmail.objects.get(pk=row.pk).status == OutboundStatus.CANCELLED
        pipeline.lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, by=cast.teammate, reason="Mixed up")
    restored = OutboundEmail.objects.get(pk=row.pk)
    assert (restored.status, restored.scheduled_at, restored.status_reason) == (
        OutboundStatus.SCHEDULED, NOW + dt.timedelta(days=3), "")


def test_a_paused_lead_gets_nothing_back_when_it_moves_back(cast):
    sequence = SequenceFactory(employer=cast.employer, stop_after_stage="contacted")
    lead = LeadFactory(employer=cast.employer, stage=Stage.APPLIED, followups_paused=True)
    row = OutboundEmailFactory(lead=lead, employer=cast.employer, kind=OutboundKind.FOLLOWUP,
                               step=SequenceStepFactory(sequence=sequence), status=OutboundStatus.CANCELLED,
                               status_reason="the lead moved to applied")
    pipeline.lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, by=cast.teammate, reason="Back")
    assert OutboundEmail.objects.get(pk=row.pk).status == OutboundStatus.CANCELLED


def test_a_reopened_lead_gets_its_closed_follow_ups_back(cast):
    sequence = SequenceFactory(employer=cast.employer, stop_after_stage="contacted")
    reason = ClosedReasonFactory(employer=cast.employer, stage=Stage.WITHDRAWN)
    with time_machine.travel(NOW, tick=False):
        lead = LeadFactory(employer=cast.employer, stage=Stage.CONTACTED)
        row = OutboundEmailFactory(lead=lead, employer=cast.employer, kind=OutboundKind.FOLLOWUP,
                                   step=SequenceStepFactory(sequence=sequence), scheduled_at=NOW + dt.timedelta(days=2))
        pipeline.lead_move_stage(lead=lead, to_stage=Stage.WITHDRAWN, by=cast.teammate, closed_reason=reason)
        pipeline.lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, by=cast.teammate, reason="Came back")
    assert OutboundEmail.objects.get(pk=row.pk).status == OutboundStatus.SCHEDULED


# --- templates and the demo ----------------------------------------------------------------------------


def test_the_template_help_lists_every_variable_a_template_gets(cast):
    lead = LeadFactory(employer=cast.employer)
    context = template_context(lead)
    names = set()
    for key, value in context.items():
        names |= {f"{key}.{sub}" for sub in value} if isinstance(value, dict) else {key}
    assert names == {name for name, _ in TEMPLATE_VARIABLES}


def test_seed_demo_prints_the_address_it_was_given_and_its_acknowledgement_links_the_data(settings, db):
    settings.SITE_URL = "http://127.0.0.1:8123"
    out = io.StringIO()
    call_command("seed_demo", "--leads", "0", stdout=out)
    assert "Recruiter UI: http://127.0.0.1:8123/" in out.getvalue()
    from leads.models import EmailTemplate

    for template in EmailTemplate.objects.filter(kind=EmailTemplate.Kind.ACKNOWLEDGEMENT):
        assert "{{ my_data_url }}" in template.body_text


def test_another_employers_lead_list_never_shows_its_views(client, cast):
    other_admin = UserFactory()
    MembershipFactory(user=other_admin, employer=EmployerFactory())
    SavedView.objects.create(employer=cast.employer, owner=cast.teammate, name="Secret", query="stage=new",
                             shared=True)
    client.force_login(other_admin)
    assert "Secret" not in client.get(LIST).content.decode()


@pytest.mark.parametrize("query", ["open=maybe", "contacted=perhaps", "tasks=all"])
def test_bad_new_filters_are_shown_and_ignored(client, cast, query):
    LeadFactory(employer=cast.employer, name="Any")
    client.force_login(cast.teammate)
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200 and listed(response) == ["Any"]


def test_the_template_preview_in_admin_shows_a_leads_markup_as_text(admin_client, cast):
    from leads.models import EmailTemplate

    LeadFactory(employer=cast.employer, name="<b>Bold</b> Person")
    template = EmailTemplate.objects.create(employer=cast.employer, name="Hi", kind=EmailTemplate.Kind.ONE_OFF,
                                            subject="Hi {{ lead.name }}", body_text="Dear {{ lead.name }}")
    page = admin_client.get(reverse("admin:leads_emailtemplate_change", args=[template.pk])).content.decode()
    assert "<b>Bold</b> Person" not in page and "&lt;b&gt;Bold&lt;/b&gt; Person" in page


def test_merge_asks_first_shows_what_is_kept_and_the_old_address_leads_to_the_survivor(client, cast):
    from tests.factories import NoteFactory, PossibleDuplicateFactory

    kept = LeadFactory(employer=cast.employer, name="Ana Silva", phone="", current_city="Lisbon")
    gone = LeadFactory(employer=cast.employer, name="Ana S.", phone="+351912345678", current_city="Porto")
    NoteFactory(lead=gone, body="met at the fair")
    PossibleDuplicateFactory(employer=cast.employer, lead=gone, other=kept)
    client.force_login(cast.teammate)
    url = reverse("leads:lead_merge", args=[kept.pk, gone.pk])
    page = client.get(url).content.decode()
    assert "+351912345678" in page  # filled from the other
    assert "Lisbon" in page and "not Porto" in page  # kept, the other's value said
    assert "1 notes" in page
    assert Lead.objects.filter(pk=gone.pk).exists()  # asking changes nothing
    client.post(url)
    assert not Lead.objects.filter(pk=gone.pk).exists()
    response = client.get(reverse("leads:lead_detail", args=[gone.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("leads:lead_detail", args=[kept.pk])
    record = Activity.objects.get(lead=kept, summary__startswith="Merged")
    assert "Phone: +351912345678" in record.details and "City: Porto" in record.details
    client.force_login(cast.outsider)
    assert client.get(reverse("leads:lead_detail", args=[gone.pk])).status_code == 404


def test_the_dashboard_cards_link_to_views_that_count_the_same(client, cast):
    LeadFactory(employer=cast.employer, owner=cast.teammate, name="Mine open")
    LeadFactory(employer=cast.employer, owner=cast.teammate, stage=Stage.DECLINED, name="Mine closed")
    LeadFactory(employer=cast.employer, name="Old new one", created_at=NOW - dt.timedelta(days=3))
    LeadFactory(employer=cast.employer, name="Fresh new one")
    client.force_login(cast.teammate)
    with time_machine.travel(NOW, tick=False):
        data = client.get(reverse("leads:dashboard")).context["data"]
        views = {v.key: v for v in builtin_views(cast.teammate)}
        mine = client.get(f"{LIST}?{views['builtin:mine'].query}").context["page"].leads
        waiting = client.get(f"{LIST}?{views['builtin:waiting'].query}").context["page"].leads
        page = client.get(reverse("leads:dashboard")).content.decode()
    assert data["mine_count"].count == len(mine) == 1
    assert data["overdue_count"].count == len(waiting) == 1 and waiting[0].name == "Old new one"
    assert f"?{views['builtin:waiting'].query}&amp;view=builtin:waiting" in page


def test_an_unsubscribed_lead_is_not_offered_a_pause(client, cast):
    lead = LeadFactory(employer=cast.employer, unsubscribed_at=NOW)
    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "Pause follow-ups" not in page


def test_a_merge_moves_the_consents_and_the_news_flag_follows_the_latest(cast):
    from leads.models import Consent
    from leads.services.merge import lead_merge
    from tests.factories import PossibleDuplicateFactory

    kept = LeadFactory(employer=cast.employer, marketing_opt_in=False)
    gone = LeadFactory(employer=cast.employer, marketing_opt_in=True)
    Consent.objects.create(employer=cast.employer, lead=gone, purpose="news", granted=True, wording="Send me news",
                           channel="web_form")
    PossibleDuplicateFactory(employer=cast.employer, lead=gone, other=kept)
    lead_merge(lead=kept, other=gone, by=cast.teammate)
    kept.refresh_from_db()
    assert kept.consents.get().wording == "Send me news" and kept.marketing_opt_in
