"""The named cast: an employer with its owner (admin) and a teammate, and an outsider at another."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from leads.models import Employer, Role
from tests.factories import EmployerFactory, MembershipFactory, UserFactory


def pytest_configure(config) -> None:
    """Keep the tests' Celery messages away from a running `make run`: a queue of their own,
    and for the filesystem broker a folder of their own."""
    from relocate.celery import app

    _own_cache_per_xdist_worker()
    app.conf.task_default_queue = "relocate-tests"
    if app.conf.broker_url.startswith("filesystem"):
        folder = Path(tempfile.mkdtemp(prefix="relocate-test-broker-"))
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir()
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
        }


def _own_cache_per_xdist_worker() -> None:
    """With pytest -n, each worker has a database of its own; give it a Redis cache database
    of its own too, or one worker's cache.clear() and cached snapshots reach the other's."""
    import os

    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    cache = settings.CACHES["default"]
    if not worker.startswith("gw") or "redis" not in cache["BACKEND"].lower():
        return
    base, _, db = cache["LOCATION"].rpartition("/")
    number = (int(db or 0) + int(worker[2:]) + 1) % 16
    cache["LOCATION"] = f"{base}/{number}"


@dataclass
class Cast:
    employer: Employer
    other_employer: Employer
    owner: object  # employer admin, staff
    teammate: object  # recruiter at the same employer
    outsider: object  # employer admin, staff, at the other employer


@pytest.fixture
def cast(db) -> Cast:
    employer = EmployerFactory(name="Kiwi Ledger", slug="kiwi-ledger", destination_country="NZ")
    other = EmployerFactory(name="Maple Games", slug="maple-games", destination_country="CA",
                            time_zone="America/Toronto")
    owner = UserFactory(username="owner", is_staff=True)
    teammate = UserFactory(username="teammate")
    outsider = UserFactory(username="outsider", is_staff=True)
    MembershipFactory(user=owner, employer=employer, role=Role.ADMIN)
    MembershipFactory(user=teammate, employer=employer, role=Role.RECRUITER)
    MembershipFactory(user=outsider, employer=other, role=Role.ADMIN)
    return Cast(employer=employer, other_employer=other, owner=owner, teammate=teammate, outsider=outsider)


@pytest.fixture
def postgres() -> None:
    """Skip, with the reason, where the database is not PostgreSQL (CI always runs these)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (.ci/run does)")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    # Hashing a password the production way takes ~0.3 s; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _end_stray_sessions(django_db_setup, django_db_blocker):
    """Threads and worker processes of the concurrency tests may leave a database session
    open; end them so the test database can be dropped cleanly."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache: rate-limit counters, cached public pages and
    claimed form tokens of one test never reach the next."""
    from django.core.cache import cache

    from leads.views.public import form_page_html

    cache.clear()
    form_page_html.cache_clear()
    yield


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) on a free port, and Django's SMTP backend pointed at it."""
    from tests.helpers_smtp import smtp_server

    with smtp_server() as server:
        for name, value in server.django_settings().items():
            setattr(settings, name, value)
        yield server
