"""The recruiter side in French: the pages, the scripts' strings, the admin's reports, while what
is stored for everybody stays in the product's base language."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from leads.i18n import SESSION_KEY
from leads.models import ActivityKind, Stage, StageEvent
from leads.services.pipeline import lead_move_stage
from leads.services.timeline import activity_log
from tests.factories import ClosedReasonFactory, LeadFactory


@pytest.fixture
def french(client, cast):
    client.force_login(cast.teammate)
    session = client.session
    session[SESSION_KEY] = "fr"
    session.save()
    return client


def test_the_lead_list_board_and_lead_page_speak_french(french, cast):
    lead = LeadFactory(employer=cast.employer, name="Ana Lima")
    pages = {
        reverse("leads:lead_list"): ["Candidats"],
        reverse("leads:board"): ["Tableau"],
        reverse("leads:lead_detail", args=[lead.pk]): ["Historique", "Nouveau"],
        reverse("leads:dashboard"): ['<html lang="fr"'],
    }
    for url, words in pages.items():
        page = french.get(url).content.decode()
        for word in words:
            assert word in page, (url, word)
        assert "Leads</a>" not in page  # the navigation is translated too


def test_a_recruiter_without_a_choice_gets_the_browsers_language_among_english_and_french(client, cast):
    client.force_login(cast.teammate)
    assert '<html lang="fr"' in client.get(reverse("leads:lead_list"), HTTP_ACCEPT_LANGUAGE="fr-FR").content.decode()
    # German is offered to applicants, not in the recruiter pages: English.
    assert '<html lang="en"' in client.get(reverse("leads:lead_list"), HTTP_ACCEPT_LANGUAGE="de").content.decode()


def test_the_boards_script_strings_come_in_french(french):
    catalogue = french.get(reverse("javascript-catalog")).content.decode()
    assert "D\\u00e9placer %(name)s vers %(stage)s" in catalogue or "Déplacer %(name)s vers %(stage)s" in catalogue


def test_the_refusals_of_the_pipeline_are_in_the_recruiters_language(french, cast):
    lead = LeadFactory(employer=cast.employer)
    response = french.post(reverse("leads:lead_move", args=[lead.pk]), {"to_stage": Stage.DECLINED})
    assert response.status_code == 400
    assert "Indiquez pourquoi le candidat" in response.content.decode()


def test_stored_text_stays_in_english_whoever_writes_it(cast):
    lead = LeadFactory(employer=cast.employer)
    reason = ClosedReasonFactory(employer=cast.employer, label="Not a fit", stage=Stage.DECLINED)
    with translation.override("fr"):
        activity_log(lead=lead, kind=ActivityKind.CALL, actor=cast.teammate, summary="Talked about the role")
        lead_move_stage(lead=lead, to_stage=Stage.DECLINED, closed_reason=reason, by=cast.teammate)
    event = StageEvent.objects.get(lead=lead, to_stage=Stage.CONTACTED)
    assert event.reason == "Call logged"


def test_an_admin_report_in_french(client, cast):
    client.force_login(cast.owner)
    session = client.session
    session[SESSION_KEY] = "fr"
    session.save()
    page = client.get(reverse("reports:report", args=["funnel"])).content.decode()
    assert '<html lang="fr"' in page
    assert "Entonnoir" in page
