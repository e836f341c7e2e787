"""Fuzz the recruiter UI: every POST form of a lead's page, the bulk action, adding a lead, the
time zone form, and the query strings of the list, the board, the CSV export and the dashboard.

No 500 whatever is sent; a refused form (4xx, the form again, or only error messages) stores
nothing; a GET never stores anything.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from leads.models import Lead, Opening, PossibleDuplicate, Stage
from leads.services.preferences import SESSION_KEY
from tests.factories import ClosedReasonFactory, LeadFactory, OpeningFactory, SkillFactory
from tests.fuzz import (
    ACTIVITY_KINDS,
    BAD_DATES,
    BAD_INTEGERS,
    BAD_ZONES,
    COUNTRIES,
    DATES,
    FUZZ,
    NEXTS,
    PROFILE_FIELDS,
    SOURCES,
    STAGES,
    check,
    choice,
    encodings,
    form_pairs,
    free_text,
    fresh_client,
    fuzzing,
    ids_as_text,
    nasty_text,
    post_form,
    query_pairs,
    refused_form,
    with_query,
)


@pytest.fixture(autouse=True)
def _quiet():
    with fuzzing():
        yield


class World:
    """The rows every example starts from (rolled back to after each one)."""

    def __init__(self, cast) -> None:
        employer = cast.employer
        self.cast = cast
        self.opening = OpeningFactory(employer=employer, title="Backend Engineer")
        self.closed_opening = OpeningFactory(employer=employer, title="Old role", status=Opening.Status.CLOSED)
        self.other_opening = OpeningFactory(employer=cast.other_employer, title="Elsewhere")
        self.reason = ClosedReasonFactory(employer=employer, label="Took another offer")
        self.inactive_reason = ClosedReasonFactory(employer=employer, label="Old reason", active=False)
        self.other_reason = ClosedReasonFactory(employer=cast.other_employer, label="Theirs")
        SkillFactory(employer=employer, name="Python")
        self.new = LeadFactory(employer=employer, name="Ana Silva", email="ana@example.org", phone="+14155552671")
        self.contacted = LeadFactory(employer=employer, name="Ben Okafor", email="ben@example.org",
                                     stage=Stage.CONTACTED, owner=cast.teammate, opening=self.opening)
        self.closed = LeadFactory(employer=employer, name="Cai Wen", email="cai@example.org", stage=Stage.DECLINED,
                                  closed_reason=self.reason)
        self.erased = LeadFactory(employer=employer, name="", email="erased-1@erased.invalid",
                                  erased_at=timezone.now())
        self.foreign = LeadFactory(employer=cast.other_employer, name="Dana Theirs", email="dana@example.org")
        PossibleDuplicate.objects.create(employer=employer, lead=self.new, other=self.contacted,
                                         reason=PossibleDuplicate.Reason.PHONE)
        Lead.objects.filter(pk=self.new.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
        self.lead_ids = [self.new.pk, self.contacted.pk, self.closed.pk]
        self.user_ids = [cast.owner.pk, cast.teammate.pk]

    def lead_pks(self) -> st.SearchStrategy[str]:
        """A lead id in a URL: mostly a lead of the user's employer, sometimes none at all."""
        return st.sampled_from([str(pk) for pk in self.lead_ids] * 4 + [
            str(self.erased.pk), str(self.foreign.pk), "0", "999999999", "9223372036854775808", "1" * 30])

    def ids(self, good: list[int], bad: list[int]) -> tuple[st.SearchStrategy[str], st.SearchStrategy[str]]:
        return st.sampled_from([str(i) for i in good]), st.one_of(st.sampled_from([str(i) for i in bad]), ids_as_text)

    def client(self, user, zone: str = ""):
        client = fresh_client()
        client.force_login(user)
        if zone:
            session = client.session
            session[SESSION_KEY] = zone
            session.save()
        return client


NEXT = (st.sampled_from(NEXTS), st.sampled_from(NEXTS))


def _forms(world: World) -> dict[str, dict]:
    """The fields of each POST form of a lead's page, as (good values, bad values)."""
    edit_fields = {k: v for k, v in PROFILE_FIELDS.items() if k not in ("email", "citizenships", "skills")}
    return {
        "note": {"body": free_text(["Called, will send the visa checklist.", "x"]), "next": NEXT},
        "activity": {"kind": choice(ACTIVITY_KINDS, ["system", "CALL", "", "email"]),
                     "summary": free_text(["Phone screen", "Sent the checklist"]),
                     "details": free_text(["", "Went well."]), "next": NEXT},
        "move": {"to_stage": choice(STAGES, ["", "NEW", "archived", "new\x00"]),
                 "reason": free_text(["", "Reopened after a call"]),
                 "closed_reason": world.ids([world.reason.pk, ""], [world.inactive_reason.pk, world.other_reason.pk]),
                 "next": NEXT},
        "assign": {"owner": world.ids([*world.user_ids, ""], [world.cast.outsider.pk]), "next": NEXT},
        "followups": {"action": choice(["pause", "resume"], ["", "PAUSE", "delete", "pause "]), "next": NEXT},
        "edit": {**edit_fields,
                 "opening": world.ids([world.opening.pk, world.closed_opening.pk, ""], [world.other_opening.pk]),
                 "marketing_opt_in": choice(["", "on"], ["maybe"]), "next": NEXT},
        "merge": {"next": NEXT},
        "not-duplicate": {"next": NEXT},
    }


def test_lead_page_forms(cast):
    world = World(cast)
    clients = {"teammate": world.client(cast.teammate), "owner": world.client(cast.owner, "Etc/GMT+12")}
    forms = _forms(world)
    form_strategies = {name: form_pairs(fields, multi={"next"}) for name, fields in forms.items()}
    other_pks = world.lead_pks()

    @FUZZ
    @given(data=st.data(), form=st.sampled_from(list(forms)), pk=world.lead_pks(), encoding=encodings,
           who=st.sampled_from(["teammate", "teammate", "owner"]),
           query=st.sampled_from(["", "", "", "?next=foo", "?next=//evil.example", "?next=javascript:alert(1)"]),
           htmx=st.sampled_from([{}, {}, {}, {"HTTP_HX_REQUEST": "true"}]))
    def run(data, form, pk, encoding, who, query, htmx):
        pairs = data.draw(form_strategies[form], label="pairs")
        if form in ("merge", "not-duplicate"):
            path = f"/leads/{pk}/{form}/{data.draw(other_pks, label='other_pk')}/"
        else:
            path = f"/leads/{pk}/{form}/"
        client = clients[who]
        client.cookies.pop("messages", None)
        check(lambda: post_form(client, path + query, pairs, encoding, **htmx), what=f"POST {path}{query} ({encoding})",
              refused=refused_form)

    run()


def test_recruiter_actions(cast):
    """The bulk action on the list, adding a lead by hand, and the time zone form."""
    world = World(cast)
    clients = {"teammate": world.client(cast.teammate), "owner": world.client(cast.owner, "Pacific/Kiritimati")}
    bulk = {
        "action": choice(["assign", "move", "pause", "export"], ["", "delete", "ASSIGN", "export\x00"]),
        "ids": world.ids(world.lead_ids, [world.foreign.pk, world.erased.pk]),
        "owner": world.ids([*world.user_ids, ""], [world.cast.outsider.pk]),
        "to_stage": choice([*STAGES, ""], ["NEW", "archived"]),
        "reason": free_text(["", "Bulk reopen"]),
        "closed_reason": world.ids([world.reason.pk, ""], [world.inactive_reason.pk, world.other_reason.pk]),
        "next": NEXT,
    }
    add = {
        "employer": world.ids([cast.employer.pk], [cast.other_employer.pk]),
        **PROFILE_FIELDS,
        "opening": world.ids([world.opening.pk, ""], [world.closed_opening.pk, world.other_opening.pk]),
        "how": free_text(["Phone call", "", "Job fair in Austin"]),
    }
    zones = {"time_zone": choice(["", "Pacific/Auckland", "America/New_York", "Etc/GMT-14", "Pacific/Kiritimati"],
                                 [*BAD_ZONES, "UTC", "Pacific/Auckland "]),
             "next": NEXT}
    strategies = {
        "/leads/bulk/": form_pairs(bulk, multi={"ids", "next"}),
        "/leads/new/": form_pairs(add, multi={"citizenships"}),
        "/account/time-zone/": form_pairs(zones, multi={"next"}),
    }

    @FUZZ
    @given(data=st.data(), path=st.sampled_from(list(strategies)), encoding=encodings,
           who=st.sampled_from(["teammate", "teammate", "owner"]),
           query=st.sampled_from(["", "", "", "?next=foo", "?next=//evil.example", "?next=leads:lead_list"]))
    def run(data, path, encoding, who, query):
        pairs = data.draw(strategies[path], label="pairs")
        client = clients[who]
        client.cookies.pop("messages", None)
        check(lambda: post_form(client, path + query, pairs, encoding), what=f"POST {path}{query} ({encoding})",
              refused=refused_form)

    run()


CURSORS = ["2026-01-01T00:00:00+00:00_5", "9999-12-31T23:59:59+00:00_1", "0001-01-01T00:00:00+00:00_1", "_",
           "x_-1", "2026-01-01T00:00:00+14:00_99999999999999999999", "2026-01-01T00:00:00_5", "2026-02-30T00:00:00Z_1",
           "2026-01-01T00:00:00Z_9223372036854775808", "2026-01-01T00:00:00Z_-5", "2026-01-01T00:00:00Z_1.5",
           "9999-12-31T23:59:59-14:00_1", "0001-01-01T00:00:00+14:00_1"]


def test_recruiter_query_strings(cast):
    world = World(cast)
    clients = {"teammate": world.client(cast.teammate), "owner": world.client(cast.owner, "Etc/GMT+12")}
    pk = world.new.pk
    values = st.sampled_from
    # Field -> good values, or (good values, bad values).
    filters = {
        "q": (values(["Ana", "an", "ana@", "+1 415", "Python", "415555", "", "a", "Ben Okafor", "4155552671",
                      "ana@example.org", "+14155552671"]),
              st.one_of(values(["+", "@", "%", "_", "\\", "'", "+" + "9" * 40, "@" * 300]), nasty_text())),
        "stage": (values([*STAGES, ""]), values(["NEW", "x", "new "])),
        "source": (values([*SOURCES, ""]), values(["web", "WEB_FORM"])),
        "current_country": (values([*COUNTRIES, ""]), values(["XX", "us", "USA"])),
        "citizenship": (values([*COUNTRIES, ""]), values(["ZZ", "gb"])),
        "opening": (values([str(world.opening.pk), ""]), values([str(world.other_opening.pk), "abc", "-1", "9" * 30])),
        "owner": (values([*[str(i) for i in world.user_ids], "none", ""]),
                  values([str(cast.outsider.pk), "abc", "9" * 30, "None"])),
        "move_timeline": (values(["now", "3m", ""]), values(["soon", "3M"])),
        "needs_sponsorship": (values(["yes", "no", ""]), values(["maybe", "true"])),
        "created_from": (values(DATES), values(BAD_DATES)),
        "created_to": (values(DATES), values(BAD_DATES)),
        "duplicate": (values(["on", "1", "true", ""]), values(["off", "0", "no"])),
        "sort": (values(["newest", "oldest", "active", ""]), values(["-created_at", "random", "id"])),
        "size": (values(["25", "50", "100", "200", ""]), values(["0", "-1", "1000000", "abc", *BAD_INTEGERS])),
        "after": (values(CURSORS[:1]), values(CURSORS[1:])),
        "next": (values(["/leads/", "/leads/?stage=new", ""]), values(NEXTS)),
        "to_stage": (values([*STAGES, ""]), values(["x" * 50, "NEW"])),
    }
    pages = ["/leads/", "/leads/", "/leads/board/", "/leads/board/", "/leads/export.csv", "/leads/export.csv", "/",
             f"/leads/{pk}/", f"/leads/{pk}/move/", f"/leads/{pk}/edit/", "/leads/new/", "/account/time-zone/",
             f"/leads/{pk}/cv/", f"/leads/{world.foreign.pk}/"]

    @FUZZ
    @given(pairs=query_pairs(filters), page=st.sampled_from(pages), who=st.sampled_from(["teammate", "owner"]),
           htmx=st.sampled_from([{}, {}, {}, {"HTTP_HX_REQUEST": "true"}]))
    def run(pairs, page, who, htmx):
        path = with_query(page, pairs)
        client = clients[who]
        client.cookies.pop("messages", None)
        # A GET stores nothing, whatever it answers.
        check(lambda: client.get(path, **htmx), what=f"GET {path[:300]}", refused=lambda r: True)

    run()
