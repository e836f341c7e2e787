"""Settings from the environment: safe defaults, loud failures, deploy checks that pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "7hT2vQ9xLm4pR8sW1zY6cB3nF5gJ0dKaE",
    "ALLOWED_HOSTS": "relocate.example.com",
    "EMAIL_URL": "smtp+tls://relocate:secret@mail.example.com:587",
    "SITE_URL": "https://relocate.example.com",
    "REDIS_URL": "redis://redis.example.com:6379/0",
}


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE", "EMAIL_URL", "SITE_URL", "REDIS_URL"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    base.update({"RELOCATE_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "relocate.settings"})
    base.update(env)
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_debug_off_without_secret_key_stops_with_clear_message(tmp_path):
    result = manage("check", env={"DEBUG": "false"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_deploy_check_passes_at_warning_level(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(("name", "value"), [("DEBUG", "maybe"), ("SECURE_HSTS_SECONDS", "a year")])
def test_bad_value_fails_loudly(tmp_path, name, value):
    result = manage("check", env={**PRODUCTION, name: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"{name}=" in result.stderr


def test_proxy_setting_trusts_forwarded_proto(tmp_path):
    result = manage(
        "shell", "-c", "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)",
        env={**PRODUCTION, "USE_X_FORWARDED_PROTO": "true"}, tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "HTTP_X_FORWARDED_PROTO" in result.stdout


def test_a_bad_trusted_proxy_stops_start_up_naming_it(tmp_path):
    result = manage("check", env={**PRODUCTION, "RELOCATE_TRUSTED_PROXIES": "10.0.0.0/8, nginx.local"},
                    tmp_path=tmp_path)
    assert result.returncode != 0
    assert "RELOCATE_TRUSTED_PROXIES" in result.stderr and "nginx.local" in result.stderr


@pytest.mark.parametrize(("name", "value", "check"), [
    ("EMAIL_URL", "consolemail://", "relocate.W001"),
    ("EMAIL_URL", "filemail:///tmp/mail", "relocate.W001"),
    ("SITE_URL", "http://127.0.0.1:8000", "relocate.W002"),
    ("SITE_URL", "http://relocate.example.com", "relocate.W002"),
    ("SITE_URL", "https://localhost", "relocate.W002"),
    ("REDIS_URL", "", "relocate.W003"),
])
def test_a_half_configured_production_start_fails_the_deploy_check(tmp_path, name, value, check):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION, name: value},
                    tmp_path=tmp_path)
    assert result.returncode != 0
    assert check in result.stderr and name in result.stderr


def test_make_clean_keeps_var():
    makefile = (ROOT / "Makefile").read_text()
    clean = makefile.split("\nclean:", 1)[1].split("\n\n", 1)[0]
    assert "var" not in clean.split("rm -rf", 1)[1]
    assert "distclean:" in makefile
