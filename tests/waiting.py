"""Waiting for something a real component does (a server starting, a worker finishing) by
checking for it, with a deadline, instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> bool:
    """True as soon as ``predicate()`` is true; False if it is still false after ``timeout``
    seconds (a real clock: what is waited for runs in another thread or process). Exceptions
    from the predicate propagate; catch them in the predicate when they mean "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)
