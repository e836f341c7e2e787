"""Fuzz the JSON API: POST /api/v1/inquiries (and GET /api/v1/openings) with hostile bodies.

Every answer is JSON and below 500; anything but a 201 stores nothing.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from hypothesis import given
from hypothesis import strategies as st

from leads.models import ApiKey, Inquiry, MoveTimeline, OutboundEmail, RelocatingWith, VisaPathway
from leads.services.api_keys import api_key_create, api_keys_revoke
from tests.factories import OpeningFactory
from tests.fuzz import (
    BAD_COUNTRIES,
    BAD_DATES,
    BAD_EMAILS,
    BAD_PHONES,
    BAD_URLS,
    BAD_ZONES,
    COUNTRIES,
    DATES,
    EMAILS,
    FUZZ,
    NAMES,
    PHONES,
    URLS,
    ZONES,
    check,
    enum_values,
    fresh_client,
    fuzzing,
    nasty_text,
    pick,
)


@pytest.fixture(autouse=True)
def _fuzz_settings(settings):
    settings.RELOCATE_API_RATE = 10**9
    settings.RELOCATE_API_AUTH_FAILURE_RATE = 10**9
    cache.clear()
    with fuzzing():
        yield
    cache.clear()


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is: numbers no encoder writes, broken fragments."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object as its members in order: a name may repeat."""

    items: list[tuple[str, Any]]


def to_json(value: Any, ascii_only: bool) -> str:
    """JSON text; a dict given as a list of pairs may repeat a key, a Raw goes in verbatim."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=ascii_only)}:{to_json(v, ascii_only)}"
                              for k, v in value.items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, ascii_only) for v in value) + "]"
    if isinstance(value, dict):
        return to_json(Pairs(list(value.items())), ascii_only)
    return json.dumps(value, ensure_ascii=ascii_only)  # NaN and Infinity as JavaScript writes them


@functools.cache
def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
        st.floats(allow_nan=True, allow_infinity=True), nasty_text(surrogates=True),
        st.sampled_from([Raw("1" + "0" * 5000), Raw("1e999"), Raw("-1e999"), Raw("1E+400"), Raw("-0"),
                         Raw("0.0000000000000000000001"), Raw("123456789012345678901234567890")]),
    )
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=8)


def deep(levels: int, leaf: str = "1") -> Raw:
    return Raw("[" * levels + leaf + "]" * levels)


INTS_GOOD = st.sampled_from([0, 3, 7, 20])
INTS_BAD = st.one_of(st.sampled_from([-1, 71, 2**63, 2**64, 2**63 - 1, 1.5, 7.0, "7", True, False, [7], {"n": 7},
                                      Raw("1e400"), Raw("7.0"), Raw("1" + "0" * 400), float("nan")]),
                     st.integers())
BOOLS_GOOD = st.booleans()
BOOLS_BAD = st.sampled_from(["true", "yes", 1, 0, [True], {"v": True}, "", Raw("tru"), -1])
# Field -> (good values, bad values).
API_FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "email": (st.sampled_from(EMAILS), st.one_of(st.sampled_from(BAD_EMAILS), st.just(["a@example.org"]))),
    "name": (st.sampled_from(NAMES), nasty_text(surrogates=True)),
    "subject": (st.sampled_from(["Moving to NZ", ""]), nasty_text(surrogates=True)),
    "message": (st.sampled_from(["Hello, I would like to move.", ""]), nasty_text(surrogates=True)),
    "received_at": (st.sampled_from(["2026-01-05T03:00:00Z", "2025-11-09T03:00:00+13:00", "2026-01-01T00:00:00.5Z"]),
                    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z",
                                     "2026-11-09T03:00:00", "2026-02-30T00:00:00Z", "tomorrow", "2026-11-09",
                                     "2026-11-09T03:00:00+25:00", "2026-11-09T24:00:00Z", "1e9", "",
                                     "9999-12-31T23:59:59-14:00", "2026-11-09T03:00:00Z\x00", 1_700_000_000])),
    "phone": (st.sampled_from(PHONES), st.sampled_from(BAD_PHONES)),
    "current_country": (st.sampled_from(COUNTRIES), st.sampled_from(BAD_COUNTRIES)),
    "current_city": (st.sampled_from(["Wellington", "São Paulo"]), nasty_text(surrogates=True)),
    "time_zone": (st.sampled_from(ZONES), st.sampled_from(BAD_ZONES)),
    "profile_url": (st.sampled_from(URLS), st.sampled_from(BAD_URLS)),
    "role_of_interest": (st.sampled_from(["Nurse", ""]), nasty_text(surrogates=True)),
    "visa_pathway": (st.sampled_from(enum_values(VisaPathway)), st.sampled_from(["nope", "", "PARTNER"])),
    "earliest_move_date": (st.sampled_from([d for d in DATES if d]), st.one_of(st.sampled_from(BAD_DATES),
                                                                                st.just(20261109))),
    "move_timeline": (st.sampled_from(enum_values(MoveTimeline)), st.sampled_from(["soon", "", "3M"])),
    "relocating_with": (st.sampled_from(enum_values(RelocatingWith)), st.sampled_from(["dog", ""])),
    "credentials_to_recognise": (st.just("RN"), nasty_text(surrogates=True)),
    "motivation": (st.just("Mountains."), nasty_text(surrogates=True)),
    **{name: (st.sampled_from(["linkedin", ""]), nasty_text(surrogates=True))
       for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")},
    "opening": (st.sampled_from(["OPENING", None]), INTS_BAD),
    "years_experience": (INTS_GOOD, INTS_BAD),
    "dependants": (INTS_GOOD, INTS_BAD),
    **dict.fromkeys(("needs_sponsorship", "partner_needs_work_rights", "marketing_opt_in", "privacy_accepted"),
                    (BOOLS_GOOD, BOOLS_BAD)),
    "citizenships": (st.lists(st.sampled_from(COUNTRIES), max_size=3),
                     st.one_of(st.just("US"), st.lists(st.one_of(st.sampled_from(BAD_COUNTRIES), st.integers(),
                                                                 st.none(), st.just("x" * 101)), min_size=1),
                               st.just(["US"] * 51), st.just([["US"]]))),
    "skills": (st.lists(st.sampled_from(["Python", "Go", "SQL"]), max_size=3),
               st.one_of(st.just("Python"), st.lists(nasty_text(surrogates=True), min_size=1, max_size=60))),
}


_MODES = st.sampled_from(["good", "good", "few", "few", "chaos"])
_HOW = st.sampled_from(["bad", "bad", "null", "missing", "twice", "any", "nested"])
_UNKNOWN_NAMES = st.one_of(st.text(max_size=12), st.sampled_from(["__proto__", "employer", "api_key", "\udfff", "",
                                                                  "lead", "id"]))


@st.composite
def inquiry_objects(draw) -> Pairs:
    """An object with mostly good fields and a few broken ones (or chaos)."""
    names = list(API_FIELDS)
    present = ["email"] + [n for n in names[1:] if draw(st.integers(0, 3)) == 0]
    mode = draw(_MODES)
    chosen = set()
    if mode == "few":
        chosen = set(pick(draw, names))
    elif mode == "chaos":
        chosen = {n for n in names if draw(st.booleans())}
    items: list[tuple[str, Any]] = []
    for name in dict.fromkeys(present + sorted(chosen)):
        good, bad = API_FIELDS[name]
        how = draw(_HOW) if name in chosen else "good"
        if how == "missing":
            continue
        if how in ("good", "twice"):
            value = draw(good)
        elif how == "bad":
            value = draw(bad)
        elif how == "null":
            value = None
        elif how == "any":
            value = draw(json_values())
        else:
            value = {"value": draw(good)}
        items.append((name, value))
        if how == "twice":
            items.append((name, draw(st.one_of(good, bad))))
    if draw(st.integers(0, 5)) == 0:
        items.append((draw(_UNKNOWN_NAMES), draw(json_values())))
    return Pairs(items)


BODIES = st.one_of(
    *[inquiry_objects()] * 10,
    json_values(),  # any JSON at all, top-level non-objects included
    st.sampled_from([deep(100_000), deep(50, '{"email": "a@example.org"}'), Raw('{"email": ' + "[" * 5000 + "]" * 5000
                                                                                + "}"),
                     Raw("[]"), Raw('"x"'), Raw("1"), Raw("null"), Raw("true"), Raw(""), Raw("{"), Raw("{}"),
                     Raw('{"email": "a@example.org",}'), Raw("{'email': 'a@example.org'}"), Raw("\ufeff{}"),
                     Raw('{"email": "a@example.org"} {"email": "b@example.org"}'), Raw('{"email": NaN}'),
                     Raw('{"email": "\\udfff@example.org"}'), Raw('{"name": "\\ud800", "email": "a@example.org"}'),
                     Raw('{"email": "a@example.org", "name": "\\u0000"}')]),
)
CONTENT_TYPES = st.sampled_from(["application/json"] * 40 + [
    "application/json; charset=utf-8", "application/json; charset=UTF-8", "application/json; charset=latin-1",
    "application/json; charset=bogus", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
    "application/json; charset=utf-16", "", "application/vnd.api+json", "APPLICATION/JSON"])


def test_api_inquiries(cast):
    opening = OpeningFactory(employer=cast.employer, title="Backend Engineer")
    _, raw = api_key_create(employer=cast.employer, name="fuzz")
    _, other_raw = api_key_create(employer=cast.other_employer, name="elsewhere")
    revoked, revoked_raw = api_key_create(employer=cast.employer, name="old")
    api_keys_revoke(keys=ApiKey.objects.filter(pk=revoked.pk))
    client = fresh_client()
    authorizations = st.sampled_from(
        [f"Bearer {raw}"] * 40 + [f"Bearer {other_raw}", f"Bearer {revoked_raw}", "", "Bearer", "Bearer rk_x_y",
                                 f"bearer  {raw}  ", f"Basic {raw}", f"Bearer {raw}\x00", "Bearer " + "k" * 300,
                                 f"Bearer {raw[:-1]}é"])

    @FUZZ
    @given(body=BODIES, ascii_only=st.booleans(), content_type=CONTENT_TYPES, authorization=authorizations,
           invalid_bytes=st.sampled_from([b""] * 20 + [b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"]),
           target=st.sampled_from([("POST", "/api/v1/inquiries")] * 40 + [
               ("GET", "/api/v1/inquiries"), ("PUT", "/api/v1/inquiries"), ("GET", "/api/v1/openings"),
               ("POST", "/api/v1/openings"), ("POST", "/api/v1/inquiries/")]))
    def run(body, ascii_only, content_type, authorization, invalid_bytes, target):
        method, path = target
        text = to_json(body, ascii_only).replace('"OPENING"', str(opening.pk))
        data = text.encode("utf-8", "surrogatepass")
        if invalid_bytes and data.startswith(b"{"):
            data = b'{"email": "a@example.org", "name": "' + invalid_bytes + b'", ' + data[1:].lstrip(b"}")
            data = data if data.endswith(b"}") else data + b"}"
        headers = {"Authorization": authorization} if authorization else {}

        def stored_as_sent(response) -> None:
            # What a 201 stored reads back (a date that is not one would fail only later, on a page).
            answer = response.json()
            inquiry = Inquiry.objects.select_related("lead").get(pk=answer["inquiry"])
            assert inquiry.lead_id == answer["lead"]
            list(OutboundEmail.objects.filter(lead_id=inquiry.lead_id))

        response = check(lambda: client.generic(method, path, data, content_type=content_type, headers=headers),
                         what=f"{method} {path}", refused=lambda r: r.status_code != 201, then=stored_as_sent)
        if response.status_code != 404:
            answer_type = response.get("Content-Type", "")
            assert answer_type.startswith("application/json"), f"{method} {path}: not JSON but {answer_type!r}"
            json.loads(response.content)

    run()
