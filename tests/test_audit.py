"""The audit log: which pages, services and logins write a row, and that admin shows an
employer's rows to its admins only, never lets anyone change or delete one, and exports them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.base import ContentFile
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import reverse
from django.utils import timezone

from leads.models import AuditAction, AuditEvent, Role
from leads.services.audit import audit_record
from leads.services.leads import lead_update
from leads.services.merge import lead_merge
from leads.views.bulk import export_csv
from tests.factories import LeadFactory, MembershipFactory, PossibleDuplicateFactory, UserFactory
from tests.test_reports_dataset import WEEK

CHANGELIST = reverse("admin:leads_auditevent_changelist")
EXPORT = reverse("admin:leads_auditevent_export")


@pytest.fixture
def lead(cast):
    return LeadFactory(employer=cast.employer, name="Ana Silva", email="ana@example.org", phone="+64215550000")


def rows(**filters):
    """The rows other than logins (every force_login writes one of those)."""
    return list(AuditEvent.objects.exclude(action=AuditAction.LOGIN).filter(**filters).order_by("id"))


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body)))


# --- what writes a row -------------------------------------------------------------------------


def test_viewing_a_lead_writes_one_row(client, cast, lead):
    client.force_login(cast.teammate)
    assert client.get(reverse("leads:lead_detail", args=[lead.pk]), REMOTE_ADDR="203.0.113.9").status_code == 200
    [row] = rows()
    assert (row.action, row.employer_id, row.lead_id, row.user, row.username, row.detail, row.remote_addr) == (
        AuditAction.VIEWED, cast.employer.pk, lead.pk, cast.teammate, "teammate", "lead page", "203.0.113.9")


def test_an_outsiders_404_writes_nothing(client, cast, lead, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead.cv.save("cv.pdf", ContentFile(b"%PDF-1.4"))
    client.force_login(cast.outsider)
    for name in ("lead_detail", "lead_cv", "lead_edit"):
        assert client.get(reverse(f"leads:{name}", args=[lead.pk])).status_code == 404, name
    assert client.post(reverse("leads:lead_edit", args=[lead.pk]), {"name": "Mallory"}).status_code == 404
    assert rows() == []


def test_the_cv_download_writes_a_view(client, cast, lead, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead.cv.save("cv.pdf", ContentFile(b"%PDF-1.4"))
    client.force_login(cast.teammate)
    assert client.get(reverse("leads:lead_cv", args=[lead.pk])).status_code == 200
    assert [(r.action, r.lead_id, r.detail) for r in rows()] == [(AuditAction.VIEWED, lead.pk, "CV download")]


def test_a_profile_edit_names_the_fields_not_the_values(client, cast, lead):
    client.force_login(cast.teammate)
    data = {"name": "Ana S. Silva", "email": lead.email, "phone": "021 555 1234", "current_country": "NZ",
            "needs_sponsorship": "no", "dependants": "2"}
    assert client.post(reverse("leads:lead_edit", args=[lead.pk]), data).status_code == 302
    [row] = rows()
    assert (row.action, row.lead_id, row.user, row.employer_id) == (AuditAction.CHANGED, lead.pk, cast.teammate,
                                                                    cast.employer.pk)
    assert row.detail.startswith("profile: ")
    named = set(row.detail.removeprefix("profile: ").split(", "))
    assert {"name", "phone", "current_country", "dependants"} <= named
    for value in ("Ana S. Silva", "Silva", "555", "1234", "NZ", "2"):
        assert value not in row.detail, value


def test_an_edit_that_changes_nothing_writes_nothing(cast, lead):
    assert lead_update(lead=lead, fields={"name": "Ana Silva"}, by=cast.teammate) == []
    assert rows() == []


def test_a_refused_edit_writes_nothing(client, cast, lead):
    LeadFactory(employer=cast.employer, email="taken@example.org")
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:lead_edit", args=[lead.pk]), {"name": "Ana", "email": "taken@example.org"})
    assert response.status_code == 400
    assert rows() == []


def test_the_filtered_export_writes_one_row_with_the_count_and_filter(client, cast):
    for n in range(3):
        LeadFactory(employer=cast.employer, stage="new", email=f"ana.{n}@example.org")
    LeadFactory(employer=cast.employer, stage="contacted", email="ana.9@example.org")
    LeadFactory(employer=cast.other_employer, stage="new", email="ana.8@example.org")
    client.force_login(cast.teammate)
    response = client.get(reverse("leads:export_csv"), {"stage": "new", "q": "ana."})
    assert rows() == []  # not before the file has gone out
    assert len(csv_rows(response)) == 4  # the header and 3 leads
    [row] = rows()
    assert (row.action, row.employer_id, row.lead_id, row.user) == (AuditAction.EXPORTED, cast.employer.pk, None,
                                                                    cast.teammate)
    assert "3 row(s)" in row.detail and "stage=new" in row.detail
    assert "ana." not in row.detail and "q=(search text)" in row.detail  # the search text is left out


def test_an_export_cut_short_is_logged_with_what_went_out(rf, cast):
    LeadFactory.create_batch(3, employer=cast.employer)
    request = rf.get(reverse("leads:export_csv"))
    request.user, request.session = cast.teammate, {}
    response = export_csv(request)  # the view itself: the test client would read the file to its end
    lines = iter(response.streaming_content)
    next(lines), next(lines), next(lines)  # the BOM, the header, one lead
    # The browser went away: the server closes the response (without closing the test's
    # database connection, as the test client does too).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    [row] = rows()
    assert "1 row(s) (stopped early)" in row.detail


def test_the_selection_export_lists_the_ids(client, cast):
    mine = LeadFactory.create_batch(2, employer=cast.employer)
    theirs = LeadFactory(employer=cast.other_employer)
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:bulk_action"), {"action": "export", "ids": [*[x.pk for x in mine],
                                                                                       theirs.pk]})
    assert len(csv_rows(response)) == 3
    [row] = rows()
    assert row.action == AuditAction.EXPORTED and row.employer_id == cast.employer.pk
    assert "selected leads: 2 row(s)" in row.detail
    assert {str(x.pk) for x in mine} <= set(row.detail.split("; ids ")[1].split(","))
    assert str(theirs.pk) not in row.detail.split("; ids ")[1].split(",")


def test_a_merge_writes_its_row_in_the_transaction(cast, lead):
    other = LeadFactory(employer=cast.employer, name="Ana Silva", email="ana.other@example.org")
    PossibleDuplicateFactory(lead=lead, other=other)
    lead_merge(lead=lead, other=other, by=cast.teammate)
    [row] = rows()
    assert (row.action, row.lead_id, row.detail, row.employer_id) == (
        AuditAction.MERGED, lead.pk, f"merged lead {other.pk}", cast.employer.pk)


def test_a_report_export_writes_its_row(client, cast):
    client.force_login(cast.owner)
    response = client.get(reverse("reports:report", args=["funnel"]), {**WEEK, "export": "funnel"})
    assert response.status_code == 200
    [row] = rows()
    assert (row.action, row.employer_id, row.user) == (AuditAction.REPORT_EXPORTED, cast.employer.pk, cast.owner)
    assert row.detail.startswith("Funnel report, table funnel")


@pytest.mark.parametrize(("path", "where"), [("/accounts/login/", "recruiter UI"), ("/admin/login/", "admin")])
def test_a_login_writes_a_row_under_the_first_employer(client, cast, path, where):
    cast.owner.set_password("secret-pass-123")
    cast.owner.save()
    MembershipFactory(user=cast.owner, employer=cast.other_employer, role=Role.RECRUITER)
    response = client.post(path, {"username": "owner", "password": "secret-pass-123"}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302
    [row] = AuditEvent.objects.all()
    assert (row.action, row.user, row.employer_id, row.detail, row.remote_addr) == (
        AuditAction.LOGIN, cast.owner, cast.employer.pk, f"login to the {where}", "198.51.100.7")


def test_a_failed_login_writes_nothing(client, cast):
    response = client.post("/accounts/login/", {"username": "teammate", "password": "wrong"})
    assert response.status_code == 200
    assert not AuditEvent.objects.exists()


# --- admin: read-only, per employer, exported ----------------------------------------------------


@pytest.fixture
def logged(cast, lead):
    """A row for each employer: A's is about its lead, B's about one of B's."""
    audit_record(action=AuditAction.VIEWED, employer_id=cast.employer.pk, lead_id=lead.pk, user=cast.teammate,
                 detail="lead page")
    theirs = LeadFactory(employer=cast.other_employer)
    audit_record(action=AuditAction.VIEWED, employer_id=cast.other_employer.pk, lead_id=theirs.pk,
                 user=cast.outsider, detail="lead page")
    return AuditEvent.objects.get(employer=cast.employer, action=AuditAction.VIEWED)


def superuser():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_nobody_changes_or_deletes_a_row_in_admin(client, cast, logged, who):
    client.force_login(superuser() if who == "superuser" else cast.owner)
    change = reverse("admin:leads_auditevent_change", args=[logged.pk])
    delete = reverse("admin:leads_auditevent_delete", args=[logged.pk])
    assert client.get(change).status_code == 200  # shown, read-only
    assert client.post(change, {"detail": "nothing to see", "action": "changed"}).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:leads_auditevent_add")).status_code == 403
    assert client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [logged.pk],
                                    "post": "yes"}).status_code in (200, 302)  # "no such action"
    after = AuditEvent.objects.get(pk=logged.pk)
    assert (after.detail, after.action) == ("lead page", AuditAction.VIEWED)


def test_the_model_refuses_updates_and_deletes(logged):
    logged.detail = "edited"
    with pytest.raises(ValueError):
        logged.save()
    with pytest.raises(ValueError):
        logged.delete()


def test_an_employers_admin_sees_only_its_rows(client, cast, logged):
    client.force_login(cast.outsider)  # the admin of employer B
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert logged.pk not in shown
    assert shown == set(AuditEvent.objects.filter(employer=cast.other_employer).values_list("pk", flat=True))
    assert client.get(reverse("admin:leads_auditevent_change", args=[logged.pk])).status_code == 404
    assert client.get(CHANGELIST, {"lead_id": logged.lead_id}).context["cl"].result_count == 0
    assert all(row[1] == cast.other_employer.name for row in csv_rows(client.get(EXPORT))[1:])


def test_recruiters_do_not_see_the_log(client, cast, logged):
    cast.teammate.is_staff = True
    cast.teammate.save()
    client.force_login(cast.teammate)
    assert client.get(CHANGELIST).status_code == 403


def test_filters_narrow_the_log(client, cast, lead, logged):
    audit_record(action=AuditAction.CHANGED, employer_id=cast.employer.pk, lead_id=lead.pk, user=cast.owner,
                 detail="profile: phone")
    audit_record(action=AuditAction.VIEWED, employer_id=cast.employer.pk, lead_id=lead.pk + 1000, user=cast.owner)
    client.force_login(cast.owner)

    def shown(params) -> list[str]:
        response = client.get(CHANGELIST, params)
        assert response.status_code == 200
        return sorted(f"{r.action} {r.lead_id} {r.username}" for r in response.context["cl"].result_list)

    assert shown({"action__exact": "changed"}) == [f"changed {lead.pk} owner"]
    assert shown({"user": cast.teammate.pk}) == [f"viewed {lead.pk} teammate"]
    assert shown({"q": str(lead.pk)}) == [f"changed {lead.pk} owner", f"viewed {lead.pk} teammate"]
    assert shown({"lead_id": lead.pk + 1000}) == [f"viewed {lead.pk + 1000} owner"]
    assert len(shown({"at__gte": (timezone.now() - dt.timedelta(days=1)).isoformat()})) == 3 + 1  # and a login
    assert shown({"q": "not-a-number"}) == []


def test_the_log_exports_as_csv_with_the_filters(client, cast, lead, logged):
    audit_record(action=AuditAction.CHANGED, employer_id=cast.employer.pk, lead_id=lead.pk, user=cast.owner,
                 detail="=HYPERLINK(\"x\")")
    client.force_login(cast.owner)
    response = client.get(EXPORT, {"lead_id": lead.pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = csv_rows(response)
    assert table[0] == ["at (UTC)", "employer", "username", "action", "lead_id", "detail", "remote_addr"]
    assert [row[2:6] for row in table[1:]] == [
        ["owner", "changed", str(lead.pk), "'=HYPERLINK(\"x\")"],  # newest first, formulas neutralised
        ["teammate", "viewed", str(lead.pk), "lead page"],
    ]
    # The action, on every matching row of the filtered list.
    response = client.post(CHANGELIST + "?action__exact=viewed", {
        "action": "export_csv", "select_across": "1", "index": "0", "_selected_action": [logged.pk]})
    assert [row[2:5] for row in csv_rows(response)[1:]] == [["teammate", "viewed", str(lead.pk)]]


def test_the_export_action_skips_another_employers_rows(client, cast, logged):
    MembershipFactory(user=cast.owner, employer=cast.other_employer, role=Role.RECRUITER)
    theirs = AuditEvent.objects.get(employer=cast.other_employer, action=AuditAction.VIEWED)
    client.force_login(cast.owner)
    response = client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [logged.pk, theirs.pk]})
    assert [row[1] for row in csv_rows(response)[1:]] == [cast.employer.name]
