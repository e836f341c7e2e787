"""Merging a flagged duplicate: every row of the other lead ends up on the kept one; nothing lost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from leads.models import (
    Activity,
    Citizenship,
    Inquiry,
    Lead,
    Note,
    OutboundEmail,
    OutboundStatus,
    PossibleDuplicate,
    Stage,
    StageEvent,
)
from leads.services.merge import lead_merge
from tests.factories import (
    ActivityFactory,
    CitizenshipFactory,
    InquiryFactory,
    LeadFactory,
    NoteFactory,
    OutboundEmailFactory,
    PossibleDuplicateFactory,
    SkillFactory,
    StageEventFactory,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def pair(cast):
    kept = LeadFactory(employer=cast.employer, name="Ana Silva", email="ana@example.org", created_at=T0,
                       phone="+14155552671", stage=Stage.CONTACTED, furthest_stage=Stage.CONTACTED)
    other = LeadFactory(employer=cast.employer, name="Ana Silva", email="ana.work@example.org",
                        created_at=T0 - dt.timedelta(days=3), phone="+14155552671", profile_url="https://x.y/ana",
                        furthest_stage=Stage.APPLIED, stage=Stage.APPLIED, owner=cast.teammate)
    PossibleDuplicateFactory(lead=kept, other=other)
    return kept, other


def test_merge_moves_everything_and_keeps_the_other_identity(cast, pair):
    kept, other = pair
    third = LeadFactory(employer=cast.employer)
    for lead in (kept, other):
        InquiryFactory(lead=lead)
        NoteFactory(lead=lead)
        ActivityFactory(lead=lead)
        StageEventFactory(lead=lead, from_stage="", to_stage=Stage.NEW)
        OutboundEmailFactory(lead=lead, status=OutboundStatus.SENT)
    scheduled = OutboundEmailFactory(lead=other, kind="followup")
    CitizenshipFactory(lead=kept, country="US")
    CitizenshipFactory(lead=other, country="US")
    CitizenshipFactory(lead=other, country="IE")
    other.skills.add(SkillFactory(employer=cast.employer, name="Go"))
    PossibleDuplicateFactory(lead=third, other=other, reason="profile_url")
    counts = {m: m.objects.count() for m in (Inquiry, Note, StageEvent, OutboundEmail)}

    lead_merge(lead=kept, other=other, by=cast.owner)

    assert not Lead.objects.filter(pk=other.pk).exists()
    for model, count in counts.items():
        assert model.objects.count() == count, model
        assert model.objects.filter(lead=kept).count() == count, model
    assert Activity.objects.filter(lead=kept).count() == 3  # both, plus the merge record
    record = Activity.objects.get(lead=kept, summary__startswith="Merged")
    assert "ana.work@example.org" in record.summary and "ana.work@example.org" in record.details
    assert sorted(Citizenship.objects.filter(lead=kept).values_list("country", flat=True)) == ["IE", "US"]
    assert list(kept.skills.values_list("name", flat=True)) == ["Go"]
    kept.refresh_from_db()
    assert kept.email == "ana@example.org" and kept.stage == Stage.CONTACTED
    assert kept.furthest_stage == Stage.APPLIED and kept.created_at == other.created_at
    assert kept.profile_url == "https://x.y/ana" and kept.owner == cast.teammate
    scheduled.refresh_from_db()
    assert scheduled.status == OutboundStatus.CANCELLED and str(kept.pk) in scheduled.status_reason
    flags = PossibleDuplicate.objects.all()
    assert [(f.lead_id, f.other_id) for f in flags] == [(third.pk, kept.pk)]
    assert Inquiry.objects.filter(lead=kept, is_repeat=False).count() == 1


def test_only_flagged_pairs_of_one_employer_merge(cast):
    a = LeadFactory(employer=cast.employer)
    b = LeadFactory(employer=cast.employer)
    theirs = LeadFactory(employer=cast.other_employer)
    with pytest.raises(ValidationError):
        lead_merge(lead=a, other=b, by=cast.owner)
    with pytest.raises(ValidationError):
        lead_merge(lead=a, other=a, by=cast.owner)
    with pytest.raises(ValidationError):
        lead_merge(lead=a, other=theirs, by=cast.owner)
    assert Lead.objects.count() == 3


def test_merge_view(client, cast, pair):
    kept, other = pair
    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[kept.pk])).content.decode()
    assert reverse("leads:lead_merge", args=[kept.pk, other.pk]) in page
    response = client.post(reverse("leads:lead_merge", args=[kept.pk, other.pk]))
    assert response["Location"] == reverse("leads:lead_detail", args=[kept.pk])
    assert not Lead.objects.filter(pk=other.pk).exists()
    # Again: the other lead is gone, so 404, not an error page.
    assert client.post(reverse("leads:lead_merge", args=[kept.pk, other.pk])).status_code == 404


def test_merge_view_refuses_unflagged_and_outsiders(client, cast, pair):
    kept, other = pair
    stranger = LeadFactory(employer=cast.employer)
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:lead_merge", args=[kept.pk, stranger.pk]), follow=True)
    assert any("not flagged" in str(m) for m in response.context["messages"])
    assert Lead.objects.filter(pk=stranger.pk).exists()
    client.force_login(cast.outsider)
    assert client.post(reverse("leads:lead_merge", args=[kept.pk, other.pk])).status_code == 404
    assert client.get(reverse("leads:lead_merge", args=[kept.pk, other.pk])).status_code in (404, 405)
    assert Lead.objects.filter(pk=other.pk).exists()


def test_not_the_same_person_dismisses_the_flag_on_both_timelines(client, cast):
    from leads.services.merge import duplicates_dismiss

    lead, other = LeadFactory(employer=cast.employer), LeadFactory(employer=cast.employer)
    PossibleDuplicateFactory(lead=other, other=lead, employer=cast.employer)
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:lead_not_duplicate", args=[lead.pk, other.pk]))
    assert response.status_code == 302
    flag = PossibleDuplicate.objects.get()
    assert flag.dismissed_at is not None
    assert Lead.objects.filter(pk__in=[lead.pk, other.pk]).count() == 2  # nothing merged
    for one in (lead, other):
        assert Activity.objects.filter(lead=one, summary__startswith="Not the same person as").count() == 1
    # The page no longer offers the merge.
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content
    assert b"/not-duplicate/" not in page and b"Merge into this lead" not in page
    with pytest.raises(ValidationError):
        duplicates_dismiss(lead=lead, other=other, by=cast.teammate)


def test_not_the_same_person_is_404_for_an_outsider(client, cast):
    lead, other = LeadFactory(employer=cast.employer), LeadFactory(employer=cast.employer)
    PossibleDuplicateFactory(lead=other, other=lead, employer=cast.employer)
    client.force_login(cast.outsider)
    response = client.post(reverse("leads:lead_not_duplicate", args=[lead.pk, other.pk]))
    assert response.status_code == 404
    assert PossibleDuplicate.objects.get().dismissed_at is None
