"""Intake under a surge: many concurrent people submitting the public form, then the same with
Redis (broker and cache) stopped.

Runs gunicorn on the configured PostgreSQL database with a Redis server of its own (so that
stopping it disturbs nobody else), drives it from one asyncio process over loopback, and
prints requests per second, latency percentiles, the count of 5xx answers and of accepted
submissions without a stored inquiry and acknowledgement row.

Every request comes from its own loopback source address (127.x.y.z): the per-address rate
limit stays on, as it is in production, and a surge is many different people.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relocate_bench .venv/bin/python bench/intake_load.py
    (options: --clients 200 --seconds 60 --workers 4)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_SLUG = "bench-intake"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class Phase:
    name: str
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0


class Load:
    """One asyncio process, ``clients`` coroutines, each submitting the form in a loop."""

    def __init__(self, port: int, csrf_token: str, csrf_cookie: str, started: str, run_id: str) -> None:
        self.port = port
        self.csrf_token = csrf_token
        self.csrf_cookie = csrf_cookie
        self.started = started
        self.run_id = run_id
        self.counter = itertools.count()
        self.addresses = (f"127.{a}.{b}.{c}" for a in range(1, 255) for b in range(256) for c in range(1, 255))

    def body(self, n: int) -> bytes:
        fields = {
            "csrfmiddlewaretoken": self.csrf_token, "started": self.started, "website": "",
            "name": f"Surge Person {n}", "email": f"surge-{self.run_id}-{n}@example.net",
            "current_country": "US", "citizenships": "US", "move_timeline": "3m",
            "motivation": "Looking to move after the election.", "privacy_accepted": "on",
        }
        return urllib.parse.urlencode(fields).encode()

    async def one(self, phase: Phase) -> None:
        n = next(self.counter)
        body = self.body(n)
        request = (
            f"POST /apply/{BENCH_SLUG}/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            f"Cookie: csrftoken={self.csrf_cookie}\r\nReferer: http://127.0.0.1:{self.port}/apply/{BENCH_SLUG}/\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(next(self.addresses), 0)
            )
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            phase.errors += 1
            return
        status = int(head.split(b" ", 2)[1])
        phase.latencies.append(time.perf_counter() - started)
        phase.statuses.append(status)
        if status == 302 and b"/thanks/" in head:
            phase.accepted.append(f"surge-{self.run_id}-{n}@example.net")

    async def client(self, phase: Phase, until: float) -> None:
        while time.monotonic() < until:
            await self.one(phase)

    async def run(self, phase: Phase, clients: int, seconds: float) -> None:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(self.client(phase, until) for _ in range(clients)))
        phase.seconds = time.monotonic() - started


def form_tokens(port: int) -> tuple[str, str]:
    """A CSRF cookie and a form token from a real GET of the form, as a browser would."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(f"GET /apply/{BENCH_SLUG}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                     .encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    text = data.decode("utf-8", "replace")
    cookie = re.search(r"csrftoken=([A-Za-z0-9]+)", text)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
    if not cookie or not token:
        raise RuntimeError("the form page did not carry a CSRF cookie and token:\n" + text[:2000])
    return cookie.group(1), token.group(1)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relocate.settings")
    import django

    django.setup()


def prepare_employer() -> None:
    from django.contrib.auth import get_user_model

    from leads.models import Employer, Membership, Role

    employer, _ = Employer.objects.get_or_create(
        slug=BENCH_SLUG, defaults={"name": "Bench Intake Ltd", "destination_country": "NZ",
                                   "time_zone": "Pacific/Auckland"})
    for i in range(3):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-recruiter-{i}",
                                                         defaults={"email": f"r{i}@example.com"})
        Membership.objects.get_or_create(user=user, employer=employer, defaults={"role": Role.RECRUITER})


def verify(emails: list[str]) -> tuple[int, int]:
    """Accepted submissions missing their inquiry, and missing their acknowledgement row."""
    from leads.models import Inquiry, OutboundEmail, OutboundKind

    missing_inquiry = missing_ack = 0
    for start in range(0, len(emails), 1000):
        chunk = emails[start:start + 1000]
        with_inquiry = set(Inquiry.objects.filter(employer__slug=BENCH_SLUG, lead__email__in=chunk)
                           .values_list("lead__email", flat=True))
        with_ack = set(OutboundEmail.objects.filter(employer__slug=BENCH_SLUG, to_email__in=chunk,
                                                    kind=OutboundKind.ACKNOWLEDGEMENT)
                       .values_list("to_email", flat=True))
        missing_inquiry += len(set(chunk) - with_inquiry)
        missing_ack += len(set(chunk) - with_ack)
    return missing_inquiry, missing_ack


def report(phase: Phase) -> None:
    lat = sorted(phase.latencies)
    count = len(lat)
    fivexx = sum(1 for s in phase.statuses if s >= 500)
    by_status: dict[int, int] = {}
    for s in phase.statuses:
        by_status[s] = by_status.get(s, 0) + 1
    missing_inquiry, missing_ack = verify(phase.accepted)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(count - 1, int(count * 0.99))] * 1000 if lat else float("nan")
    print(f"\n{phase.name}")
    print(f"  requests: {count} in {phase.seconds:.1f} s = {count / phase.seconds:.1f} req/s")
    print(f"  latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(f"  statuses: {dict(sorted(by_status.items()))}; connection errors: {phase.errors}")
    print(f"  5xx: {fivexx}")
    print(f"  accepted: {len(phase.accepted)}; accepted without a stored inquiry: {missing_inquiry}; "
          f"without an acknowledgement row: {missing_ack}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (migrated) for this benchmark.")
    redis_server = shutil.which("redis-server")
    if not redis_server:
        sys.exit("redis-server is needed (apt-get install redis-server).")
    redis_port, web_port = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="relocate-bench-")
    redis_cmd = [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", workdir]
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false", "SECURE_HSTS_SECONDS": "0", "LOG_LEVEL": "ERROR",
        "STATIC_ROOT": str(Path(workdir) / "static"),
    }
    redis = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)  # noqa: S603
    wait_for_port(redis_port)
    setup_django(env)
    from django.core.management import call_command

    # Production settings serve hashed static files: collect them as a deploy would.
    call_command("collectstatic", interactive=False, verbosity=0)
    prepare_employer()
    from django.core import signing
    from django.db import connection

    from leads import forms

    # Signed as if the form had been served a minute ago: the minimum fill time stays on.
    started = signing.dumps(time.time() - 60, salt=forms._STARTED_SALT)
    connection.close()
    web = subprocess.Popen(  # noqa: S603
        [str(ROOT / ".venv/bin/gunicorn"), "relocate.wsgi", "--workers", str(args.workers), "--bind",
         f"127.0.0.1:{web_port}", "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
    )
    try:
        wait_for_port(web_port)
        cookie, token = form_tokens(web_port)
        run_id = secrets.token_hex(4)
        load = Load(web_port, token, cookie, started, run_id)
        print(f"gunicorn: {args.workers} sync workers; {args.clients} concurrent clients; {args.seconds:.0f} s a phase;"
              f" database {connection.vendor}; CPU cores {os.cpu_count()}")
        up = Phase("Redis up")
        asyncio.run(load.run(up, args.clients, args.seconds))
        report(up)
        redis.send_signal(signal.SIGKILL)
        redis.wait()
        down = Phase("Redis stopped (broker and cache down)")
        asyncio.run(load.run(down, args.clients, args.seconds))
        report(down)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        if redis.poll() is None:
            redis.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
