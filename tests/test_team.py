"""The team page of employer admins (leads/views/team.py, leads/services/team.py).

The cast: owner (admin of Kiwi Ledger), teammate (recruiter there), outsider (admin of Maple Games).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from leads.models import Membership, OutboundEmail, OutboundKind, Role, Stage
from leads.services import team as team_service
from tests.factories import LeadFactory, MembershipFactory, UserFactory

User = get_user_model()
PASSWORD = "Kauri-harbour-2016"  # passes every validator of settings.AUTH_PASSWORD_VALIDATORS


def invite(client, cast, email="new.person@example.org", role="recruiter", employer=None, **extra):
    employer = employer or cast.employer
    return client.post(reverse("leads:team_invite"),
                       {"employer": employer.pk, "email": email, "role": role, **extra})


def invite_link(email: str) -> str:
    row = OutboundEmail.objects.filter(to_email=email, kind=OutboundKind.NOTIFICATION).latest("pk")
    found = re.search(r"https?://\S+/team/invite/(\S+)/", row.body_text)
    assert found, row.body_text
    return reverse("leads:team_invite_accept", args=[found[1]])


def state() -> tuple:
    """Everything a refused action must leave as it was."""
    return (
        sorted(Membership.objects.values_list("pk", "user_id", "employer_id", "role", "receives_assignments")),
        sorted(User.objects.values_list("pk", "username", "email", "password", "is_active", "is_staff")),
        OutboundEmail.objects.count(),
    )


# --- who sees what ---------------------------------------------------------------------------


def test_admin_sees_only_their_employers_members(client, cast):
    shared = UserFactory(username="shared", email="shared@example.com")
    MembershipFactory(user=shared, employer=cast.employer, role=Role.RECRUITER)
    MembershipFactory(user=shared, employer=cast.other_employer, role=Role.ADMIN)
    client.force_login(cast.owner)
    response = client.get(reverse("leads:team"))
    assert response.status_code == 200
    sections = response.context["sections"]
    assert [s.employer for s in sections] == [cast.employer]
    members = {m.user.username: m.role for m in sections[0].members}
    assert members == {"owner": Role.ADMIN, "teammate": Role.RECRUITER, "shared": Role.RECRUITER}
    body = response.content.decode()
    assert "outsider@example.com" not in body
    assert "Maple Games" not in body
    assert "shared@example.com" in body


def test_recruiter_and_outsiders_get_404(client, cast):
    client.force_login(cast.teammate)
    assert client.get(reverse("leads:team")).status_code == 404
    before = state()
    assert invite(client, cast).status_code == 404
    membership = Membership.objects.get(user=cast.owner)
    response = client.post(reverse("leads:team_member_role", args=[membership.pk]), {"role": "recruiter"})
    assert response.status_code == 404
    assert state() == before


def test_anonymous_is_sent_to_the_login_page(client, cast):
    response = client.get(reverse("leads:team"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_superuser_sees_every_employer(client, cast):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    response = client.get(reverse("leads:team"))
    assert response.status_code == 200
    assert {s.employer for s in response.context["sections"]} == {cast.employer, cast.other_employer}


def test_the_team_link_is_shown_to_admins_only(client, cast):
    client.force_login(cast.owner)
    assert b'href="/team/"' in client.get(reverse("leads:dashboard")).content
    client.force_login(cast.teammate)
    assert b'href="/team/"' not in client.get(reverse("leads:dashboard")).content


def test_query_count_of_the_team_page_does_not_grow_with_the_team(client, cast, django_assert_num_queries):
    # Session, user, the user's employers, their admin roles, the members, leads of former members.
    client.force_login(cast.owner)
    with django_assert_num_queries(6):
        assert client.get(reverse("leads:team")).status_code == 200
    for _ in range(8):
        MembershipFactory(employer=cast.employer)
    gone = UserFactory()
    LeadFactory(employer=cast.employer, owner=gone)
    LeadFactory(employer=cast.employer, owner=UserFactory())
    with django_assert_num_queries(6):
        response = client.get(reverse("leads:team"))
    assert len(response.context["sections"][0].members) == 10
    assert len(response.context["sections"][0].former_owners) == 2


# --- invite and accept --------------------------------------------------------------------------


def test_invite_creates_an_inactive_user_a_membership_and_an_email_with_a_working_link(client, cast):
    client.force_login(cast.owner)
    response = invite(client, cast, email="Hemi.Walker@Example.ORG", role="admin", first_name="Hemi",
                      last_name="Walker")
    assert response.status_code == 302
    user = User.objects.get(email="Hemi.Walker@example.org")  # the domain normalised
    assert user.username == "hemi.walker@example.org"
    assert not user.is_active
    assert not user.has_usable_password()
    assert user.is_staff  # an admin configures their employer in Django admin too
    assert (user.first_name, user.last_name) == ("Hemi", "Walker")
    membership = Membership.objects.get(user=user)
    assert (membership.employer, membership.role) == (cast.employer, Role.ADMIN)
    row = OutboundEmail.objects.get(to_email=user.email)
    assert (row.kind, row.employer, row.to_user, row.lead) == (OutboundKind.NOTIFICATION, cast.employer, user, None)
    assert "Kiwi Ledger" in row.subject
    assert "7 days" in row.body_text
    client.logout()
    page = client.get(invite_link(user.email))
    assert page.status_code == 200
    assert b"Hemi.Walker@example.org" in page.content


def test_accept_sets_the_password_logs_in_and_works_once(client, cast):
    client.force_login(cast.owner)
    invite(client, cast, email="aroha@example.org")
    link = invite_link("aroha@example.org")
    client.logout()
    response = client.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:dashboard")
    user = User.objects.get(email="aroha@example.org")
    assert user.is_active
    assert user.check_password(PASSWORD)
    dashboard = client.get(reverse("leads:dashboard"))
    assert dashboard.status_code == 200
    assert dashboard.wsgi_request.user == user
    # Used: the link opens nothing any more, and cannot set the password again.
    client.logout()
    assert client.get(link).status_code == 410
    again = client.post(link, {"new_password1": "Another-pass-4242", "new_password2": "Another-pass-4242"})
    assert again.status_code == 410
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_accept_runs_the_password_validators(client, cast):
    client.force_login(cast.owner)
    invite(client, cast, email="mere.tipene@example.org", first_name="Mere", last_name="Tipene")
    link = invite_link("mere.tipene@example.org")
    client.logout()
    for weak in ("short", "password123", "MereTipene2024!", "12345678901"):
        response = client.post(link, {"new_password1": weak, "new_password2": weak})
        assert response.status_code == 400, weak
    mismatch = client.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD + "x"})
    assert mismatch.status_code == 400
    user = User.objects.get(email="mere.tipene@example.org")
    assert not user.has_usable_password()
    assert not user.is_active


def test_the_link_expires_after_seven_days(client, cast):
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        client.force_login(cast.owner)
        invite(client, cast, email="late@example.org")
        link = invite_link("late@example.org")
        client.logout()
    with time_machine.travel(start + dt.timedelta(days=6, hours=23), tick=False):
        assert client.get(link).status_code == 200
    with time_machine.travel(start + dt.timedelta(days=7, minutes=1), tick=False):
        assert client.get(link).status_code == 410
        response = client.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD})
        assert response.status_code == 410
        assert b"expired" in response.content
    assert not User.objects.get(email="late@example.org").has_usable_password()


def test_an_altered_or_foreign_token_opens_nothing(client, cast):
    from leads.tokens import Purpose, token_make

    lead = LeadFactory(employer=cast.employer)
    for token in ("nonsense", token_make(Purpose.MY_DATA, lead.pk), token_make(Purpose.UNSUBSCRIBE, cast.owner.pk)):
        assert client.get(reverse("leads:team_invite_accept", args=[token])).status_code == 404
        assert client.post(reverse("leads:team_invite_accept", args=[token]),
                           {"new_password1": PASSWORD, "new_password2": PASSWORD}).status_code == 404


def test_removed_before_accepting_the_link_stops_working(client, cast):
    client.force_login(cast.owner)
    invite(client, cast, email="changed.mind@example.org")
    link = invite_link("changed.mind@example.org")
    membership = Membership.objects.get(user__email="changed.mind@example.org")
    assert client.post(reverse("leads:team_member_remove", args=[membership.pk])).status_code == 302
    client.logout()
    assert client.get(link).status_code == 404


def test_inviting_an_existing_user_of_another_employer_adds_a_membership_and_keeps_the_password(client, cast):
    password_before = User.objects.get(pk=cast.outsider.pk).password
    client.force_login(cast.owner)
    response = invite(client, cast, email="OUTSIDER@example.com", role="recruiter")
    assert response.status_code == 302
    outsider = User.objects.get(pk=cast.outsider.pk)
    assert outsider.password == password_before
    assert outsider.check_password("relocate-test")
    assert outsider.is_active
    assert set(outsider.memberships.values_list("employer__slug", "role")) == {
        ("kiwi-ledger", Role.RECRUITER), ("maple-games", Role.ADMIN)}
    row = OutboundEmail.objects.get(to_email=outsider.email)
    assert "/team/invite/" not in row.body_text
    assert "password has not changed" in row.body_text
    assert User.objects.filter(email__iexact="outsider@example.com").count() == 1


def test_a_pending_invitee_of_another_employer_gets_a_link_from_both(client, cast):
    client.force_login(cast.outsider)
    invite(client, cast, email="both@example.org", employer=cast.other_employer)
    client.force_login(cast.owner)
    invite(client, cast, email="both@example.org")
    link = invite_link("both@example.org")  # Kiwi Ledger's
    client.logout()
    assert client.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD}).status_code == 302
    user = User.objects.get(email="both@example.org")
    assert user.is_active
    assert user.memberships.count() == 2


def test_inviting_someone_already_on_the_team_is_refused(client, cast):
    client.force_login(cast.owner)
    before = state()
    response = invite(client, cast, email=cast.teammate.email)
    assert response.status_code == 400
    assert b"already on the team" in response.content
    assert state() == before


@pytest.mark.parametrize("data", [
    {"email": "not-an-email", "role": "recruiter"},
    {"email": "", "role": "recruiter"},
    {"email": "x@example.org", "role": "superuser"},
    {"email": "x@example.org", "role": ""},
    {"email": "x@example.org" * 30, "role": "recruiter"},
    {"email": "x@example.org", "role": "recruiter", "first_name": "x" * 151},
])
def test_bad_input_is_a_400_and_changes_nothing(client, cast, data):
    client.force_login(cast.owner)
    before = state()
    response = client.post(reverse("leads:team_invite"), {"employer": cast.employer.pk, **data})
    assert response.status_code == 400
    assert state() == before


def test_invite_for_an_employer_one_does_not_administer_is_refused(client, cast):
    MembershipFactory(user=cast.owner, employer=cast.other_employer, role=Role.RECRUITER)
    client.force_login(cast.owner)
    before = state()
    assert invite(client, cast, employer=cast.other_employer).status_code == 400
    assert client.post(reverse("leads:team_invite"), {"employer": "x", "email": "a@example.org",
                                                      "role": "recruiter"}).status_code == 400
    assert state() == before


def test_invitations_are_rate_limited_per_employer(client, cast, settings):
    settings.RELOCATE_TEAM_INVITES_PER_HOUR = 2
    client.force_login(cast.owner)
    assert invite(client, cast, email="one@example.org").status_code == 302
    assert invite(client, cast, email="two@example.org").status_code == 302
    before = state()
    response = invite(client, cast, email="three@example.org")
    assert response.status_code == 429
    assert state() == before
    # Another employer has its own allowance.
    client.force_login(cast.outsider)
    assert invite(client, cast, email="four@example.org", employer=cast.other_employer).status_code == 302


def test_resend_sends_a_fresh_link_to_a_pending_invitee_only(client, cast):
    client.force_login(cast.owner)
    invite(client, cast, email="slow@example.org")
    membership = Membership.objects.get(user__email="slow@example.org")
    assert client.post(reverse("leads:team_invite_resend", args=[membership.pk])).status_code == 302
    assert OutboundEmail.objects.filter(to_email="slow@example.org").count() == 2
    teammate = Membership.objects.get(user=cast.teammate)
    before = state()
    assert client.post(reverse("leads:team_invite_resend", args=[teammate.pk])).status_code == 400
    assert state() == before


# --- roles and round-robin ----------------------------------------------------------------------


def test_role_change_promotes_and_demotes_with_staff_status(client, cast):
    client.force_login(cast.owner)
    membership = Membership.objects.get(user=cast.teammate)
    response = client.post(reverse("leads:team_member_role", args=[membership.pk]), {"role": "admin"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    assert User.objects.get(pk=cast.teammate.pk).is_staff
    client.post(reverse("leads:team_member_role", args=[membership.pk]), {"role": "recruiter"})
    membership.refresh_from_db()
    assert membership.role == Role.RECRUITER
    assert not User.objects.get(pk=cast.teammate.pk).is_staff


def test_an_employer_keeps_at_least_one_admin(client, cast):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    owner_membership = Membership.objects.get(user=cast.owner)
    before = state()
    response = client.post(reverse("leads:team_member_role", args=[owner_membership.pk]), {"role": "recruiter"})
    assert response.status_code == 400
    assert b"at least one admin" in response.content
    assert client.post(reverse("leads:team_member_remove", args=[owner_membership.pk])).status_code == 400
    assert state() == before
    # An admin who has never logged in (an open invitation) does not count.
    client.post(reverse("leads:team_invite"), {"employer": cast.employer.pk, "email": "p@example.org",
                                               "role": "admin"})
    before = state()
    assert client.post(reverse("leads:team_member_role", args=[owner_membership.pk]),
                       {"role": "recruiter"}).status_code == 400
    assert state() == before


def test_with_a_second_admin_the_first_may_be_demoted(client, cast):
    teammate = Membership.objects.get(user=cast.teammate)
    teammate.role = Role.ADMIN
    teammate.save()
    client.force_login(cast.teammate)
    owner_membership = Membership.objects.get(user=cast.owner)
    assert client.post(reverse("leads:team_member_role", args=[owner_membership.pk]),
                       {"role": "recruiter"}).status_code == 302
    owner_membership.refresh_from_db()
    assert owner_membership.role == Role.RECRUITER


def test_an_admin_cannot_change_their_own_role_or_remove_themselves(client, cast):
    MembershipFactory(employer=cast.employer, role=Role.ADMIN)
    client.force_login(cast.owner)
    own = Membership.objects.get(user=cast.owner)
    before = state()
    assert client.post(reverse("leads:team_member_role", args=[own.pk]), {"role": "recruiter"}).status_code == 400
    assert client.post(reverse("leads:team_member_remove", args=[own.pk])).status_code == 400
    assert state() == before


def test_round_robin_is_turned_off_and_on(client, cast):
    client.force_login(cast.owner)
    membership = Membership.objects.get(user=cast.teammate)
    url = reverse("leads:team_member_round_robin", args=[membership.pk])
    response = client.post(url, {"receives_assignments": "off"}, follow=True)
    assert b"no longer gets new leads" in response.content
    membership.refresh_from_db()
    assert not membership.receives_assignments
    client.post(url, {"receives_assignments": "on"})
    membership.refresh_from_db()
    assert membership.receives_assignments
    before = state()
    assert client.post(url, {"receives_assignments": "maybe"}).status_code == 400
    assert client.post(reverse("leads:team_member_role", args=[membership.pk]), {"role": "boss"}).status_code == 400
    assert state() == before


# --- removal --------------------------------------------------------------------------------------


def test_removing_the_last_employer_of_a_user_switches_the_account_off(client, cast):
    lead = LeadFactory(employer=cast.employer, owner=cast.teammate, name="Tama Rangi")
    LeadFactory(employer=cast.employer, owner=cast.teammate, stage=Stage.DECLINED)
    client.force_login(cast.owner)
    membership = Membership.objects.get(user=cast.teammate)
    response = client.post(reverse("leads:team_member_remove", args=[membership.pk]), follow=True)
    assert response.status_code == 200
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not User.objects.get(pk=cast.teammate.pk).is_active
    # Their open lead keeps them as owner, and the page says it needs a new one.
    lead.refresh_from_db()
    assert lead.owner_id == cast.teammate.pk
    body = response.content.decode()
    assert "1 open lead(s)" in body
    assert "Leads that need a new owner" in body
    assert "Tama Rangi" in body


def test_removing_a_user_who_works_for_another_employer_keeps_their_account(client, cast):
    shared = UserFactory(username="shared")
    mine = MembershipFactory(user=shared, employer=cast.employer, role=Role.ADMIN)
    theirs = MembershipFactory(user=shared, employer=cast.other_employer, role=Role.RECRUITER)
    shared.is_staff = True
    shared.save()
    client.force_login(cast.owner)
    assert client.post(reverse("leads:team_member_remove", args=[mine.pk])).status_code == 302
    shared.refresh_from_db()
    assert shared.is_active
    assert shared.check_password("relocate-test")
    assert not shared.is_staff  # an admin nowhere any more
    theirs.refresh_from_db()
    assert (theirs.employer, theirs.role, theirs.receives_assignments) == (cast.other_employer, Role.RECRUITER, True)


def test_a_superuser_member_is_never_switched_off(client, cast):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    membership = MembershipFactory(user=root, employer=cast.employer)
    client.force_login(cast.owner)
    assert client.post(reverse("leads:team_member_remove", args=[membership.pk])).status_code == 302
    root.refresh_from_db()
    assert root.is_active and root.is_staff


def test_another_employers_membership_ids_are_404_and_nothing_changes(client, cast):
    shared = UserFactory(username="shared")
    MembershipFactory(user=shared, employer=cast.employer)
    foreign = MembershipFactory(user=shared, employer=cast.other_employer)
    outsider_membership = Membership.objects.get(user=cast.outsider)
    client.force_login(cast.owner)
    before = state()
    for pk in (foreign.pk, outsider_membership.pk, 999_999):
        for name, data in (("leads:team_member_role", {"role": "admin"}),
                           ("leads:team_member_round_robin", {"receives_assignments": "off"}),
                           ("leads:team_invite_resend", {}),
                           ("leads:team_member_remove", {})):
            assert client.post(reverse(name, args=[pk]), data).status_code == 404, (name, pk)
    assert state() == before


def test_actions_need_post(client, cast):
    client.force_login(cast.owner)
    membership = Membership.objects.get(user=cast.teammate)
    for name in ("leads:team_member_role", "leads:team_member_round_robin", "leads:team_member_remove",
                 "leads:team_invite_resend"):
        assert client.get(reverse(name, args=[membership.pk])).status_code == 405
    assert client.get(reverse("leads:team_invite")).status_code == 405


def test_actions_need_the_csrf_token(cast):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.owner)
    membership = Membership.objects.get(user=cast.teammate)
    before = state()
    assert client.post(reverse("leads:team_member_remove", args=[membership.pk])).status_code == 403
    assert state() == before


def test_the_service_refuses_a_non_admin_caller(cast):
    from django.core.exceptions import ValidationError

    membership = Membership.objects.get(user=cast.owner)
    with pytest.raises(ValidationError):
        team_service.team_member_set_round_robin(membership=membership, on=False, by=cast.teammate)
    with pytest.raises(ValidationError):
        team_service.team_invite(employer=cast.employer, email="x@example.org", role=Role.ADMIN, by=cast.outsider)


def test_a_person_removed_earlier_comes_back_through_a_fresh_link(client, cast):
    client.force_login(cast.owner)
    membership = Membership.objects.get(user=cast.teammate)
    client.post(reverse("leads:team_member_remove", args=[membership.pk]))
    assert not User.objects.get(pk=cast.teammate.pk).is_active
    assert invite(client, cast, email=cast.teammate.email).status_code == 302
    link = invite_link(cast.teammate.email)
    client.logout()
    assert client.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD}).status_code == 302
    teammate = User.objects.get(pk=cast.teammate.pk)
    assert teammate.is_active and teammate.check_password(PASSWORD)


def test_an_account_switched_off_elsewhere_is_not_switched_on_by_an_invitation(client, cast):
    locked = UserFactory(username="locked", email="locked@example.com", is_active=False)
    MembershipFactory(user=locked, employer=cast.other_employer)
    client.force_login(cast.owner)
    before = state()
    response = invite(client, cast, email="locked@example.com")
    assert response.status_code == 400
    assert b"switched off" in response.content
    assert state() == before
