"""Fuzz inbound email: raw messages piped to ``manage.py receive_email <slug>``, as the mail server does.

The command reads stdin and ends in one of the sysexits answers: 0 (recorded, or refused on
purpose), 65 (malformed: nothing recorded) or 75 (try again later: nothing recorded). Anything
else it raises is a bug: the mail server would bounce or retry a message for no reason. A 75
caused by the message itself (a DataError, not an unreachable database) is a bug too: the
mail server would retry the same message for days.
"""

from __future__ import annotations

import base64
import io
import quopri

import pytest
from django.core.management import CommandError, call_command
from django.db import DataError, IntegrityError
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import LeadFactory
from tests.fuzz import FUZZ, STORED, assert_unchanged, counts_after, example, fuzzing, nasty_text, tally

EX_DATAERR, EX_TEMPFAIL = 65, 75


@pytest.fixture(autouse=True)
def _quiet():
    with fuzzing():
        yield


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


# Headers of hostile text are cut here: the email package parses a long structured header in
# quadratic time (a 50,000-character From takes seconds), which would make this test slow,
# not find more. A few long headers of known shapes are in the samples.
MAX_HEADER = 3000
SENDERS = st.one_of(st.sampled_from([
    b"Ana Silva <ana@example.org>", b"ana@example.org", b"known@example.org", b"Known Person <known@example.org>",
    utf8("José Müller <j@example.org>"), utf8("李小龍 <li@example.org>"), utf8("José <josé@example.org>"),
    b"=?utf-8?q?Jos=C3=A9_M=C3=BCller?= <j@example.org>", b"=?utf-8?b?5p2O5bCP6b6N?= <li@example.org>",
    b"=?bogus?q?x?= <a@example.org>", b"=?utf-8?q?broken <a@example.org>", b"=?iso-8859-1?q?Jos=E9?= <j@example.org>",
    b"Jos\xe9 <j@example.org>", b"\xff\xfe <a@example.org>", b"", b" ", b"not an address", b"<>", b"a@", b"@b",
    b"a@example.org, b@example.org", b"undisclosed-recipients:;", b"Ana\x00 <a@example.org>", b"a\x00@example.org",
    b"Ana\r\n <ana@example.org>", b"MAILER-DAEMON@example.org", b"noreply@example.org", utf8("ana@münchen.de"),
    b'"a b"@example.org', b"ana@example.org (Ana)", b"<ana@example.org", b"Ana <ana@[127.0.0.1]>",
    b"Ana <" + b"a" * 300 + b"@example.org>", b"\"Ana\\\" <x@y.z>\" <ana@example.org>", b"Ana <ana@example.org>>",
    b"=?utf-8?q?=00?= <ana@example.org>", b"=?utf-8?b?7aCA?= <ana@example.org>",
    b"(" * 500 + b"ana@example.org", b"Ana " + b"(c " * 300 + b"<ana@example.org>", b"\"" * 301 + b"<a@example.org>",
    b"<" * 300 + b"ana@example.org" + b">" * 300, b"Ana <ana@example.org>, " * 200, b"ab " * 1000 + b"<a@example.org>",
]), nasty_text(surrogates=True).map(lambda t: utf8(t)[:MAX_HEADER] + b" <fuzz@example.org>"))

HEADER_VALUES = st.one_of(
    st.sampled_from([b"", b"Hello", utf8("Grüße aus München 😀"), b"=?utf-8?q?Gr=C3=BC=C3=9Fe?=", b"=?x?q?y?=",
                     b"Wed, 09 Nov 2026 03:00:00 +0000", b"Wed, 32 Nov 2026 99:99:99 +9999", b"yesterday",
                     b"<m1@mail.example.org>", b"<>", b"no", b"auto-replied", b"bulk", b"\xff\xfe\xfd", b"a\x00b",
                     b"x" * 2000, b"folded\r\n continuation", b"=?utf-8?b?invalid base64?="]),
    nasty_text(surrogates=True).map(lambda t: utf8(t)[:MAX_HEADER]),
)
OPTIONAL_HEADERS = ["Subject", "Date", "Message-ID", "To", "Content-Transfer-Encoding", "MIME-Version", "Reply-To",
                    "Cc"]
# Headers of automatic mail, which is refused on purpose: rarer, or few messages would get further.
AUTO_HEADERS = ["Auto-Submitted", "Precedence", "Return-Path", "List-Id", "X-Autoreply"]
CHARSETS = [b"utf-8", b"UTF-8", b"iso-8859-1", b"windows-1252", b"us-ascii", b"bogus", b"utf-7", b"utf-16", b"",
            b"\"utf-8\"", b"utf-8; format=flowed"]


@st.composite
def bodies(draw) -> tuple[bytes, bytes]:
    """A Content-Type and the body, in one of the shapes mail clients (and spammers) send."""
    text = draw(st.one_of(st.sampled_from(["Hello,\nis there a role for a nurse?\n", "", "<p>Hi</p>"]),
                          nasty_text(surrogates=True),
                          st.sampled_from(["x" * 60_000, "line\n" * 20_000, "😀" * 30_000])))
    charset = draw(st.sampled_from(CHARSETS))
    codec = {b"iso-8859-1": "latin-1", b"windows-1252": "cp1252", b"us-ascii": "ascii", b"utf-16": "utf-16"}.get(
        charset, "utf-8")
    raw = text.encode(codec, "replace") if codec != "utf-8" else utf8(text)
    encoding = draw(st.sampled_from([b"", b"", b"8bit", b"base64", b"quoted-printable", b"7bit", b"x-uuencode",
                                     b"base64-broken"]))
    if encoding == b"base64":
        raw = base64.encodebytes(raw)
    elif encoding == b"quoted-printable":
        raw = quopri.encodestring(raw)
    elif encoding == b"base64-broken":
        encoding, raw = b"base64", b"!!!not base64===" + raw[:100]
    kind = draw(st.sampled_from(["plain"] * 4 + ["html", "alternative", "mixed", "nested", "no-boundary",
                                                 "unterminated", "octet", "rfc822", "none"]))
    cte = b"Content-Transfer-Encoding: " + encoding + b"\r\n" if encoding else b""
    part = b"Content-Type: text/plain; charset=" + charset + b"\r\n" + cte + b"\r\n" + raw
    if kind == "plain":
        return b"text/plain; charset=" + charset, raw
    if kind == "html":
        return b"text/html; charset=" + charset, b"<html><script>x</script><p>" + raw + b"</p></html>"
    if kind == "octet":
        return b"application/octet-stream", raw
    if kind == "none":
        return b"", raw
    if kind == "rfc822":
        return b"message/rfc822", b"From: inner@example.org\r\nSubject: inner\r\n\r\n" + raw
    if kind == "no-boundary":
        return b"multipart/alternative", raw
    if kind == "unterminated":
        return b'multipart/mixed; boundary="b1"', b"--b1\r\n" + part
    html = b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>" + raw[:200] + b"</p>"
    if kind == "alternative":
        return b'multipart/alternative; boundary="b1"', b"--b1\r\n" + part + b"\r\n--b1\r\n" + html + b"\r\n--b1--\r\n"
    if kind == "mixed":
        attachment = b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"cv.pdf\"\r\n" \
                     b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjcK\r\n"
        return b'multipart/mixed; boundary="b1"', b"--b1\r\n" + part + b"\r\n--b1\r\n" + attachment + b"\r\n--b1--\r\n"
    inner = b'Content-Type: multipart/alternative; boundary="b2"\r\n\r\n--b2\r\n' + part + b"\r\n--b2--\r\n"
    return b'multipart/mixed; boundary="b1"', b"--b1\r\n" + inner + b"\r\n--b1--\r\n"


@st.composite
def messages(draw) -> bytes:
    if draw(st.sampled_from([False] * 19 + [True])):
        return draw(st.one_of(st.binary(max_size=300), st.sampled_from(
            [b"", b"\r\n", b"   ", b"no headers at all", b"\r\n\r\nbody only", b"From ana@example.org Wed Nov 9\n",
             b":\r\n\r\n", b"From: \r\n\r\n", b"\x00" * 10])))
    headers: list[tuple[bytes, bytes]] = []
    if draw(st.sampled_from([True] * 9 + [False])):
        headers.append((b"From", draw(SENDERS)))
    for name in OPTIONAL_HEADERS:
        if draw(st.sampled_from([False, True])):
            headers.append((name.encode(), draw(HEADER_VALUES)))
    for name in AUTO_HEADERS:
        if draw(st.sampled_from([False] * 15 + [True])):
            headers.append((name.encode(), draw(HEADER_VALUES)))
    if draw(st.sampled_from([False] * 9 + [True])):
        headers.append((b"From", draw(SENDERS)))  # a second From
    content_type, body = draw(bodies())
    if content_type:
        headers.append((b"Content-Type", content_type))
    headers = draw(st.permutations(headers))
    newline = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n", b"\r"]))
    head = newline.join(name + b": " + value for name, value in headers)
    return head + newline + newline + body.replace(b"\r\n", newline)


def test_receive_email(cast):
    LeadFactory(employer=cast.employer, email="known@example.org", name="Known Person")

    @FUZZ
    @given(raw=messages(), slug=st.sampled_from(["kiwi-ledger"] * 9 + ["nobody-here"]))
    def run(raw, slug):
        out, err = io.StringIO(), io.StringIO()
        with example() as before:
            code = 0
            try:
                call_command("receive_email", slug, stdin=io.BytesIO(raw), stdout=out, stderr=err)
            except CommandError as exc:
                code = exc.returncode
                if code == EX_TEMPFAIL and isinstance(exc.__cause__, DataError | IntegrityError):
                    raise AssertionError(f"exit 75 (try again later) for a message the database refuses: "
                                         f"{exc}") from exc.__cause__
            except SystemExit as exc:
                code = exc.code
            assert code in (0, EX_DATAERR, EX_TEMPFAIL), f"receive_email ended with {code!r}"
            recorded = code == 0 and out.getvalue().startswith(("New lead", "Joined lead"))
            tally("receive_email", code if code else out.getvalue().split(" ")[0])
            if not recorded:
                assert_unchanged(before, counts_after(STORED), f"receive_email ended {code} ({out.getvalue()!r})")

    run()
