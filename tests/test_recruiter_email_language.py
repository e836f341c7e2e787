"""Relocate's own emails to recruiters and admins go out in the recipient's language: their saved
preference (``UserPreference.language``), else English; an invitation to someone without an
account yet, in the language of whoever invites them.

The subject is compared with its gettext under ``translation.override``: today, before the
French catalogue is compiled, that is the English text, and once it is, a rendering that ignores
the preference fails here. The row's ``language`` says which language was active while rendering.
"""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext

from leads.models import OutboundEmail, Role, UserPreference
from leads.services import team as team_service
from leads.services.followups import owner_notify_assigned
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _assigned_email(lead) -> OutboundEmail:
    return OutboundEmail.objects.get(unique_key=f"lead:{lead.pk}:assigned:{lead.owner_id}")


def test_the_assignment_email_is_in_french_for_a_recruiter_who_chose_french(cast):
    UserPreference.objects.create(user=cast.teammate, language="fr")
    lead = LeadFactory(employer=cast.employer, owner=cast.teammate, name="Ana Silva")
    owner_notify_assigned(lead=lead)
    email = _assigned_email(lead)
    with translation.override("fr"):
        expected = gettext("New lead for you: %(name)s") % {"name": "Ana Silva"}
    assert email.subject == expected
    assert email.language == "fr"
    # Rendering left the language of the code around it as it was.
    assert translation.get_language() == "en"


def test_the_assignment_email_is_in_english_for_a_recruiter_without_a_preference(cast):
    lead = LeadFactory(employer=cast.employer, owner=cast.teammate, name="Ana Silva")
    with translation.override("fr"):  # whatever the page that triggered it speaks
        owner_notify_assigned(lead=lead)
    email = _assigned_email(lead)
    assert email.subject == "New lead for you: Ana Silva"
    assert email.language == "en"
    assert "A new lead was assigned to you at Kiwi Ledger:" in email.body_text


def test_an_invitation_to_a_new_person_is_in_the_inviting_admins_language(cast):
    UserPreference.objects.create(user=cast.owner, language="fr")
    team_service.team_invite(employer=cast.employer, email="rangi@example.org", role=Role.RECRUITER, by=cast.owner)
    email = OutboundEmail.objects.get(to_email="rangi@example.org")
    with translation.override("fr"):
        expected = gettext("You are invited to join %(employer)s on Relocate") % {"employer": "Kiwi Ledger"}
    assert email.subject == expected
    assert email.language == "fr"
