"""schemathesis hooks for .ci/schemathesis.

The generator draws Idempotency-Key values from a small space (the coverage phase sends the
same few again and again), and the API rightly answers a key reused with another body 422
("used for another request"). Left alone, most POSTs stop at that check and never reach the
view. A valid key is therefore replaced by one derived from the request itself: the same
request always carries the same key (a replay, checked like any answer), another request
another key. Invalid keys (empty, too long, not ASCII) are sent as drawn, for the 400.

A URL longer than gunicorn's request line (4,094 bytes: a fuzzed query string, percent-encoded
three bytes a character) is answered 414 by gunicorn itself, as in production (README:
gunicorn behind a proxy, which has a limit of its own); the API never sees it, so its
document cannot speak for it. Failures on that answer alone are dropped.
"""

from __future__ import annotations

import hashlib
from typing import Any

import schemathesis

_HEADER = "Idempotency-Key"


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    raw = (case.headers or {}).get(_HEADER)
    if not isinstance(raw, str) or not 1 <= len(raw) <= 255 or not all(" " <= c <= "~" for c in raw):
        return
    request = f"{case.method} {case.formatted_path} {case.media_type} {case.body!r}"
    case.headers[_HEADER] = "st-" + hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    return response.status_code != 414
