"""``manage.py api_key_create``: the key alone on standard output, with the scopes asked for."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from leads.models import ApiKey
from leads.services.api_keys import api_key_authenticate


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def create(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_key_create", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_the_key_alone_on_one_line_and_stores_only_its_hash(cast):
    out, err = create("--employer", "kiwi-ledger", "--name", "careers site")
    assert out.endswith("\n") and out.count("\n") == 1
    raw = out.strip()
    key = api_key_authenticate(raw)
    assert key is not None and key.employer == cast.employer and key.name == "careers site"
    assert raw not in err and key.prefix in err
    assert ApiKey.objects.get().key_hash != raw


def test_the_default_scope_is_intake_only(cast):
    create("--employer", "kiwi-ledger", "--name", "careers site")
    assert ApiKey.objects.get().scopes == ["intake"]


def test_the_scopes_asked_for_are_the_scopes_the_api_honours(cast):
    out, err = create("--employer", "kiwi-ledger", "--name", "warehouse", "--scopes", " Read, write ,read")
    key = ApiKey.objects.get()
    assert key.scopes == ["read", "write"]
    assert "read, write" in err
    auth = {"Authorization": f"Bearer {out.strip()}"}
    client = Client()
    assert client.get("/api/v1/leads", headers=auth).status_code == 200
    assert client.post("/api/v1/inquiries", data={"email": "a@example.org"}, content_type="application/json",
                       headers=auth).status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--employer", "nobody", "--name", "careers site"], "No employer with the slug 'nobody'"),
        (["--employer", "kiwi-ledger", "--name", "   "], "Say who will use this key"),
        (["--employer", "kiwi-ledger", "--name", "x" * 121], "under 120 characters"),
        (["--employer", "kiwi-ledger", "--name", "bot", "--scopes", "read,admin"], "Unknown scope 'admin'"),
        (["--employer", "kiwi-ledger", "--name", "bot", "--scopes", " , "], "at least one scope"),
    ],
)
def test_a_refusal_says_why_and_creates_nothing(cast, args, message):
    with pytest.raises(CommandError, match=message):
        create(*args)
    assert not ApiKey.objects.exists()


def test_the_employer_and_the_name_are_required(cast):
    with pytest.raises(CommandError, match="--employer"):
        create("--name", "careers site")
    with pytest.raises(CommandError, match="--name"):
        create("--employer", "kiwi-ledger")
