"""Walk every URL pattern of the project as an outsider (the admin of another employer, logged in
and holding their employer's API key) and as an anonymous visitor, with the ids and tokens of
cast.employer's rows: never 200 with the data, never 500, and nothing of cast.employer changes.

The patterns come from the project's resolver, recursively, so a pattern added later is walked
too, or fails here until it is (or is excluded below, with the reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone

from leads.access import tenant_path
from leads.admin.tenancy import is_tenant_model
from leads.models import (
    AuditEvent,
    Consent,
    ImportJob,
    Lead,
    MergedLead,
    PrivacyPolicy,
    ProfileChange,
    SavedView,
    Task,
    UserPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from leads.services.api_keys import api_key_create
from leads.tokens import Purpose, token_make
from tests.factories import (
    ActivityFactory,
    CitizenshipFactory,
    ClosedReasonFactory,
    EmailTemplateFactory,
    InquiryFactory,
    LeadFactory,
    MarkedEventFactory,
    NoteFactory,
    OpeningFactory,
    OutboundEmailFactory,
    PossibleDuplicateFactory,
    SequenceFactory,
    SequenceStepFactory,
    SkillFactory,
    StageEventFactory,
    SubmissionFactory,
    WorkerHeartbeatFactory,
)

SECRET_NAME = "Zyxwv Secretlead"
SECRET_EMAIL = "zyxwv.secret@example.org"
SECRETS = (SECRET_NAME, SECRET_EMAIL, "Other Secret", "secret note", "PDF-1.4 secret")
# Shown on cast.employer's own public pages, and nowhere else an outsider can reach.
EMPLOYER_SECRETS = ("Kiwi Ledger", "Secret Opening", "Secret Template")

# Patterns deliberately not walked, by route, each with the reason. Nothing yet: static and media
# files are not in the URLconf (whitenoise serves them), and the admin's own generic URLs are
# walked like every other (test_admin.py checks their tenancy in more depth).
EXCLUDED: dict[str, str] = {}

# Regex patterns have no converters to fill in: the path each is requested at.
REGEX_PATHS = {
    "admin/(?P<app_label>auth|django_celery_beat|axes|leads)/$": "/admin/leads/",
    "admin/(?P<url>.*)$": "/admin/no-such-page/",
}

# Pages an anonymous visitor may see (200): public by design, none shows a lead's data.
PUBLIC = {
    "leads:public_apply", "leads:public_thanks", "leads:public_logo", "brand_css", "healthz", "csp_report",
    "login", "logout", "admin:login", "admin:logout", "my-data-request", "unsubscribe", "still-interested",
    "my-data", "leads:team_invite_accept", "leads:my_data_download",
    # The API's description and its docs page: the same for everybody, no data in either.
    "api:openapi-json", "api:openapi-view", "api:api-root",
    # The translations of the scripts' strings: the same for everybody.
    "javascript-catalog",
}
# Links from an email: the walk sends a token of the secret lead made for another purpose, which
# must open nothing (an unsubscribe link is not a my-data link).
TOKEN_PURPOSES = {
    "unsubscribe": Purpose.STILL_INTERESTED,
    "still-interested": Purpose.MY_DATA,
    "my-data": Purpose.UNSUBSCRIBE,
    # An invitation to set a password: a lead's token must open nothing there.
    "leads:team_invite_accept": Purpose.MY_DATA,
    "leads:my_data_download": Purpose.UNSUBSCRIBE,
}
# Recruiter pages without an id in the URL: they answer with the outsider's own data only.
OWN_PAGES = {
    "leads:dashboard", "leads:lead_list", "leads:board", "leads:lead_add", "leads:export_csv", "leads:time_zone",
    "leads:bulk_action", "leads:tasks", "leads:team", "leads:team_invite", "leads:saved_view_create",
    "leads:board_column",
    # The API's lists, for the outsider's key: the outsider's own rows only.
    "api:leads", "api:stage_events", "api:openings",
}
# URL arguments that name one of cast.employer's rows (or a token of one): the outsider gets 404
# (403 in admin for a model that is not an employer's), never the row.
ID_ARGUMENTS = {"pk", "other_pk", "change_pk", "object_id", "id", "content_type_id", "job_id", "token", "task_pk",
                "membership_id", "view_pk", "employer_id", "lead_id"}
ADMIN_ROUTE = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/")
CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")

POST_DATA = {"to_stage": "contacted", "owner": "", "body": "hacked", "kind": "call", "summary": "hacked",
             "action": "pause", "name": "Hacked", "email": "hacked@example.org", "reason": "x", "post": "yes",
             "status": "accepted", "decision": "accept", "time_zone": "Europe/Dublin"}

# Endpoints that read the raw body are posted what their callers send. A form body at the CSP
# endpoint is a 500 today: see test_a_form_posted_to_the_csp_endpoint_is_not_a_500.
RAW_POSTS = {
    "csp_report": ("application/csp-report", '{"csp-report": {"blocked-uri": "https://example.org/x"}}'),
    "api:inquiries": ("application/json", '{"email": "hacked@example.org", "name": "Hacked"}'),
    "api:lead_stage": ("application/json", '{"stage": "contacted", "reason": "x"}'),
    "api:lead_notes": ("application/json", '{"body": "hacked"}'),
}


@dataclass(frozen=True)
class Pattern:
    name: str | None  # with its namespaces ("leads:lead_detail"); admin has unnamed ones
    route: str  # the full route, as ResolverMatch.route gives it
    arguments: tuple[str, ...]
    regex: bool


def project_patterns(patterns=None, prefix: str = "", namespace: str = "") -> Iterator[Pattern]:
    """Every URL pattern of the project, with the full route and the namespaced name."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        piece = str(entry.pattern).removeprefix("^")  # how Django joins routes for ResolverMatch
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from project_patterns(entry.url_patterns, prefix + piece, inner)
        elif isinstance(entry, URLPattern):
            yield Pattern(name=f"{namespace}{entry.name}" if entry.name else None, route=prefix + piece,
                          arguments=tuple(entry.pattern.regex.groupindex),
                          regex=isinstance(entry.pattern, RegexPattern))


def walked_patterns() -> list[Pattern]:
    return [p for p in project_patterns() if p.route not in EXCLUDED]


@pytest.fixture
def world(cast, settings, tmp_path) -> dict:
    """A row of every model admin lists, for cast.employer, and the values the URLs take."""
    settings.MEDIA_ROOT = str(tmp_path)
    employer = cast.employer
    lead = LeadFactory(employer=employer, name=SECRET_NAME, email=SECRET_EMAIL, owner=cast.teammate)
    lead.cv.save("cv.pdf", ContentFile(b"%PDF-1.4 secret"))
    other = LeadFactory(employer=employer, name="Other Secret", email="other.secret@example.org")
    opening = OpeningFactory(employer=employer, title="Secret Opening")
    template = EmailTemplateFactory(employer=employer, name="Secret Template")
    sequence = SequenceFactory(employer=employer)
    change = ProfileChange.objects.create(lead=lead, field="phone", old_value="", new_value="+64215550000",
                                          status=ProfileChange.Status.PROPOSED)
    job = ImportJob.objects.create(employer=employer, file_name="secret.csv", file="imports/secret.csv")
    task = Task.objects.create(employer=employer, lead=lead, owner=cast.owner, title="secret note task",
                               due_at=timezone.now())
    view = SavedView.objects.create(employer=employer, owner=cast.teammate, name="secret note view",
                                    query="stage=new", shared=True)
    merged = MergedLead.objects.create(employer=employer, merged_id=lead.pk + 1000, kept=lead)
    policy = PrivacyPolicy.objects.create(employer=employer, version="secret v1", text="secret note policy")
    consent = Consent.objects.create(employer=employer, lead=lead, purpose="inquiry", granted=True,
                                     wording="secret note wording", channel="web_form", policy=policy)
    audit = AuditEvent.objects.create(employer=employer, lead_id=lead.pk, action="viewed", detail="secret note")
    hook = WebhookEndpoint.objects.create(employer=employer, url="https://hooks.example.org/secret-note",
                                          description="secret note hook", events=["lead.created"], secret="whsec_x")
    delivery = WebhookDelivery.objects.create(employer=employer, endpoint=hook, event_type="lead.created",
                                              body='{"data": "secret note"}', last_response="secret note")
    rows = [
        employer, lead, opening, template, sequence, change, job, task, view, merged, policy, consent, audit,
        hook, delivery,
        PossibleDuplicateFactory(lead=lead, other=other), NoteFactory(lead=lead, body="secret note"),
        ActivityFactory(lead=lead), InquiryFactory(lead=lead), OutboundEmailFactory(lead=lead),
        StageEventFactory(lead=lead), CitizenshipFactory(lead=lead), SkillFactory(employer=employer),
        ClosedReasonFactory(employer=employer), SequenceStepFactory(sequence=sequence, template=template),
        MarkedEventFactory(employer=employer), SubmissionFactory(employer=employer),
        employer.memberships.first(), api_key_create(employer=employer, name="Secret key")[0],
        # Models of no employer: staff who are not superusers get 403 whatever the id.
        cast.owner, Group.objects.create(name="Secret group"), WorkerHeartbeatFactory(),
        UserPreference.objects.create(user=cast.owner, time_zone="Pacific/Auckland"),
    ]
    objects = {}
    for row in rows:
        objects.setdefault(type(row), row)
    return {
        "objects": objects,
        "pk": lead.pk, "other_pk": other.pk, "change_pk": change.pk, "job_id": job.pk, "task_pk": task.pk,
        "membership_id": employer.memberships.get(user=cast.teammate).pk, "view_pk": view.pk, "stage": "new",
        "employer_id": employer.pk, "lead_id": lead.pk,
        "slug": employer.slug, "name": "funnel",
        "content_type_id": ContentType.objects.get_for_model(Lead).pk,
        "outsider_key": _key_with_every_scope(cast.other_employer),
    }


def _key_with_every_scope(employer) -> str:
    key, raw = api_key_create(employer=employer, name="Outsider key")
    key.scope_read = key.scope_write = True
    key.save(update_fields=["scope_read", "scope_write"])
    return raw


def object_id(pattern: Pattern, world: dict) -> int:
    """The id of cast.employer's row of the model an admin URL is about."""
    if pattern.name == "admin:view_on_site":
        return world["pk"]
    found = ADMIN_ROUTE.match(pattern.route)
    assert found, f"{pattern.route}: no model in this admin URL; say which id to walk it with"
    model = apps.get_model(found["app"], found["model"])
    row = world["objects"].get(model)
    if row is None:
        assert not is_tenant_model(model), f"add a {model.__name__} of cast.employer to the world"
        row = model.objects.order_by("pk").first()
    return row.pk if row else 1


def url_for(pattern: Pattern, world: dict) -> str:
    if pattern.regex:
        assert pattern.route in REGEX_PATHS, f"{pattern.route}: add the path to walk it at to REGEX_PATHS"
        return REGEX_PATHS[pattern.route]

    def value(match: re.Match) -> str:
        argument = match[1]
        if argument == "token":
            assert pattern.name in TOKEN_PURPOSES, f"{pattern.name}: say which wrong token to walk it with"
            return token_make(TOKEN_PURPOSES[pattern.name], world["pk"])
        if argument in ("object_id", "id"):  # "id": the admin's user password page
            return str(object_id(pattern, world))
        assert argument in world, f"{pattern.route}: add a value for <{argument}> to the world"
        return str(world[argument])

    return "/" + CONVERTER.sub(value, pattern.route)


def request(client, method: str, pattern: Pattern, url: str, data: dict, headers: dict | None = None):
    if method == "post" and pattern.name in RAW_POSTS:
        content_type, body = RAW_POSTS[pattern.name]
        return client.post(url, body, content_type=content_type, headers=headers)
    return getattr(client, method)(url, data, headers=headers)


def snapshot(employer) -> dict[str, list[str]]:
    """Every row of every model of cast.employer, as values: nothing of it may change."""
    rows = {}
    for model in admin.site._registry:
        if is_tenant_model(model):
            values = model.objects.filter(**{tenant_path(model): employer.pk}).values()
            rows[model._meta.label] = sorted(repr(sorted(row.items())) for row in values)
    return rows


def test_every_pattern_of_the_project_is_walked(world):
    patterns = list(project_patterns())
    routes = [p.route for p in patterns]
    assert len(routes) == len(set(routes)), "two patterns share a route"
    namespaces = {p.name.split(":")[0] for p in patterns if p.name and ":" in p.name}
    assert {"leads", "admin", "reports", "api"} <= namespaces, namespaces
    assert set(EXCLUDED) <= set(routes), f"stale exclusions: {set(EXCLUDED) - set(routes)}"
    for pattern in walked_patterns():
        path = url_for(pattern, world)
        assert resolve(path).route == pattern.route, f"{path} is not a URL of {pattern.route}"
    # Arguments that name no row: an app, a path, an employer's public slug, a report, a board column.
    arguments = {a for p in patterns for a in p.arguments} - {"app_label", "url", "slug", "name", "stage"}
    assert arguments <= ID_ARGUMENTS, f"classify the new URL arguments: {arguments - ID_ARGUMENTS}"


def test_outsider_walks_every_url(client, cast, world):
    before = snapshot(cast.employer)
    headers = {"Authorization": f"Bearer {world['outsider_key']}"}
    requested = set()
    for pattern in walked_patterns():
        url = url_for(pattern, world)
        for method in ("get", "post"):
            client.force_login(cast.outsider)  # the walk's logout pages log them out
            if method == "post":
                data = {**POST_DATA, "ids": [world["pk"], world["other_pk"]],
                        "_selected_action": [world["pk"], world["other_pk"]]}
            elif pattern.name == "reports:report":
                data = {"employer": cast.employer.pk}
            else:
                data = {}
            response = request(client, method, pattern, url, data, headers=headers)
            requested.add(resolve(url).route)
            where = f"{method.upper()} {url}"
            assert response.status_code < 500, where
            if pattern.name in PUBLIC:
                _assert_no_lead_data(response, where)
            elif set(pattern.arguments) & ID_ARGUMENTS or pattern.name == "reports:report":
                foreign = (301, 302, 403, 404, 405) if pattern.route.startswith("admin/") else (404, 405)
                assert response.status_code in foreign, f"{where}: {response.status_code}"
                _assert_no_lead_data(response, where, extra=EMPLOYER_SECRETS)
            else:
                if pattern.name in OWN_PAGES:
                    assert response.status_code in (200, 302, 400, 405), where
                _assert_no_lead_data(response, where, extra=EMPLOYER_SECRETS)
    assert requested == {p.route for p in walked_patterns()}
    assert snapshot(cast.employer) == before


def test_anonymous_walks_every_url(client, cast, world):
    before = snapshot(cast.employer)
    logins = (reverse("login"), reverse("admin:login"))
    requested = set()
    for pattern in walked_patterns():
        url = url_for(pattern, world)
        for method in ("get", "post"):
            response = request(client, method, pattern, url, POST_DATA if method == "post" else {})
            requested.add(resolve(url).route)
            where = f"{method.upper()} {url}"
            assert response.status_code < 500, where
            if pattern.name in PUBLIC:
                _assert_no_lead_data(response, where)
            elif response.status_code == 302:
                assert response["Location"].startswith(logins), where
            else:
                assert response.status_code in (401, 403, 405), f"{where}: {response.status_code}"
                _assert_no_lead_data(response, where, extra=EMPLOYER_SECRETS)
    assert requested == {p.route for p in walked_patterns()}
    assert snapshot(cast.employer) == before


def test_public_pages_need_no_login(client, cast, world):
    assert client.get(reverse("leads:public_apply", args=[cast.employer.slug])).status_code == 200


def test_a_form_posted_to_the_csp_endpoint_is_not_a_500(client, db):
    assert client.post(reverse("csp_report"), {"csp-report": "x"}).status_code == 400


def _assert_no_lead_data(response, where: str, extra: tuple[str, ...] = ()) -> None:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    body = raw.decode(errors="replace")
    for secret in (*SECRETS, *extra):
        assert secret not in body, f"{where} shows {secret!r}"
