"""Walk every URL pattern of the app as an outsider (a user of another employer) and as an
anonymous visitor, with ids of cast.employer's rows: never 200 with the data, never 500,
and nothing changes."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, get_resolver, reverse

from leads.models import Lead, Note, StageEvent
from tests.factories import (
    ActivityFactory,
    InquiryFactory,
    LeadFactory,
    NoteFactory,
    OpeningFactory,
    OutboundEmailFactory,
    PossibleDuplicateFactory,
)

SECRET_NAME = "Zyxwv Secretlead"
SECRET_EMAIL = "zyxwv.secret@example.org"
# Pages without an id in the URL: they answer 200, with the outsider's own data only.
LISTS = {"dashboard", "lead_list", "board", "lead_add", "export_csv", "time_zone"}
PUBLIC = {"public_apply", "public_thanks", "public_logo"}


def leads_patterns() -> list[URLPattern]:
    return [p for p in get_resolver("leads.urls").url_patterns if isinstance(p, URLPattern)]


@pytest.fixture
def world(cast, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead = LeadFactory(employer=cast.employer, name=SECRET_NAME, email=SECRET_EMAIL, owner=cast.teammate)
    lead.cv.save("cv.pdf", ContentFile(b"%PDF-1.4 secret"))
    other = LeadFactory(employer=cast.employer, name="Other Secret", email="other.secret@example.org")
    PossibleDuplicateFactory(lead=lead, other=other)
    NoteFactory(lead=lead, body="secret note")
    ActivityFactory(lead=lead)
    InquiryFactory(lead=lead)
    OutboundEmailFactory(lead=lead)
    OpeningFactory(employer=cast.employer, title="Secret Opening")
    return {"pk": lead.pk, "other_pk": other.pk, "slug": cast.employer.slug, "lead": lead}


def url_for(pattern: URLPattern, world: dict) -> str:
    kwargs = {name: world[name] for name in pattern.pattern.converters}
    return reverse(f"leads:{pattern.name}", kwargs=kwargs)


def snapshot() -> tuple:
    return (
        sorted(Lead.objects.values_list("pk", "name", "stage", "owner_id", "followups_paused")),
        Note.objects.count(),
        StageEvent.objects.count(),
    )


POST_DATA = {"to_stage": "contacted", "owner": "", "body": "hacked", "kind": "call", "summary": "hacked",
             "action": "pause", "name": "Hacked", "email": "hacked@example.org", "reason": "x"}


def test_every_pattern_is_covered():
    names = {p.name for p in leads_patterns()}
    assert names, "no URL patterns found"
    assert all(p.name for p in leads_patterns()), "every pattern needs a name to be walked"


def test_outsider_walks_every_url(client, cast, world):
    client.force_login(cast.outsider)
    before = snapshot()
    for pattern in leads_patterns():
        url = url_for(pattern, world)
        for method in ("get", "post"):
            data = {**POST_DATA, "ids": [world["pk"], world["other_pk"]]} if method == "post" else {}
            response = getattr(client, method)(url, data)
            where = f"{method.upper()} {url}"
            assert response.status_code < 500, where
            if pattern.name in PUBLIC:
                _assert_no_lead_data(response, where)
                continue
            if pattern.name in LISTS or pattern.name == "bulk_action":
                assert response.status_code in (200, 302, 400, 405), where
                _assert_no_lead_data(response, where, extra=("Secret Opening",))
            else:
                assert response.status_code in (404, 405), where
    assert snapshot() == before


def test_anonymous_walks_every_url(client, cast, world):
    before = snapshot()
    for pattern in leads_patterns():
        url = url_for(pattern, world)
        for method in ("get", "post"):
            response = getattr(client, method)(url, POST_DATA if method == "post" else {})
            where = f"{method.upper()} {url}"
            assert response.status_code < 500, where
            if pattern.name in PUBLIC:
                _assert_no_lead_data(response, where)
            elif response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), where
            else:
                assert response.status_code == 405, where
    assert snapshot() == before


def test_public_pages_need_no_login(client, cast, world):
    assert client.get(reverse("leads:public_apply", args=[cast.employer.slug])).status_code == 200


def _assert_no_lead_data(response, where: str, extra: tuple[str, ...] = ()) -> None:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    body = raw.decode()
    for secret in (SECRET_NAME, SECRET_EMAIL, "Other Secret", "secret note", "PDF-1.4 secret", *extra):
        assert secret not in body, f"{where} shows {secret!r}"
