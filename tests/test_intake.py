"""The intake service: one lead per normalised email per employer, whatever the path."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from leads.models import (
    Activity,
    Citizenship,
    Inquiry,
    Lead,
    Membership,
    PossibleDuplicate,
    Role,
    Source,
    Stage,
    StageEvent,
)
from leads.services.intake import inquiry_receive
from tests.factories import EmployerFactory, MembershipFactory, OpeningFactory, UserFactory


def receive(employer, email="Ana.Silva@Example.org", **kwargs):
    kwargs.setdefault("channel", Source.WEB_FORM)
    kwargs.setdefault("name", "Ana Silva")
    return inquiry_receive(employer=employer, email=email, **kwargs)


def test_new_inquiry_creates_lead_inquiry_and_first_stage_event(cast):
    opening = OpeningFactory(employer=cast.employer)
    when = dt.datetime(2026, 11, 9, 3, 0, tzinfo=dt.UTC)
    result = receive(
        cast.employer,
        fields={"phone": "(415) 555-2671", "current_country": "US", "opening": opening.pk,
                "move_timeline": "3m", "needs_sponsorship": True, "utm_campaign": "election"},
        citizenships=["us", "IE"],
        skills=["Python", "Django"],
        privacy_accepted=True,
        body="Is there a job for me in Wellington?",
        raw_fields={"name": "Ana Silva", "extra": ["a", 1]},
        received_at=when,
    )
    lead = result.lead
    assert result.created
    assert lead.email == "ana.silva@example.org"
    assert lead.phone == "+14155552671"
    assert lead.time_zone == "America/New_York"
    assert lead.source == Source.WEB_FORM
    assert lead.stage == lead.furthest_stage == Stage.NEW
    assert lead.created_at == lead.privacy_accepted_at == when
    assert lead.opening == opening
    assert sorted(Citizenship.objects.filter(lead=lead).values_list("country", flat=True)) == ["IE", "US"]
    assert sorted(lead.skills.values_list("name", flat=True)) == ["Django", "Python"]
    event = StageEvent.objects.get(lead=lead)
    assert (event.from_stage, event.to_stage, event.by, event.at) == ("", Stage.NEW, None, when)
    inquiry = result.inquiry
    assert inquiry.country == "US" and not inquiry.is_repeat
    assert inquiry.raw_fields == {"name": "Ana Silva", "extra": ["a", "1"]}


@pytest.mark.parametrize("variant", ["ana.silva@example.org", "  ANA.SILVA@EXAMPLE.ORG ", "Ana.Silva@example.ORG"])
def test_repeat_inquiry_in_other_case_or_with_spaces_joins_the_lead(cast, variant):
    first = receive(cast.employer)
    second = receive(cast.employer, email=variant, fields={"move_timeline": "now"})
    assert not second.created
    assert second.lead.pk == first.lead.pk
    assert Lead.objects.filter(employer=cast.employer).count() == 1
    assert Inquiry.objects.filter(lead=first.lead).count() == 2
    assert second.inquiry.is_repeat
    assert StageEvent.objects.filter(lead=first.lead).count() == 1
    first.lead.refresh_from_db()
    assert first.lead.move_timeline == "now"
    assert Activity.objects.filter(lead=first.lead, summary__startswith="Repeat inquiry: updated").exists()


def test_repeat_inquiry_keeps_first_source_and_campaign(cast):
    receive(cast.employer, fields={"utm_campaign": "election"})
    lead = receive(cast.employer, channel=Source.EMAIL, fields={"utm_campaign": "later"}).lead
    lead.refresh_from_db()
    assert lead.source == Source.WEB_FORM
    assert lead.utm_campaign == "election"


def test_same_email_at_two_employers_makes_two_leads(cast):
    a = receive(cast.employer).lead
    b = receive(cast.other_employer).lead
    assert a.pk != b.pk
    assert a.employer == cast.employer and b.employer == cast.other_employer
    assert not PossibleDuplicate.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"fields": {"phone": "12"}}, "phone"),
        ({"fields": {"phone": "call me maybe"}}, "phone"),
        ({"fields": {"move_timeline": "tomorrow"}}, "move_timeline"),
        ({"fields": {"current_country": "XX"}}, "current_country"),
        ({"fields": {"profile_url": "javascript:alert(1)"}}, "profile_url"),
        ({"fields": {"years_experience": 400}}, "years_experience"),
        ({"fields": {"time_zone": "Mars/Olympus"}}, "time_zone"),
        ({"fields": {"role_of_interest": "x" * 500}}, "role_of_interest"),
        ({"citizenships": ["ZZ"]}, "citizenships"),
        ({"channel": "carrier-pigeon"}, "channel"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(cast, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        receive(cast.employer, **kwargs)
    assert field in exc.value.message_dict
    assert not Lead.objects.exists()
    assert not Inquiry.objects.exists()
    assert not StageEvent.objects.exists()


def test_opening_of_another_employer_is_refused(cast):
    foreign = OpeningFactory(employer=cast.other_employer)
    with pytest.raises(ValidationError) as exc:
        receive(cast.employer, fields={"opening": foreign.pk})
    assert "opening" in exc.value.message_dict
    assert not Lead.objects.exists()


def test_unknown_field_is_a_programming_error(cast):
    with pytest.raises(TypeError):
        receive(cast.employer, fields={"stage": "hired"})


def test_owner_must_belong_to_the_employer(cast):
    with pytest.raises(ValidationError):
        receive(cast.employer, owner=cast.outsider)
    assert not Lead.objects.exists()


def test_non_latin_and_markup_are_stored_as_given(cast):
    lead = receive(cast.employer, name="Zoë 李 <script>alert(1)</script>",
                   email="zoë@例え.jp".replace("ë", "e"), body="<b>ありがとう</b>").lead
    assert lead.name == "Zoë 李 <script>alert(1)</script>"
    assert lead.inquiries.get().body == "<b>ありがとう</b>"


def test_round_robin_assigns_recruiters_in_turn(cast):
    second = UserFactory(username="second-recruiter")
    MembershipFactory(user=second, employer=cast.employer, role=Role.RECRUITER)
    away = UserFactory(username="away")
    MembershipFactory(user=away, employer=cast.employer, role=Role.RECRUITER, receives_assignments=False)
    owners = [receive(cast.employer, email=f"p{i}@example.org").lead.owner for i in range(4)]
    # The admin (owner role) and the recruiter who is away take no leads.
    assert owners == [cast.teammate, second, cast.teammate, second]
    assert Activity.objects.filter(summary="Assigned to " + second.get_full_name()).count() == 2


def test_given_owner_wins_and_repeat_keeps_owner(cast):
    lead = receive(cast.employer, owner=cast.owner).lead
    assert lead.owner == cast.owner
    again = receive(cast.employer).lead
    assert again.owner == cast.owner


def test_no_recruiters_leaves_lead_unassigned(db):
    employer = EmployerFactory()
    lead = receive(employer).lead
    assert lead.owner is None


def test_manual_entry_records_who_entered_it(cast):
    lead = receive(cast.employer, channel=Source.MANUAL, actor=cast.teammate).lead
    assert lead.source == Source.MANUAL
    assert StageEvent.objects.get(lead=lead).by == cast.teammate


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ({"phone": "+64 21 123 4567"}, {"phone": "021 123 4567", "current_country": "NZ"}, "phone"),
        ({"profile_url": "https://www.linkedin.com/in/ana/"}, {"profile_url": "linkedin.com/in/ana?trk=x"},
         "profile_url"),
        ({"current_country": "US"}, {"current_country": "US"}, "name_country"),
    ],
)
def test_possible_duplicates_are_flagged_not_merged(cast, first, second, reason):
    a = receive(cast.employer, email="ana@example.org", fields=first).lead
    b = receive(cast.employer, email="ana.work@example.org", fields=second).lead
    assert a.pk != b.pk
    flag = PossibleDuplicate.objects.get()
    assert (flag.lead_id, flag.other_id, flag.reason) == (b.pk, a.pk, reason)
    # A repeat inquiry does not flag the same pair again.
    receive(cast.employer, email="ana.work@example.org", fields=second)
    assert PossibleDuplicate.objects.count() == 1


def test_different_people_are_not_flagged(cast):
    receive(cast.employer, email="a@example.org", name="Ana Silva", fields={"current_country": "US"})
    receive(cast.employer, email="b@example.org", name="Ana Silva", fields={"current_country": "BR"})
    receive(cast.other_employer, email="c@example.org", name="Ana Silva", fields={"current_country": "US"})
    assert not PossibleDuplicate.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_intake_of_one_email_creates_one_lead(postgres):
    """Eight requests with the same email at the same instant, on PostgreSQL: one lead."""
    employer = EmployerFactory()
    for i in range(3):
        MembershipFactory(employer=employer, user=UserFactory(username=f"rr{i}"))
    barrier = threading.Barrier(8)
    results, errors = [], []

    def submit(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(receive(employer, email=f"  Same.Person@Example.org{' ' * i}", body=f"try {i}"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert Lead.objects.filter(employer=employer).count() == 1
    lead = Lead.objects.get(employer=employer)
    assert Inquiry.objects.filter(lead=lead).count() == 8
    assert Inquiry.objects.filter(lead=lead, is_repeat=False).count() == 1
    assert sum(r.created for r in results) == 1
    assert StageEvent.objects.filter(lead=lead).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_intake_round_robin_takes_turns(postgres):
    employer = EmployerFactory()
    users = [UserFactory(username=f"turn{i}") for i in range(3)]
    for user in users:
        MembershipFactory(employer=employer, user=user)
    barrier = threading.Barrier(6)

    def submit(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            receive(employer, email=f"person{i}@example.org")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    counts = sorted(Lead.objects.filter(employer=employer).values_list("owner__username", flat=True))
    assert counts == ["turn0", "turn0", "turn1", "turn1", "turn2", "turn2"]
    assert connection.vendor == "postgresql"
    assert Membership.objects.filter(employer=employer, last_assigned_at__isnull=True).count() == 0
