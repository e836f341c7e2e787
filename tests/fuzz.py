"""What the fuzz tests (tests/test_fuzz_*.py) share: the hypothesis settings, strategies for
hostile input, how a form or query string is sent, and the two checks of every example.

Every example must hold to:
- no server error: the status is below 500 (the client is ``Client(raise_request_exception=False)``,
  so an exception in a view is the 500 a person would see; its traceback is in the failure);
- nothing stored from a refused input: a 4xx, a form shown again with its errors, or a redirect
  with only error messages leaves the row counts of the stored models as they were.

Each example runs inside a savepoint that is rolled back afterwards, so every example starts
from the same rows (built once per test function) and a failure replays exactly while
hypothesis shrinks it.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote_from_bytes

from django.conf import settings as settings_module
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.template.base import Template
from django.test import Client
from django.test.utils import _TestState
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine as _engine

from leads.models import (
    Activity,
    ActivityKind,
    Inquiry,
    Lead,
    MoveTimeline,
    Note,
    OutboundEmail,
    RelocatingWith,
    Source,
    Stage,
    StageEvent,
    Submission,
    VisaPathway,
)

# At least 1,000 generated cases per surface; FUZZ_EXAMPLES=50 for a quick local look.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: CI is reproducible
    print_blob=False,
    # No "explain" phase: it traces every line of a failing example again, which takes minutes
    # here; the failure carries the server's traceback instead.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile("fuzz", FUZZ)
# Shrinking one failure may take up to 5 minutes by default, here where each example is a
# whole request; 30 seconds still gives small examples, and the run stays short.
_engine.MAX_SHRINKING_SECONDS = int(os.environ.get("FUZZ_SHRINK_SECONDS", "30"))

# FUZZ_STATS=1 prints how often each surface answered each status, to see that validation goes deep.
_STATS: Counter[tuple[str, object]] = Counter()
if os.environ.get("FUZZ_STATS"):
    atexit.register(lambda: print("\n".join(f"{n:6} {w} {s}" for (w, s), n in sorted(_STATS.items(), key=str))))



def tally(what: str, outcome: object) -> None:
    """Count an outcome for FUZZ_STATS (for surfaces that answer with something else than a status)."""
    _STATS[(what, outcome)] += 1


STORED = (Lead, Inquiry, Submission, Note, Activity, StageEvent, OutboundEmail)


# --- hostile text -----------------------------------------------------------------------------

NUL_AND_CONTROL = ["\x00", "a\x00b", "Ana\x00", "\x00" * 3, "\x01\x02\x03", "\x07\x08\x0b\x0c", "\x1b[31mred\x1b[0m",
                   "\x7f", "\x85", "\x9b", "\x1f"]
LINE_BREAKS = ["\r\n", "a\rb", "a\nb", "x\r\n\r\nInjected: header", "\u2028", "\u2029", "\r", "\n"]
SCRIPTS = ["\u202egnp.exe\u202c", "\u200f\u200e\u202a\u202b", "مرحبا بالعالم", "שלום עולם", "日本語のテキスト",
           "中文名字", "한국어", "Привет, мир", "Ελληνικά", "हिन्दी", "ไทย", "José Müller", "Ærøskøbing", "İstanbul",
           "straße", "e\u0301", "ﬁ", "\ufeffBOM", "\u200b", "\ufffd", "\U0010ffff", "\uffff", "𝕳𝖊𝖑𝖑𝖔", "Ω≈ç√∫"]
EMOJI = ["😀", "\U0001f469\u200d\U0001f469\u200d\U0001f467", "\U0001f3f3\ufe0f\u200d\U0001f308", "🇳🇿", "❤️",
         "\U0001f9d1\U0001f3fd\u200d\U0001f4bb", "\U0001f4a9" * 20]
MARKUP = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "</textarea><script>x</script>",
          "{{ 7*7 }}", "{% debug %}", "${7*7}", "<!--", "]]>", "&amp;&#0;&#x0;", "javascript:alert(1)",
          "<svg/onload=alert(1)>"]
SQLISH = ["' OR '1'='1", "'; DROP TABLE leads_lead; --", "\" OR 1=1 --", "1) OR (1=1", "%", "_", "%%", "\\",
          "\\x00", "' UNION SELECT password FROM auth_user --", "$$", "E'\\\\'", "*", "?", "[a-z]"]
FORMULAS = ["=1+1", "=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "+cmd|' /C calc'!A0", "-1", "-2+3",
            "@SUM(A1:A2)", "\t=1", "\r=1", "\n=1", "=", "+", "-", "@"]
NUMBERISH = ["0", "-1", "1e400", "NaN", "Infinity", "-0", "0x1F", "１２", "٣", "99999999999999999999999999999",
             "9223372036854775808", "1.5", " 7 ", "null", "None", "true", "[]", "{}"]
SURROGATES = ["\udfff", "\ud800", "a\udc00b", "\ud83d", "\udfff" * 5]
SAMPLES = NUL_AND_CONTROL + LINE_BREAKS + SCRIPTS + EMOJI + MARKUP + SQLISH + FORMULAS + NUMBERISH + ["", " ", "  x  "]


@functools.cache
def long_text() -> st.SearchStrategy[str]:
    """Strings longer than any field allows (200, 300, 2,000, 10,000, 20,000 and 50,000 are limits)."""
    return st.builds(
        lambda unit, size: (unit * size)[:size],
        st.sampled_from(["x", "é", "日", "😀", "<b>", "=", "ab ", "\u202e"]),
        st.sampled_from([201, 255, 301, 1001, 2001, 10_001, 20_001, 50_001]),
    )


@functools.cache  # one strategy object each: building strategies inside draws is slow
def nasty_text(*, surrogates: bool = False) -> st.SearchStrategy[str]:
    """One value of any of the classes of bad text, or two or three of them joined."""
    atoms = [
        st.sampled_from(SAMPLES),
        st.text(st.characters(exclude_characters="\x00"), max_size=30),  # NUL comes from SAMPLES
        st.text(st.characters(min_codepoint=1, max_codepoint=0x1F), min_size=1, max_size=5),
    ]
    if surrogates:
        atoms.append(st.sampled_from(SURROGATES))
    atom = st.one_of(*atoms)
    return st.one_of(atom, st.lists(atom, min_size=2, max_size=3).map("".join), long_text())


def without_surrogates(text: str) -> str:
    """What can travel as UTF-8 at all (a lone surrogate cannot): each one as U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


# --- plausible values, so that validation goes deep --------------------------------------------

NAMES = ["Ana Silva", "José Müller", "李小龍", "Zoë O'Brien-Smith", "محمد علي", "A", "Dr. Ngāti Kahu"]
EMAILS = ["ana@example.org", "Ana.Silva@Example.org", "a+tag@sub.example.co.nz", "ben@example.com",
          "new.person@example.net", " spaced@example.org ", "UPPER@EXAMPLE.ORG"]
BAD_EMAILS = ["not-an-email", "a@", "@b.c", "a@b", "a@@b.c", "a b@c.d", "josé@example.org", "a@münchen.de",
              "x" * 250 + "@example.org", "x" * 300 + "@example.org",
              "<a@b.c>", "a@b.c\x00", "a@b.c\r\nBcc: x@y.z", "\"q\"@example.org"]
PHONES = ["+1 415 555 2671", "+64 21 123 4567", "+44 20 7946 0958", "+91 98765 43210"]
BAD_PHONES = ["(415) 555-2671", "021 123 4567",
              "12", "+", "++1 415", "phone", "+999 999", "1" * 41, "+1 415 555 2671 ext. 99999999", "٤١٥٥٥٥٢٦٧١"]
COUNTRIES = ["US", "NZ", "GB", "DE", "IN", "BR", "IE"]
BAD_COUNTRIES = ["XX", "us", "USA", "U", "", "ZZ", "Ü", "1"]
ZONES = ["Pacific/Auckland", "UTC", "America/New_York", "Europe/London", "Asia/Kolkata", ""]
BAD_ZONES = ["Mars/Olympus", "Etc/GMT+14", "../../etc/passwd", "utc", "localtime", "America/", "Europe/London\x00",
             "posixrules", "Factory", "EST5EDT"]
URLS = ["https://www.linkedin.com/in/ana", "linkedin.com/in/ana", "https://ana.example.org/portfolio", ""]
BAD_URLS = ["http://[::1", "javascript:alert(1)", "ftp://x", "https://", "http://exa mple.org", "//evil.example",
            "https://xn--", "http://" + "a" * 600 + ".org", "https://例え.テスト/パス", "http://1.1.1.1:99999"]
DATES = ["2026-11-09", "2027-01-31", "2026-06-01", ""]
# The far ends of what a date field parses come first and again: a day added or a time zone
# applied there is out of Python's range.
FAR_DATES = ["9999-12-31", "0001-01-01", "9999-12-30", "0001-01-02"]
BAD_DATES = [*FAR_DATES * 3, "2026-02-30", "tomorrow", "10000-01-01", "2026-13-45", "-2026-01-01",
             "2026-1-1", "20261109", "2026-11-09T25:00", "9999-12-31T23:59:59+14:00", "0000-00-00", "1900-01-01",
             "2100-12-31", "2101-01-01", "1999-12-31", " 2026-11-09 ", "２０２６-１１-０９", "2026-11-09\x00",
             "99999-01-01", "2026-11-9", "11/09/2026", "0001-01-01T00:00:00-23:59"]
INTEGERS = ["0", "1", "3", "7", "20"]
BAD_INTEGERS = ["-1", "-3", "71", "2147483648", "9223372036854775807", "9223372036854775808", "1" + "0" * 30,
                "1e3", "1.5", "abc", "0x10", "٣", "+5", " 5 ", "", "NaN", "-0", "1_000"]
YES_NO = ["", "yes", "no"]
BAD_YES_NO = ["maybe", "YES", "true", "1", "on", "yes\x00"]
NEXTS = ["foo", "//evil.example", "javascript:alert(1)", "/leads/?x=1", "", "https://evil.example/",
         "/\\evil.example", "\\\\evil.example", "leads:lead_list", "leads:dashboard", "admin:index",
         "/leads/%0d%0aSet-Cookie:x=1", "/leads/\r\nX-Injected: y", "http://testserver/leads/", "/" + "a" * 5000,
         "..", "./x", "?x=1", "#frag", "mailto:x@example.org", "/leads/\u202e", "data:text/html,<script>x</script>",
         "/", "/leads/board/?stage=new", "\t/leads/", " /leads/", "https:/evil.example", "/apply/kiwi-ledger/",
         "ftp://evil.example", "///evil.example", "/%2F%2Fevil.example", "/leads/?next=//evil.example"]


def enum_values(enum) -> list[str]:
    return [str(v) for v in enum.values]


def bad_enum_values(enum) -> list[str]:
    values = enum_values(enum)
    return [values[0].upper(), values[0] + " ", "none", "<script>", values[0] + "\x00", str(enum.choices[0][1])]


def choice(good: Sequence[str], bad: Sequence[str]) -> tuple[st.SearchStrategy[str], st.SearchStrategy[str]]:
    return st.sampled_from(list(good)), st.sampled_from(list(bad))


def free_text(good: Sequence[str]) -> tuple[st.SearchStrategy[str], st.SearchStrategy[str]]:
    return st.sampled_from(list(good)), nasty_text()


# Field name -> (good values, field-specific bad values) for the lead's profile, which the public
# form, manual entry and the edit form share.
PROFILE_FIELDS: dict[str, tuple[st.SearchStrategy[str], st.SearchStrategy[str]]] = {
    "name": free_text(NAMES),
    "email": choice(EMAILS, BAD_EMAILS),
    "phone": choice([*PHONES, ""], BAD_PHONES),
    "current_country": choice([*COUNTRIES, ""], BAD_COUNTRIES),
    "citizenships": choice(COUNTRIES, BAD_COUNTRIES),
    "time_zone": choice(ZONES, BAD_ZONES),
    "profile_url": choice(URLS, BAD_URLS),
    "role_of_interest": free_text(["Backend Engineer", "Nurse", ""]),
    "years_experience": choice([*INTEGERS, ""], BAD_INTEGERS),
    "skills": free_text(["Python, Django", "Go", "", "SQL, , ,Rust"]),
    "needs_sponsorship": choice(YES_NO, BAD_YES_NO),
    "visa_pathway": choice([*enum_values(VisaPathway), ""], bad_enum_values(VisaPathway)),
    "earliest_move_date": choice(DATES, BAD_DATES),
    "move_timeline": choice([*enum_values(MoveTimeline), ""], bad_enum_values(MoveTimeline)),
    "relocating_with": choice([*enum_values(RelocatingWith), ""], bad_enum_values(RelocatingWith)),
    "dependants": choice(["0", "2", ""], BAD_INTEGERS),
    "partner_needs_work_rights": choice(YES_NO, BAD_YES_NO),
    "credentials_to_recognise": free_text(["RN licence (Philippines)", ""]),
    "motivation": free_text(["I want to move.", "Family reasons.\n\nAnd the mountains.", ""]),
}

STAGES = enum_values(Stage)
SOURCES = enum_values(Source)
ACTIVITY_KINDS = [k for k in enum_values(ActivityKind) if k != ActivityKind.SYSTEM]
ids_as_text = st.sampled_from(["0", "-1", "abc", "1.5", "9223372036854775808", "1" + "0" * 40, "", " 1", "1\x00"])


# --- forms as lists of (name, value) ----------------------------------------------------------

Pairs = list[tuple[str, str]]
MUTATIONS = ("bad", "nasty", "missing", "twice", "list", "empty")
_MUTATION = st.sampled_from(MUTATIONS)
_RARELY = st.sampled_from([True] + [False] * 7)
_QUARTER = st.sampled_from([True, False, False, False])
_MODES = st.sampled_from(["good", "good", "few", "few", "few", "chaos"])
_EXTRA_NAMES = st.one_of(st.sampled_from(["__proto__", "id", "pk", "employer_id", "is_staff", "a[b]", "name[]", "", " ",
                                          "\x00", "csrfmiddlewaretoken"]),
                         st.text(st.characters(exclude_characters="\x00"), max_size=12))


def pick(draw, names: Sequence[str], most: int = 3) -> list[str]:
    """One to ``most`` of the names (cheaper than a fresh lists(sampled_from(...)) per draw)."""
    count = draw(st.integers(1, most))
    return list(dict.fromkeys(names[draw(st.integers(0, len(names) - 1))] for _ in range(count)))


@st.composite
def form_pairs(draw, fields: dict[str, tuple[st.SearchStrategy[str], st.SearchStrategy[str]]], *,
               multi: Iterable[str] = (), fixed: Pairs = (), unknown: bool = True) -> Pairs:
    """A submission of these fields: mostly good values with one to three fields broken (or, in
    chaos mode, any of them), so that some examples pass validation and reach the services.

    Broken means: a field-specific bad value, hostile text, missing, sent twice, sent as a list,
    or empty. ``multi`` fields take several values; ``fixed`` pairs are always sent first.
    """
    names = list(fields)
    mode = draw(_MODES)
    if mode == "good":
        broken: dict[str, str] = {}
    elif mode == "few":
        chosen = pick(draw, names)
        broken = {name: draw(_MUTATION) for name in chosen}
    else:
        broken = {name: draw(_MUTATION) for name in names if draw(_QUARTER)}
    multi = set(multi)
    pairs: Pairs = list(fixed)
    for name in names:
        good, bad = fields[name]
        how = broken.get(name, "good")
        if how == "missing":
            continue
        if how == "good":
            count = draw(st.integers(0, 3)) if name in multi else 1
            values = [draw(good) for _ in range(count)]
        elif how == "bad":
            values = [draw(bad)]
        elif how == "nasty":
            values = [draw(nasty_text(surrogates=True))]
        elif how == "twice":
            values = [draw(good), draw(st.one_of(good, bad, nasty_text()))]
        elif how == "list":
            values = draw(st.lists(st.one_of(good, bad, nasty_text()), min_size=2, max_size=30))
        else:
            values = [""]
        pairs.extend((name, value) for value in values)
    if unknown and draw(_RARELY):
        pairs.extend(draw(st.lists(st.tuples(_EXTRA_NAMES, nasty_text()), min_size=1, max_size=3)))
    return pairs


# --- sending forms and query strings ----------------------------------------------------------

# How a form body travels. Weighted towards the usual two; the rest are the odd ones.
ENCODINGS = (
    *["multipart"] * 10, *["urlencoded"] * 8,
    "urlencoded; charset=utf-8", "urlencoded; charset=UTF-8", "urlencoded; charset=\"utf-8\"",
    "urlencoded; charset=latin-1", "urlencoded; charset=iso-8859-1", "urlencoded; charset=windows-1252",
    "urlencoded; charset=utf-16", "urlencoded; charset=ascii", "urlencoded; charset=bogus-charset",
    "urlencoded; charset=", "urlencoded; charset=utf-8; charset=latin-1", "urlencoded-invalid-utf8",
    "multipart-no-boundary", "multipart-broken", "text/plain", "application/json", "no-content-type",
)
encodings = st.sampled_from(ENCODINGS)
_CODECS = {"latin-1": "latin-1", "iso-8859-1": "latin-1", "windows-1252": "cp1252", "utf-16": "utf-16",
           "ascii": "ascii"}
URLENCODED = "application/x-www-form-urlencoded"


def _quote(text: str, codec: str = "utf-8") -> str:
    # In UTF-8 a lone surrogate becomes bytes that are not UTF-8 at all.
    raw = text.encode("utf-8", "surrogatepass") if codec == "utf-8" else text.encode(codec, "replace")
    return quote_from_bytes(raw, safe="")


def urlencode_pairs(pairs: Pairs, codec: str = "utf-8") -> str:
    return "&".join(f"{_quote(k, codec)}={_quote(v, codec)}" for k, v in pairs)


def post_form(client: Client, path: str, pairs: Pairs, encoding: str = "multipart", **extra: Any) -> HttpResponse:
    """POST the pairs (a name may repeat) the way ``encoding`` says, with the CSRF token first
    (a later csrfmiddlewaretoken among the pairs overrides it, as in a browser)."""
    pairs = [("csrfmiddlewaretoken", CSRF_TOKEN), *pairs]
    if encoding == "multipart":
        data: dict[str, list[str]] = {}
        for key, value in pairs:
            data.setdefault(without_surrogates(key), []).append(without_surrogates(value))
        return client.post(path, data, **extra)
    if encoding == "multipart-no-boundary":
        return client.generic("POST", path, urlencode_pairs(pairs), content_type="multipart/form-data", **extra)
    if encoding == "multipart-broken":
        body = "--BoUnDaRy\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" + urlencode_pairs(pairs)
        return client.generic("POST", path, body, content_type="multipart/form-data; boundary=BoUnDaRy", **extra)
    if encoding in ("text/plain", "application/json"):
        return client.generic("POST", path, urlencode_pairs(pairs), content_type=encoding, **extra)
    if encoding == "no-content-type":
        return client.generic("POST", path, urlencode_pairs(pairs), content_type="", **extra)
    if encoding == "urlencoded-invalid-utf8":
        body = urlencode_pairs(pairs) + "&name=%ff%fe%ed%bf%bf&x%c3=%c3"
        return client.generic("POST", path, body, content_type=URLENCODED, **extra)
    _, _, params = encoding.partition(";")
    charset = params.strip().partition("=")[2].split(";")[0].strip().strip('"').lower()
    body = urlencode_pairs(pairs, _CODECS.get(charset, "utf-8"))
    content_type = URLENCODED + (f";{params}" if params else "")
    return client.generic("POST", path, body, content_type=content_type, **extra)


@st.composite
def query_pairs(draw, fields: dict[str, st.SearchStrategy[str] | tuple[st.SearchStrategy[str], st.SearchStrategy[str]]],
                *, unknown: bool = True) -> Pairs:
    """A query string's parameters, in any order: mostly each field absent or once with a good
    value; in "few" mode one to three of them (in chaos mode any) repeated, bad or hostile.
    A field is a strategy of good values, or a pair (good values, bad values)."""
    names = list(fields)
    mode = draw(_MODES)
    if mode == "good":
        broken: set[str] = set()
    elif mode == "few":
        broken = set(pick(draw, names))
    else:
        broken = {name for name in names if draw(_QUARTER)}
    pairs: Pairs = []
    for name, spec in fields.items():
        good, bad = spec if isinstance(spec, tuple) else (spec, nasty_text(surrogates=True))
        if name not in broken:
            pairs.extend((name, draw(good)) for _ in range(draw(_ONCE_OR_NOT)))
            continue
        count = draw(st.sampled_from([1, 1, 2, 3]))
        pairs.extend((name, draw(st.one_of(good, bad, bad, nasty_text(surrogates=True)))) for _ in range(count))
    if unknown and mode != "good" and draw(_RARELY):
        pairs.append((draw(st.text(max_size=10)), draw(nasty_text())))
    return draw(st.permutations(pairs))


_ONCE_OR_NOT = st.sampled_from([0, 0, 1])


def with_query(path: str, pairs: Pairs) -> str:
    """The path with a raw query string: the client passes it on as it is."""
    return f"{path}?{urlencode_pairs(pairs)}" if pairs else path


# --- the checks -------------------------------------------------------------------------------


class ServerError(AssertionError):
    """A 500 (or another 5xx), with the server's traceback; raised from the server's exception,
    so that hypothesis tells different causes apart and reports each of them."""


class StoredFromRefusal(AssertionError):
    """A refused input changed the stored rows."""


def row_counts(models: Iterable[type] = STORED) -> dict[str, int]:
    """The row count of each model, in one query."""
    models = list(models)
    # Table names from the models, nothing else.
    tables = [connection.ops.quote_name(m._meta.db_table) for m in models]
    selects = ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {selects}")
        row = cursor.fetchone()
    return {m.__name__: n for m, n in zip(models, row, strict=True)}


def counts_after(models: Iterable[type]) -> dict[str, int]:
    try:
        return row_counts(models)
    except DatabaseError as exc:
        raise AssertionError("A database error was swallowed and left the transaction aborted: "
                             f"{type(exc).__name__}: {exc}") from exc


def assert_no_server_error(response: HttpResponse, what: str) -> None:
    if response.status_code < 500:
        return
    exc_info = getattr(response, "exc_info", None)
    if exc_info:
        detail = "".join(traceback.format_exception(*exc_info))
        raise ServerError(f"{what} answered {response.status_code}; the server raised:\n{detail}") from exc_info[1]
    raise ServerError(f"{what} answered {response.status_code}: {response.content[:500]!r}")


def read_all(response: HttpResponse, what: str) -> bytes:
    """The whole body; a streamed one (CSV exports) is read to the end, where its errors happen."""
    if not getattr(response, "streaming", False):
        return response.content
    try:
        return b"".join(response.streaming_content)
    except Exception as exc:
        detail = "".join(traceback.format_exception(exc))
        raise ServerError(f"{what} failed while streaming its body (after a {response.status_code}):\n{detail}") \
            from exc


def levels(response: HttpResponse) -> set[int]:
    """The levels of the messages the request queued (a redirect carries its result as one)."""
    request = getattr(response, "wsgi_request", None)
    if request is None or not hasattr(request, "_messages"):
        return set()
    return {m.level for m in get_messages(request)}


def refused_by_messages(response: HttpResponse) -> bool:
    found = levels(response)
    return message_levels.ERROR in found and message_levels.SUCCESS not in found


@contextmanager
def example(models: Iterable[type] = STORED) -> Iterator[dict[str, int]]:
    """One example in a savepoint rolled back afterwards; yields the row counts before it."""
    sid = transaction.savepoint()
    try:
        yield row_counts(models)
    finally:
        # A failed query may have marked the transaction for rollback: that is what happens now.
        connection.needs_rollback = False
        transaction.savepoint_rollback(sid)


def check(send: Callable[[], HttpResponse], *, what: str, refused: Callable[[HttpResponse], bool],
          models: Iterable[type] = STORED, then: Callable[[HttpResponse], None] | None = None) -> HttpResponse:
    """Send one request in its own rolled-back savepoint and make both checks; ``then`` makes
    more checks on an accepted answer, before the rollback."""
    models = list(models)
    with example(models) as before:
        try:
            response = send()
        except Exception as exc:
            # Out of the handler itself (an error page that fails too): the server's own 500.
            detail = "".join(traceback.format_exception(exc))
            raise ServerError(f"{what}: the request raised out of Django's handler:\n{detail}") from exc
        _STATS[(what.split(" (")[0].split("?")[0][:60], response.status_code)] += 1
        assert_no_server_error(response, what)
        read_all(response, what)
        if refused(response):
            assert_unchanged(before, counts_after(models), f"{what} was refused ({response.status_code})")
        elif then is not None:
            then(response)
        return response


def assert_unchanged(before: dict[str, int], after: dict[str, int], what: str) -> None:
    if after != before:
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        raise StoredFromRefusal(f"{what} and still stored rows (before, after): {changed}")


def refused_form(response: HttpResponse) -> bool:
    """A form's answer that accepts nothing: a 4xx, the form again (200), or only error messages."""
    return response.status_code >= 400 or response.status_code == 200 or refused_by_messages(response)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Thousands of examples, each 4xx logged as a warning and each 500 with its traceback:
    the failure message carries the traceback already."""
    names = ("django.request", "django.security", "django.server", "leads", "relocate", "axes")
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def uninstrumented_templates() -> Iterator[None]:
    """Templates rendered without the test runner's instrumentation, which sends a signal for
    every template (each <option> of a select is one) and the client keeps a copy of every
    context: a tenth of the time of a page with long selects. Responses have no ``context``."""
    state = getattr(_TestState, "saved_data", None)
    original = getattr(state, "template_render", None)
    if original is None:
        yield
        return
    instrumented = Template._render
    Template._render = original
    try:
        yield
    finally:
        Template._render = instrumented


@contextmanager
def fuzzing() -> Iterator[None]:
    """What every fuzz test runs inside: quiet logs, plain template rendering."""
    with quiet_logs(), uninstrumented_templates():
        yield


# The CSRF secret in the cookie, sent back as the form's token: the middleware checks it, so
# requests take the path a browser's do (the CSRF check is what reads the body first).
CSRF_TOKEN = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"


def fresh_client(**kwargs: Any) -> Client:
    """A client that gets the 500 a person would see (not the exception) and has CSRF checks on."""
    client = Client(raise_request_exception=False, enforce_csrf_checks=True, **kwargs)
    reset_cookies(client)
    return client


def reset_cookies(client: Client, *, keep_session: bool = False) -> None:
    """Forget what the previous example left (messages, a login), keep the CSRF cookie."""
    session = client.cookies.get(settings_module.SESSION_COOKIE_NAME)
    client.cookies.clear()
    client.cookies[settings_module.CSRF_COOKIE_NAME] = CSRF_TOKEN
    if keep_session and session is not None:
        client.cookies[settings_module.SESSION_COOKIE_NAME] = session.value
