"""One lead's page and its actions: each scoped to the user's employers, each bad input a clear
error that changes nothing, and a fixed number of queries however long the timeline."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Activity, Lead, Note, OutboundStatus, Source, Stage, StageEvent
from tests.factories import (
    ActivityFactory,
    ClosedReasonFactory,
    InquiryFactory,
    LeadFactory,
    NoteFactory,
    OpeningFactory,
    OutboundEmailFactory,
    PossibleDuplicateFactory,
    StageEventFactory,
    UserFactory,
)

# Every page below starts with the session, the user and the user's employers (recruiter_view).
# Lead detail, however long the timeline: those 3; the lead, its citizenships, its skills; the
# owners to assign to; the timeline's stage events, notes, activities, inquiries and emails (one
# query each); the inquiries list; the open duplicate flags; the profile changes; the closed
# reasons of the move form; the lead's open tasks with their owners; once the page is built, the
# audit row (one INSERT).
LEAD_DETAIL_QUERIES = 18
# The edit form: those 3; the lead; its citizenships and skills (the form's initial values); the
# employer's openings.
LEAD_EDIT_QUERIES = 7
# The new-lead form: those 3; the open openings of the user's employers.
LEAD_ADD_QUERIES = 4
# Merging a flagged duplicate (POST): those 3; both leads (the access checks); in a savepoint:
# both rows locked, the flag checked, the other's follow-ups cancelled, its inquiries, notes,
# activities, stage events, emails, tasks and consents moved (one UPDATE each), the first
# inquiry found and marked, its citizenships and skills read, the latest news consent read, the
# kept lead saved, the flags repointed, the addresses merged into it repointed and its own
# recorded (MergedLead), the other lead deleted (Django's collector: a query per related table,
# MergedLead among them), the merge activity and the audit row written; then the kept lead read
# again; and the kept lead's milestone times and stays recomputed from the joined history (two).
LEAD_MERGE_QUERIES = 46


@pytest.fixture
def lead(cast):
    return LeadFactory(employer=cast.employer, name="Ana Silva", owner=cast.teammate)


def url(name: str, lead) -> str:
    return reverse(f"leads:{name}", args=[lead.pk])


def test_detail_shows_profile_timeline_and_local_time(client, cast, lead):
    NoteFactory(lead=lead, body="Called, <b>keen</b>")
    InquiryFactory(lead=lead, body="Is there a job?")
    OutboundEmailFactory(lead=lead, status=OutboundStatus.SKIPPED, status_reason="outside window until Monday")
    StageEventFactory(lead=lead, from_stage="", to_stage=Stage.NEW)
    client.force_login(cast.owner)
    response = client.get(url("lead_detail", lead))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ana Silva" in html and "Local time there" in html and lead.zone.key in html
    assert "Called, &lt;b&gt;keen&lt;/b&gt;" in html
    assert "outside window until Monday" in html and "Is there a job?" in html
    kinds = {entry.kind for entry in response.context["timeline"]}
    assert kinds == {"note", "inquiry", "email", "stage"}


def test_outsider_gets_404_on_every_lead_page(client, cast, lead):
    client.force_login(cast.outsider)
    for name in ("lead_detail", "lead_edit", "lead_move", "lead_cv"):
        assert client.get(url(name, lead)).status_code == 404, name
    for name in ("lead_move", "lead_assign", "lead_note", "lead_activity", "lead_followups", "lead_edit"):
        assert client.post(url(name, lead), {"body": "x", "to_stage": "contacted"}).status_code == 404, name
    assert not Note.objects.exists()
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


def test_detail_query_count_does_not_grow_with_the_timeline(client, cast, lead, django_assert_num_queries):
    client.force_login(cast.teammate)

    def count_after_adding(n: int) -> int:
        for _ in range(n):
            NoteFactory(lead=lead, author=cast.owner)
            ActivityFactory(lead=lead, actor=cast.owner)
            InquiryFactory(lead=lead)
            OutboundEmailFactory(lead=lead)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("lead_detail", lead)).status_code == 200
        return len(ctx.captured_queries)

    assert count_after_adding(3) == count_after_adding(20)  # no query per timeline entry
    PossibleDuplicateFactory(lead=lead, other=LeadFactory(employer=cast.employer))
    with django_assert_num_queries(LEAD_DETAIL_QUERIES):
        assert client.get(url("lead_detail", lead)).status_code == 200


def test_edit_form_query_count(client, cast, lead, django_assert_num_queries):
    OpeningFactory.create_batch(3, employer=cast.employer)
    client.force_login(cast.teammate)
    with django_assert_num_queries(LEAD_EDIT_QUERIES):
        assert client.get(url("lead_edit", lead)).status_code == 200


def test_merge_query_count(client, cast, lead, django_assert_num_queries):
    other = LeadFactory(employer=cast.employer, name="Ana Silva", email="ana.other@example.org")
    PossibleDuplicateFactory(lead=lead, other=other)
    NoteFactory(lead=other)
    InquiryFactory(lead=other)
    client.force_login(cast.teammate)
    merge = reverse("leads:lead_merge", args=[lead.pk, other.pk])
    with django_assert_num_queries(LEAD_MERGE_QUERIES):
        assert client.post(merge)["Location"] == url("lead_detail", lead)
    assert not Lead.objects.filter(pk=other.pk).exists()


def test_move_stage(client, cast, lead):
    client.force_login(cast.teammate)
    response = client.post(url("lead_move", lead), {"to_stage": "contacted"})
    assert response.status_code == 302 and response["Location"] == url("lead_detail", lead)
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED and lead.first_contacted_at is not None
    assert StageEvent.objects.get(lead=lead, to_stage="contacted").by == cast.teammate


def test_move_backwards_asks_for_a_reason(client, cast, lead):
    client.force_login(cast.teammate)
    client.post(url("lead_move", lead), {"to_stage": "applied"})
    response = client.post(url("lead_move", lead), {"to_stage": "new"})
    assert response.status_code == 400
    assert "needs a reason" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.APPLIED
    response = client.post(url("lead_move", lead), {"to_stage": "new", "reason": "Wrong click"})
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


def test_move_from_the_board_with_htmx_opens_the_form_when_a_reason_is_needed(client, cast, lead):
    client.force_login(cast.teammate)
    response = client.post(url("lead_move", lead), {"to_stage": "declined", "next": "/leads/board/"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(url("lead_move", lead) + "?to_stage=declined")
    page = client.get(response["HX-Redirect"])
    assert page.status_code == 200 and page.context["form"]["to_stage"].value() == "declined"


def test_close_needs_a_closed_reason_of_this_employer(client, cast, lead):
    mine = ClosedReasonFactory(employer=cast.employer, label="Salary")
    theirs = ClosedReasonFactory(employer=cast.other_employer, label="Theirs")
    client.force_login(cast.teammate)
    response = client.post(url("lead_move", lead), {"to_stage": "declined", "closed_reason": theirs.pk})
    assert response.status_code == 400
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW
    client.post(url("lead_move", lead), {"to_stage": "declined", "closed_reason": mine.pk})
    lead.refresh_from_db()
    assert lead.stage == Stage.DECLINED and lead.closed_reason == mine


@pytest.mark.parametrize("data", [{}, {"to_stage": "nowhere"}, {"to_stage": "new"}, {"to_stage": ["a", "b"]},
                                  {"to_stage": "contacted", "closed_reason": "abc"},
                                  {"to_stage": "applied", "reason": "x" * 3000}])
def test_bad_moves_change_nothing(client, cast, lead, data):
    client.force_login(cast.teammate)
    response = client.post(url("lead_move", lead), data)
    assert response.status_code == 400
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW and not StageEvent.objects.filter(lead=lead).exists()


def test_move_with_unsafe_next_goes_to_the_lead(client, cast, lead):
    client.force_login(cast.teammate)
    response = client.post(url("lead_move", lead), {"to_stage": "contacted", "next": "https://evil.example/"})
    assert response["Location"] == url("lead_detail", lead)


def test_assign(client, cast, lead):
    client.force_login(cast.teammate)
    client.post(url("lead_assign", lead), {"owner": cast.owner.pk})
    lead.refresh_from_db()
    assert lead.owner == cast.owner
    assert Activity.objects.filter(lead=lead, summary__startswith="Assigned to").exists()
    # Someone of another employer, a stranger, or nonsense: refused, nothing changes.
    for owner in (cast.outsider.pk, UserFactory().pk, "abc", "99999"):
        client.post(url("lead_assign", lead), {"owner": owner})
        lead.refresh_from_db()
        assert lead.owner == cast.owner
    client.post(url("lead_assign", lead), {"owner": ""})
    lead.refresh_from_db()
    assert lead.owner is None


def test_note(client, cast, lead):
    client.force_login(cast.teammate)
    client.post(url("lead_note", lead), {"body": "<script>x</script> Спасибо"})
    note = Note.objects.get(lead=lead)
    assert note.author == cast.teammate and note.body.startswith("<script>")
    html = client.get(url("lead_detail", lead)).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt; Спасибо" in html
    for body in ("", "   ", "x" * 20_001):
        response = client.post(url("lead_note", lead), {"body": body}, follow=True)
        assert response.status_code == 200
        assert list(response.context["messages"])
    assert Note.objects.count() == 1


def test_log_call_moves_a_new_lead_to_contacted(client, cast, lead):
    client.force_login(cast.teammate)
    client.post(url("lead_activity", lead), {"kind": "call", "summary": "Talked for 20 minutes"})
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert Activity.objects.filter(lead=lead, kind="call").exists()
    for data in ({"kind": "system", "summary": "x"}, {"kind": "call"}, {"kind": "bogus", "summary": "x"},
                 {"kind": "call", "summary": "x" * 301}):
        client.post(url("lead_activity", lead), data)
    assert Activity.objects.filter(lead=lead, kind="call").count() == 1


def test_log_reply_cancels_follow_ups(client, cast, lead):
    email = OutboundEmailFactory(lead=lead, kind="followup")
    client.force_login(cast.teammate)
    client.post(url("lead_activity", lead), {"kind": "reply", "summary": "Replied by email"})
    email.refresh_from_db()
    assert email.status == OutboundStatus.CANCELLED


def test_pause_and_resume_follow_ups(client, cast, lead):
    email = OutboundEmailFactory(lead=lead, kind="followup")
    client.force_login(cast.teammate)
    client.post(url("lead_followups", lead), {"action": "pause"})
    lead.refresh_from_db()
    email.refresh_from_db()
    assert lead.followups_paused and email.status == OutboundStatus.CANCELLED
    client.post(url("lead_followups", lead), {"action": "resume"})
    lead.refresh_from_db()
    email.refresh_from_db()
    assert not lead.followups_paused and email.status == OutboundStatus.SCHEDULED
    assert client.post(url("lead_followups", lead), {"action": "explode"}).status_code == 302


def test_edit_profile(client, cast, lead):
    opening = OpeningFactory(employer=cast.employer)
    client.force_login(cast.teammate)
    assert client.get(url("lead_edit", lead)).status_code == 200
    data = {"name": "Ana S. Silva", "email": lead.email, "phone": "021 555 1234", "current_country": "NZ",
            "opening": opening.pk, "needs_sponsorship": "no", "dependants": "2"}
    response = client.post(url("lead_edit", lead), data)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.name, lead.phone, lead.opening, lead.needs_sponsorship, lead.dependants) == (
        "Ana S. Silva", "+64215551234", opening, False, 2)
    assert lead.time_zone == "Pacific/Auckland"
    assert Activity.objects.filter(lead=lead, summary__startswith="Profile edited").exists()


@pytest.mark.parametrize("data", [{"name": ""}, {"name": "A", "phone": "12"}, {"name": "A", "dependants": "x"},
                                  {"name": "A", "profile_url": "javascript:alert(1)"},
                                  {"name": "A", "time_zone": "Mars/Olympus"}, {"name": "A" * 300}])
def test_bad_edits_change_nothing(client, cast, lead, data):
    client.force_login(cast.teammate)
    response = client.post(url("lead_edit", lead), data)
    assert response.status_code == 400
    assert Lead.objects.get(pk=lead.pk).name == "Ana Silva"


def test_edit_cannot_pick_another_employers_opening(client, cast, lead):
    theirs = OpeningFactory(employer=cast.other_employer)
    client.force_login(cast.teammate)
    response = client.post(url("lead_edit", lead), {"name": "Ana", "opening": theirs.pk})
    assert response.status_code == 400
    assert Lead.objects.get(pk=lead.pk).opening is None


def test_cv_download(client, cast, lead, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client.force_login(cast.teammate)
    assert client.get(url("lead_cv", lead)).status_code == 404
    lead.cv.save("abc.pdf", ContentFile(b"%PDF-1.4 hello"))
    response = client.get(url("lead_cv", lead))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == b"%PDF-1.4 hello"
    client.force_login(cast.outsider)
    assert client.get(url("lead_cv", lead)).status_code == 404


def test_cv_file_missing_on_disk_is_404(client, cast, lead, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    Lead.objects.filter(pk=lead.pk).update(cv="cvs/2026/01/gone.pdf")
    client.force_login(cast.teammate)
    assert client.get(url("lead_cv", lead)).status_code == 404


def test_erased_lead_is_404(client, cast, lead):
    from django.utils import timezone

    Lead.objects.filter(pk=lead.pk).update(erased_at=timezone.now())
    client.force_login(cast.teammate)
    assert client.get(url("lead_detail", lead)).status_code == 404


# --- Adding a lead by hand --------------------------------------------------------------------

ADD = reverse("leads:lead_add")


def test_add_form_query_count(client, cast, django_assert_num_queries):
    OpeningFactory.create_batch(3, employer=cast.employer)
    client.force_login(cast.teammate)
    with django_assert_num_queries(LEAD_ADD_QUERIES):
        assert client.get(ADD).status_code == 200


def test_add_lead_manually_goes_through_intake(client, cast):
    client.force_login(cast.teammate)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, {"employer": cast.employer.pk, "name": "Bo Chen", "email": "Bo@Example.org",
                                 "how": "Phone call", "current_country": "CA", "skills": "Go, SQL",
                                 "legal_basis": "consent_in_person"})
    lead = Lead.objects.get(email="bo@example.org")
    assert response["Location"] == url("lead_detail", lead)
    assert lead.employer == cast.employer and lead.source == Source.MANUAL
    assert lead.inquiries.get().subject == "Phone call"
    assert StageEvent.objects.get(lead=lead).by == cast.teammate
    # The same email again joins the lead.
    client.post(ADD, {"employer": cast.employer.pk, "name": "Bo Chen", "email": "bo@example.org",
                      "legal_basis": "legitimate_interest"})
    assert Lead.objects.filter(email="bo@example.org").count() == 1
    assert lead.inquiries.count() == 2


@pytest.mark.parametrize("data", [{}, {"name": "A", "email": "nope"}, {"name": "A", "email": "a@example.org",
                                                                         "phone": "1"}])
def test_add_lead_bad_input(client, cast, data):
    client.force_login(cast.teammate)
    response = client.post(ADD, {"employer": cast.employer.pk, **data})
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_add_lead_for_another_employer_is_refused(client, cast):
    client.force_login(cast.teammate)
    response = client.post(ADD, {"employer": cast.other_employer.pk, "name": "A", "email": "a@example.org"})
    assert response.status_code == 400
    assert not Lead.objects.exists()
    their_opening = OpeningFactory(employer=cast.other_employer)
    response = client.post(ADD, {"employer": cast.employer.pk, "name": "A", "email": "a@example.org",
                                 "opening": their_opening.pk})
    assert response.status_code == 400
    assert not Lead.objects.exists()
