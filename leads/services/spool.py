"""The intake spool: where an accepted submission waits when the database refuses the write.

Redis when it answers (shared by every web server), else a directory on this machine. Both
are keyed by the submission id, so writing the same submission twice keeps one copy, and
ingestion (an INSERT that ignores an id already stored, then the delete) stores each once.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

_TIMEOUT_SECONDS = 0.5


class SpoolUnavailable(Exception):
    """Neither Redis nor the spool directory took the submission."""


@functools.lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS)


def _redis():
    url = settings.RELOCATE_SPOOL_REDIS_URL
    return _redis_client(url) if url else None


def _key() -> str:
    return settings.RELOCATE_SPOOL_REDIS_KEY


def spool_directory() -> Path:
    return Path(settings.RELOCATE_SPOOL_DIR)


def spool_write(payload: dict[str, Any]) -> str:
    """Keep one submission; returns where ("redis" or "directory"). Raises SpoolUnavailable."""
    text = json.dumps(payload, separators=(",", ":"))
    client = _redis()
    if client is not None:
        try:
            client.hset(_key(), payload["id"], text)
            return "redis"
        except Exception:
            logger.warning("intake spool: Redis unavailable, writing %s to disk", payload["id"], exc_info=True)
    try:
        _write_file(spool_directory(), payload["id"], text)
    except OSError as exc:
        raise SpoolUnavailable(str(exc)) from exc
    return "directory"


def _write_file(folder: Path, name: str, text: str) -> None:
    """Written whole or not at all: a temporary file, flushed to disk, then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / f"{name}.json")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself survives a power cut only once the directory is on disk too.
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def spool_read(limit: int = 500, *, redis: bool = True) -> list[tuple[str, str, dict[str, Any]]]:
    """Up to ``limit`` spooled submissions as (where, id, payload); unreadable files are kept
    aside under ``bad/`` with a log line rather than blocking the rest."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    client = _redis() if redis else None
    if client is not None:
        try:
            for key, value in client.hscan_iter(_key(), count=limit):
                found.append(("redis", key.decode(), json.loads(value)))
                if len(found) >= limit:
                    return found
        except Exception:
            logger.warning("intake spool: Redis unavailable, its spool waits", exc_info=True)
    folder = spool_directory()
    if folder.is_dir():
        for path in sorted(folder.glob("*.json"))[: max(0, limit - len(found))]:
            try:
                found.append(("directory", path.stem, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                logger.exception("intake spool: %s cannot be read; moved to bad/", path)
                (folder / "bad").mkdir(exist_ok=True)
                path.replace(folder / "bad" / path.name)
    return found


def spool_remove(where: str, ids: list[str]) -> None:
    if not ids:
        return
    if where == "redis":
        client = _redis()
        if client is not None:
            client.hdel(_key(), *ids)
        return
    for name in ids:
        (spool_directory() / f"{name}.json").unlink(missing_ok=True)


def spool_set_aside(where: str, payload: dict[str, Any]) -> None:
    """A payload the database refuses for good: kept under bad/ (or in Redis's set-aside
    hash) for a person to look at; never deleted."""
    text = json.dumps(payload, separators=(",", ":"))
    client = _redis() if where == "redis" else None
    if client is not None:
        client.hset(_key() + ":set-aside", str(payload.get("id")), text)
        return
    _write_file(spool_directory() / "bad", str(payload.get("id")), text)


def spool_counts() -> dict[str, int | None]:
    """How many submissions wait in each spool (None: that spool cannot be asked now)."""
    counts: dict[str, int | None] = {"redis": None, "directory": 0}
    client = _redis()
    if client is None:
        counts.pop("redis")
    else:
        try:
            counts["redis"] = int(client.hlen(_key()))
        except Exception:  # noqa: BLE001 - reported as unknown
            counts["redis"] = None
    folder = spool_directory()
    try:
        counts["directory"] = sum(1 for _ in folder.glob("*.json")) if folder.is_dir() else 0
    except OSError:
        counts["directory"] = None
    return counts


_last_local_check = 0.0


def local_spool_waiting(every_seconds: float = 30.0) -> bool:
    """At most every ``every_seconds`` per process: is anything waiting in this machine's
    directory spool? (A web server that wrote there can then have it ingested.)"""
    global _last_local_check
    now = time.monotonic()
    if now - _last_local_check < every_seconds:
        return False
    _last_local_check = now
    folder = spool_directory()
    try:
        return folder.is_dir() and any(folder.glob("*.json"))
    except OSError:
        return False
