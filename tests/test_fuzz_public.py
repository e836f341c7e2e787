"""Fuzz the surfaces anyone can reach without logging in: the inquiry form at /apply/<slug>/,
the login pages, and the links in emails (unsubscribe, still interested, my data).

No 500, whatever is sent; a refused submission stores nothing; a submission the form accepts
is one the intake worker can store (the form promises to check everything intake will).
"""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import strategies as st

from leads.forms import started_token
from leads.models import Submission
from leads.services.submissions import submission_process
from leads.tokens import Purpose, token_make
from tests.factories import LeadFactory, OpeningFactory
from tests.fuzz import (
    BAD_EMAILS,
    CSRF_TOKEN,
    FUZZ,
    NEXTS,
    PROFILE_FIELDS,
    check,
    encodings,
    form_pairs,
    fresh_client,
    fuzzing,
    nasty_text,
    post_form,
    query_pairs,
    refused_form,
    reset_cookies,
    with_query,
)


@pytest.fixture(autouse=True)
def _fuzz_settings(settings, tmp_path):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0
    settings.RELOCATE_PUBLIC_FORM_RATE = 10**9
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.RELOCATE_SPOOL_DIR = str(tmp_path / "spool")
    cache.clear()
    with fuzzing():
        yield
    cache.clear()


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


CV_FILES = st.one_of(
    st.none(), st.none(), st.none(),
    st.tuples(
        st.sampled_from(["cv.pdf", "cv.docx", "cv.doc", "cv.exe", "cv", "../../etc/passwd.pdf", "cv.PDF",
                         "résumé 😀.pdf", "cv.pdf\x00.exe", "x" * 300 + ".pdf", ".pdf"]),
        st.one_of(st.sampled_from([b"%PDF-1.7\n%%EOF", _docx(), bytes.fromhex("D0CF11E0A1B11AE1") + b"x" * 10,
                                   b"PK\x03\x04broken zip", b"", b"MZ\x90\x00"]), st.binary(max_size=64)),
    ),
)

PUBLIC_FIELDS = {
    **PROFILE_FIELDS,
    "opening": (st.sampled_from(["", "OPENING"]), st.sampled_from(["999999", "-1", "abc", "1.5", "CLOSED",
                                                                     "OTHER", "9" * 30])),
    "privacy_accepted": (st.just("on"), st.sampled_from(["", "off", "false", "0", "on\x00"])),
    "marketing_opt_in": (st.sampled_from(["", "on"]), st.sampled_from(["maybe", "0"])),
    "website": (st.just(""), st.sampled_from(["http://spam.example", "x", " "])),
    "started": (st.just("TOKEN"), st.sampled_from(["", "garbage", "TOKEN" + "x", "1:2:3", "TOKEN\x00"])),
    **{name: (st.sampled_from(["", "newsletter", "linkedin"]), nasty_text())
       for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")},
}


def test_public_form_post(cast):
    opening = OpeningFactory(employer=cast.employer, title="Backend Engineer")
    closed = OpeningFactory(employer=cast.employer, title="Closed", status="closed")
    other = OpeningFactory(employer=cast.other_employer, title="Elsewhere")
    client = fresh_client()
    stand_ins = {"OPENING": str(opening.pk), "CLOSED": str(closed.pk), "OTHER": str(other.pk)}

    def real(value: str) -> str:
        for marker, actual in stand_ins.items():
            value = value.replace(marker, actual)
        # A served form is sent once: each example has a form of its own.
        return value.replace("TOKEN", started_token())

    @FUZZ
    @given(
        pairs=form_pairs(PUBLIC_FIELDS, multi={"citizenships"}),
        encoding=encodings,
        cv=CV_FILES,
        slug=st.sampled_from(["kiwi-ledger"] * 8 + ["maple-games", "nobody-here"]),
        extra=st.sampled_from([{}, {}, {}, {"HTTP_X_FORWARDED_FOR": "1.2.3.4, ::1, junk"},
                               {"REMOTE_ADDR": ""}, {"CONTENT_LENGTH": "-5"}]),
    )
    def run(pairs, encoding, cv, slug, extra):
        pairs = [(name, real(value)) for name, value in pairs]
        path = f"/apply/{slug}/"
        reset_cookies(client)

        def send():
            if cv is not None and encoding == "multipart":
                data: dict = {}
                for key, value in pairs:
                    data.setdefault(key.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), []).append(
                        value.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
                data["csrfmiddlewaretoken"] = CSRF_TOKEN
                data["cv"] = SimpleUploadedFile(cv[0].replace("\x00", ""), cv[1])
                return client.post(path, data, **extra)
            return post_form(client, path, pairs, encoding, **extra)

        def processed(response):
            # An accepted submission becomes an inquiry: nobody is left to tell about a failure later.
            submission = Submission.objects.order_by("-received_at").first()
            outcome = submission_process(submission.pk)
            submission.refresh_from_db()
            if outcome != "processed":
                raise AssertionError(f"POST {path} was accepted (302) but the worker could not store it: "
                                     f"{outcome}: {submission.last_error}")

        check(send, what=f"POST {path} ({encoding})", refused=lambda r: r.status_code != 302, then=processed)

    run()


LOGIN_FIELDS = {
    "username": (st.sampled_from(["owner", "teammate", "OWNER", "nobody"]),
                 st.sampled_from(["", "owner\x00", "x" * 151, "x" * 300, "owner" * 60])),
    "password": (st.sampled_from(["relocate-test", "wrong"]), st.sampled_from(["", "x" * 5000])),
    "next": (st.sampled_from(NEXTS), st.sampled_from(NEXTS)),
}


def test_login_pages_post(cast):
    client = fresh_client()

    @FUZZ
    @given(pairs=form_pairs(LOGIN_FIELDS), encoding=encodings,
           path=st.sampled_from(["/accounts/login/", "/admin/login/"]),
           query=st.sampled_from(["", "?next=foo", "?next=//evil.example", "?next=%00", "?next=/leads/%ff"]))
    def run(pairs, encoding, path, query):
        reset_cookies(client)
        check(lambda: post_form(client, path + query, pairs, encoding), what=f"POST {path}{query} ({encoding})",
              refused=refused_form)

    run()


CSP_BODIES = st.one_of(
    st.binary(max_size=100), nasty_text(surrogates=True).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from([b'{"csp-report": {"violated-directive": "script-src", "blocked-uri": "inline"}}', b"[]", b"null",
                     b'{"csp-report": []}', b'{"csp-report": "x"}', b"{" * 5000, b'{"csp-report": {"document-uri": 1}}',
                     b'{"csp-report": {"blocked-uri": 1e999}}', b'{"csp-report": {"document-uri": "\\udfff"}}']))
UTM = {name: st.sampled_from(["newsletter", "x" * 200, "\"><script>", ""])
       for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")}


def test_public_pages(cast, settings):
    """The rest of what needs no login: the form page and its thank-you page, logo and stylesheet
    (any method, any query string), the links in emails (unsubscribe, still interested, my data,
    and asking for a fresh my-data link), and the CSP report endpoint."""
    settings.RELOCATE_TOKEN_PAGE_RATE = 10**9
    lead = LeadFactory(employer=cast.employer, email="linked@example.org")
    tokens = {"UNSUB": token_make(Purpose.UNSUBSCRIBE, lead.pk), "MYDATA": token_make(Purpose.MY_DATA, lead.pk),
              "STILL": token_make(Purpose.STILL_INTERESTED, lead.pk)}
    client = fresh_client()
    link_tokens = st.one_of(
        st.sampled_from(["UNSUB", "MYDATA", "STILL"] * 3 + ["x", "1:abc", "UNSUB:extra", "MYDATA" + "x", "%00",
                                                           "%ff%fe", "..%2f..", "1" * 500, "STILL%0a"]),
        st.text(st.characters(codec="ascii", exclude_characters="/?#%"), min_size=1, max_size=30))
    link_fields = {"confirm": (st.just("erase"), st.sampled_from(["", "ERASE", "erase\x00"])),
                   "List-Unsubscribe": (st.just("One-Click"), st.sampled_from(["", "one-click"])),
                   "email": (st.sampled_from(["linked@example.org", "nobody@example.org"]),
                             st.sampled_from(BAD_EMAILS))}

    @FUZZ
    @given(
        surface=st.sampled_from(["page"] * 4 + ["link"] * 4 + ["csp"]),
        method=st.sampled_from(["GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]),
        slug=st.sampled_from(["kiwi-ledger", "kiwi-ledger", "nobody-here", "KIWI-LEDGER", "kiwi_ledger"]),
        page=st.sampled_from(["", "", "thanks/", "logo/", "brand.css"]),
        link=st.sampled_from(["unsubscribe/TOKEN/", "still-interested/TOKEN/", "my-data/TOKEN/", "my-data/"]),
        token=link_tokens, query=query_pairs(UTM), pairs=form_pairs(link_fields), encoding=encodings,
        csp_body=CSP_BODIES,
        csp_type=st.sampled_from(["application/csp-report", "application/json", "text/plain",
                                  "application/json; charset=latin-1", "application/reports+json"]),
    )
    def run(surface, method, slug, page, link, token, query, pairs, encoding, csp_body, csp_type):
        reset_cookies(client)
        if surface == "csp":
            method, path = "POST", "/csp-report/"
        elif surface == "page":
            path = with_query(f"/apply/{slug}/{page}", query)
        else:
            for marker, actual in tokens.items():
                token = token.replace(marker, actual)
            path = "/" + link.replace("TOKEN", token)

        def send():
            if surface == "csp":
                return client.generic("POST", path, csp_body, content_type=csp_type)
            if method == "POST":
                return post_form(client, path, pairs, encoding)
            return client.generic(method, path)

        check(send, what=f"{method} {path[:300]} ({encoding})", refused=lambda r: r.status_code >= 400)

    run()
