"""The record of processing in admin: generated from the profile's declaration and each
employer's settings, for the employers the user administers; recruiters do not open it."""

from __future__ import annotations

import html

import pytest

from leads import profile
from leads.models import Role
from leads.services.data_export import OTHER_DATA
from tests.browser.conftest import page  # noqa: F401  (the browser fixture, for the last test)
from tests.factories import MembershipFactory, UserFactory

URL = "/admin/leads/lead/processing-record/"


@pytest.fixture
def retention(cast):
    """Distinctive retention values for each employer."""
    for employer, months in ((cast.employer, (19, 23, 29)), (cast.other_employer, (37, 41, 43))):
        employer.retain_closed_months, employer.retain_inactive_months, employer.retain_unsubscribed_months = months
        employer.save(update_fields=["retain_closed_months", "retain_inactive_months", "retain_unsubscribed_months"])
    return cast


def text_of(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_every_personal_field_of_the_declaration_is_listed(client, retention):
    client.force_login(retention.owner)
    page_text = text_of(client.get(URL))
    for name in profile.PERSONAL_FIELDS:
        spec = profile.BY_NAME[name]
        for shown in (spec.label, spec.applicant_label, spec.purpose, spec.visible_to):
            assert f">{shown}<" in page_text, (name, shown)
    for held in OTHER_DATA:
        assert f">{held.label}<" in page_text and held.purpose in page_text
    for not_personal in ("Campaign source", "Legal basis"):
        assert f">{not_personal}<" not in page_text
    assert "Anonymised 19 months after it closed; or 23 months without activity; or 29 months after the person " \
           "unsubscribed" in page_text
    assert "closed: 19 months, inactive: 23 months, unsubscribed: 29 months" in page_text


def test_erasure_and_exports_follow_the_declaration(client, retention):
    client.force_login(retention.owner)
    page_text = text_of(client.get(URL))
    rows = {spec.label: page_text.split(f">{spec.label}<", 1)[1].split("</tr>", 1)[0]
            for spec in (profile.BY_NAME[n] for n in profile.PERSONAL_FIELDS)}
    assert "Cleared" in rows["Phone"] and "Kept, without the person's identity" in rows["Country"]
    assert ">No<" in rows["Time zone"] and ">Yes<" in rows["Phone"]  # the recruiters' CSV export


def test_the_notes_line_follows_the_employers_choice(client, cast):
    client.force_login(cast.owner)
    assert "“data export includes notes” is off" in text_of(client.get(URL))
    cast.employer.data_export_includes_notes = True
    cast.employer.save(update_fields=["data_export_includes_notes"])
    assert "“data export includes notes” is on" in text_of(client.get(URL))


def test_another_employers_settings_do_not_show(client, retention):
    client.force_login(retention.owner)
    page_text = text_of(client.get(URL))
    assert "Kiwi Ledger" in page_text and "Maple Games" not in page_text
    for months in ("37 months", "41 months", "43 months"):
        assert months not in page_text
    client.force_login(retention.outsider)
    page_text = text_of(client.get(URL))
    assert "Maple Games" in page_text and "Kiwi Ledger" not in page_text and "19 months" not in page_text


def test_a_superuser_sees_every_employer(client, retention):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page_text = text_of(client.get(URL))
    assert "Kiwi Ledger" in page_text and "Maple Games" in page_text


def test_recruiters_cannot_open_it(client, cast):
    client.force_login(cast.teammate)  # not staff: the admin's login page
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    staff_recruiter = UserFactory(is_staff=True)
    MembershipFactory(user=staff_recruiter, employer=cast.employer, role=Role.RECRUITER)
    client.force_login(staff_recruiter)
    assert client.get(URL).status_code == 403


def test_an_admin_of_two_employers_sees_both(client, cast):
    MembershipFactory(user=cast.owner, employer=cast.other_employer, role=Role.ADMIN)
    client.force_login(cast.owner)
    page_text = text_of(client.get(URL))
    assert "Kiwi Ledger" in page_text and "Maple Games" in page_text


def test_the_page_reads_a_fixed_number_of_queries(client, cast, django_assert_num_queries):
    MembershipFactory(user=cast.owner, employer=cast.other_employer, role=Role.ADMIN)
    client.force_login(cast.owner)
    client.get(URL)
    # session, user, the admin's employers, the employers with their member counts; then the
    # admin's own sidebar: the user's and the groups' permissions, the user's employers
    with django_assert_num_queries(7):
        assert client.get(URL).status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_page_passes_axe(page, live_server, cast):  # noqa: F811
    from tests.browser.test_team import serious_violations

    page.goto(f"{live_server.url}/accounts/login/?next={URL}")
    page.get_by_label("Username").fill(cast.owner.username)
    page.get_by_label("Password").fill("relocate-test")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}{URL}")
    page.get_by_role("heading", name="Kiwi Ledger").wait_for()
    assert serious_violations(page) == []
