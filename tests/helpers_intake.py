"""Shared by the intake tests: a database that stops answering, an isolated spool."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator

from django.db import connections


def closed_port() -> int:
    """A loopback port where nothing listens: a connection there is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def database_unreachable(alias: str = "default") -> Iterator[None]:
    """Every new connection of this thread is refused until the block ends, as when the
    PostgreSQL server is stopped or fails over (PostgreSQL only)."""
    connection = connections[alias]
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(closed_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved


def isolated_spool(settings, tmp_path) -> str:
    """A spool directory and Redis key of this test's own; returns the key."""
    key = f"relocate-test:spool:{uuid.uuid4().hex}"
    settings.RELOCATE_SPOOL_REDIS_KEY = key
    settings.RELOCATE_SPOOL_DIR = str(tmp_path / "spool")
    return key
