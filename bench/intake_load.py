"""Public-form intake under load: throughput with wrk, then a surge of people submitting while a
Celery worker turns their submissions into inquiries.

Runs gunicorn on the PostgreSQL database of DATABASE_URL with a Redis server of its own (broker,
cache and spool; nobody else's is touched). The load generator plays the reverse proxy: gunicorn
trusts 127.0.0.1 (RELOCATE_TRUSTED_PROXIES) and every POST carries an X-Forwarded-For address of
its own in 2001:db8::/32 (a documentation range; only a header, no traffic goes there), so each
request is another person and the per-address rate limit stays on at its default. Each POST also
carries a start token of its own, signed as if its form had been served a minute or more ago (the
minimum fill time stays on, and a served form can be sent only once).

1. Throughput (wrk, 2 threads, bench/intake_post.lua): GET /healthz, GET /apply/<slug>/ and
   POST /apply/<slug>/ at 16 and 64 connections, each warmed up for 2 s, then --runs runs of
   --seconds each with the three endpoints interleaved; medians of req/s, p50 and p99, and the
   targets (form GET >= 0.8x /healthz, POST >= 0.5x /healthz, POST p99 <= 3x /healthz p99). Then
   `manage.py intake_drain` turns the POSTs' pending submissions into inquiries, timed
   (--drain-processes of them at once, one a core by default: one alone takes minutes here).
2. Surge (asyncio, one connection per request): --clients concurrent people for --surge-seconds
   with a Celery worker (--concurrency 2) running; then the worker is stopped, `intake_drain`
   processes the rest, and every accepted submission (302 to /thanks/) is checked: exactly one
   inquiry, and an acknowledgement row.

Prints figures; asserts nothing. Names come from a small pool of common names, most from the US,
as in a real surge (many people share a name and a country; some share a phone number); every
email is unique. Every process it starts is stopped at the end, and every wait is bounded.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relocate_bench .venv/bin/python bench/intake_load.py
    (options: --runs 3 --seconds 10 --clients 200 --surge-seconds 60 --workers 4 --drain-processes 2
     --skip-wrk --skip-surge; the defaults take about 10 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_SLUG = "bench-intake"
LUA_SCRIPT = Path(__file__).resolve().parent / "intake_post.lua"
WRK = "/usr/bin/wrk"
CONNECTIONS = (16, 64)
WARMUP_SECONDS = 2
# wrk's own default (2 s) would count slow answers as timeouts and leave them out of the latency.
WRK_TIMEOUT_SECONDS = 10
# Start tokens written for each POST measurement: far above what 2 cores answer (~300/s).
TOKENS_PER_SECOND = 2000
# Every wait is bounded: start-up, one drain, the worker's shutdown.
START_TIMEOUT = 60
DRAIN_TIMEOUT = 300
REQUEST_TIMEOUT = 30

# (name, country of residence, citizenships, weight): a surge is mostly one country, and common
# names collide (the possible-duplicate check by name and country sees many pairs).
PEOPLE: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("John Smith", "US", ("US",), 8), ("Michael Johnson", "US", ("US",), 6), ("Maria Garcia", "US", ("US",), 6),
    ("David Brown", "US", ("US",), 5), ("Jennifer Williams", "US", ("US",), 5), ("James Miller", "US", ("US",), 4),
    ("Sarah Davis", "US", ("US",), 4), ("Robert Wilson", "US", ("US",), 4), ("Jessica Martinez", "US", ("US",), 3),
    ("Chris Anderson", "US", ("US",), 3), ("Emily Taylor", "US", ("US",), 3), ("Daniel Thomas", "US", ("US",), 3),
    ("Wei Zhang", "US", ("US",), 2), ("José Rodríguez", "US", ("US", "MX"), 2), ("Priya Patel", "US", ("US",), 2),
    ("Ashley Moore", "US", ("US",), 2), ("Mohammed Ali", "US", ("US",), 1), ("Maria Garcia", "MX", ("MX",), 1),
    ("Wei Zhang", "CN", ("CN",), 1), ("Emma Thompson", "GB", ("GB",), 1), ("Sarah O'Brien", "CA", ("CA", "IE"), 1),
    ("Priya Patel", "IN", ("IN",), 1),
)
# Shared by a household or an office; the fictional 555-01xx numbers and Ofcom's drama range.
SHARED_PHONES = ("+1 202 555 0143", "+1 415 555 0198", "+1 312 555 0107", "+1 617 555 0121", "+44 20 7946 0958")
AREA_CODES = (212, 312, 415, 512, 617, 720)
MOTIVATIONS = (
    "Looking to move after the election.", "My partner and I want a fresh start abroad.",
    "I have wanted to live in New Zealand for years.", "Better work-life balance for our kids.",
    "Healthcare and safety.", "",
)
SKILLS = ("", "Python, SQL", "Nursing", "Project management", "Welding, Fabrication", "Teaching", "Go, Kubernetes")


def person_fragments() -> list[str]:
    """The urlencoded name, country and citizenships of each pool entry, repeated by weight."""
    out = []
    for name, country, citizenships, weight in PEOPLE:
        pairs = [("name", name), ("current_country", country), *(("citizenships", c) for c in citizenships)]
        out += [urllib.parse.urlencode(pairs)] * weight
    return out


def extra_fragments() -> list[str]:
    """A dozen combinations of the optional answers (fixed seed: the same every run)."""
    rng = random.Random(7)
    out = []
    for _ in range(12):
        pairs = [
            ("move_timeline", rng.choice(("now", "3m", "6m", "12m", "exploring"))),
            ("relocating_with", rng.choice(("", "alone", "partner", "family"))),
            ("needs_sponsorship", rng.choice(("", "yes", "no"))),
            ("years_experience", rng.choice(("", "2", "7", "15"))),
            ("skills", rng.choice(SKILLS)), ("motivation", rng.choice(MOTIVATIONS)),
        ]
        out.append(urllib.parse.urlencode([(k, v) for k, v in pairs if v]))
    return out


PERSONS = person_fragments()
EXTRAS = extra_fragments()


def random_phone(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return ""
    if roll < 0.55:
        return rng.choice(SHARED_PHONES)
    return f"+1 {rng.choice(AREA_CODES)} 555 {rng.randrange(10000):04d}"


def forwarded_for(rng: random.Random) -> str:
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(96)))


class StartTokens:
    """Signed start times (the form's hidden ``started``), as if each form had been served a
    minute or more ago: the minimum fill time stays on. A served form can be sent once (the app
    claims each token in the cache), so every POST carries its own: one millisecond apart."""

    def __init__(self) -> None:
        self.base = round(time.time() - 60, 3)
        self.counter = itertools.count()

    def take(self, n: int) -> list[str]:
        from django.core import signing

        from leads import forms

        return [signing.dumps(round(self.base - next(self.counter) / 1000, 3), salt=forms._STARTED_SALT)
                for _ in range(n)]


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def stop_group(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Stop a process started with start_new_session=True, and its children."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def log_tail(path: Path, lines: int = 15) -> str:  # for start-up failures
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in text[-lines:])


@dataclass
class Drain:
    processes: int
    seconds: float
    outcomes: Counter
    timed_out: bool
    pending_before: int
    pending_after: int

    @property
    def processed(self) -> int:
        if self.timed_out or "processed" not in self.outcomes:
            return max(0, self.pending_before + self.outcomes.get("spool ingested", 0) - self.pending_after)
        return self.outcomes["processed"]


def pending_count() -> int:
    from leads.models import Submission

    return Submission.objects.filter(status=Submission.Status.PENDING).count()


def run_drain(env: dict[str, str], processes: int) -> Drain:
    """`manage.py intake_drain` in ``processes`` processes at once, each its own subprocess (the
    wall time includes their start-up). Submissions are claimed one at a time, so several
    drains share the backlog; one process uses one core at most."""
    from django.db import connection

    before = pending_count()
    connection.close()
    command = [str(ROOT / ".venv/bin/python"), "manage.py", "intake_drain"]
    outcomes: Counter = Counter()
    timed_out = False
    with contextlib.ExitStack() as stack:
        outputs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(processes)]
        started = time.monotonic()
        procs: list[subprocess.Popen] = []
        try:
            for out in outputs:
                procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,  # noqa: S603
                                              stderr=subprocess.STDOUT, start_new_session=True))
            for proc in procs:
                try:
                    proc.wait(timeout=max(1.0, started + DRAIN_TIMEOUT - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
                    stop_group(proc)
        finally:
            for proc in procs:
                stop_group(proc)
        seconds = time.monotonic() - started
        for out in outputs:
            out.seek(0)
            text = out.read()
            line = re.search(r"intake_drain: (.*)", text)
            if line:
                outcomes.update({name.strip(): int(n) for name, n in re.findall(r"([a-z ]+): (\d+)", line.group(1))})
            elif not timed_out:
                print(f"  intake_drain printed no summary:\n{text[-2000:]}")
    return Drain(processes, seconds, outcomes, timed_out, before, pending_count())


def print_drain(label: str, drain: Drain) -> None:
    rate = drain.processed / drain.seconds if drain.seconds else 0.0
    status = f"TIMED OUT after {DRAIN_TIMEOUT} s; " if drain.timed_out else ""
    per = f" ({rate / drain.processes:.1f}/s a process)" if drain.processes > 1 else ""
    print(f"  {label} ({drain.processes} process{'es' * (drain.processes > 1)} at once): {status}{drain.processed} "
          f"submissions processed in {drain.seconds:.1f} s = {rate:.1f}/s{per}; pending before {drain.pending_before}"
          f", after {drain.pending_after}; {', '.join(f'{k}: {v}' for k, v in sorted(drain.outcomes.items()))}",
          flush=True)


def log_problems(label: str, path: Path) -> None:
    """Errors in a server's stderr (the worker's also holds the console emails: left out)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return
    problems = [line for line in lines if re.search(r"Traceback|\bERROR\b|CRITICAL|Error:|Exception", line)]
    print(f"  {label} stderr: {len(lines)} lines, {len(problems)} error lines"
          + (":\n" + "\n".join(f"    {line[:300]}" for line in problems[-8:]) if problems else ""))


# --- wrk ---------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int
    socket_errors: int
    statuses: dict[str, int]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (rps and p50 and p99):
        raise RuntimeError("could not read wrk's output:\n" + output)
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    statuses = {}
    line = re.search(r"^INTAKE_STATUS (.*)$", output, re.M)
    if line:
        statuses = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}
    return WrkResult(
        rps=float(rps.group(1)), p50_ms=_ms(p50.group(1)), p99_ms=_ms(p99.group(1)),
        non_2xx_3xx=int(non.group(1)) if non else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0, statuses=statuses,
    )


class Wrk:
    def __init__(self, port: int, cookie: str, token: str, tokens: StartTokens, run_id: str, workdir: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.tokens = tokens
        self.token_prefix = str(workdir / "started-")
        fixed = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "website": "", "privacy_accepted": "on"})
        phones = ";".join(urllib.parse.quote_plus(p) for p in SHARED_PHONES)
        self.post_args = ["post", run_id, cookie, fixed, ";".join(PERSONS), phones, ";".join(EXTRAS)]
        self.get_args = ["get", run_id, "", "", "", "", ""]

    def write_tokens(self, seconds: float) -> None:
        """A start token for every POST wrk can send in ``seconds``, one file per thread."""
        per_thread = int(seconds * TOKENS_PER_SECOND / 2) + 100
        for thread in (1, 2):
            lines = (urllib.parse.quote(t, safe="") for t in self.tokens.take(per_thread))
            Path(f"{self.token_prefix}{thread}.txt").write_text("\n".join(lines) + "\n")

    def endpoints(self) -> list[tuple[str, str, list[str]]]:
        form = f"/apply/{BENCH_SLUG}/"
        return [("GET /healthz", "/healthz", self.get_args), (f"GET {form}", form, self.get_args),
                (f"POST {form}", form, self.post_args)]

    def run(self, path: str, args: list[str], connections: int, seconds: float) -> WrkResult:
        if args is self.post_args:
            self.write_tokens(seconds)
        command = [WRK, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout",
                   f"{WRK_TIMEOUT_SECONDS}s", "-s", str(LUA_SCRIPT), self.base + path, "--", *args,
                   str(secrets.randbelow(2**31)), self.token_prefix]
        done = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_SECONDS + 30, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return parse_wrk(done.stdout)


@dataclass
class Row:
    connections: int
    endpoint: str
    results: list[WrkResult] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.results)

    @property
    def p50(self) -> float:
        return statistics.median(r.p50_ms for r in self.results)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99_ms for r in self.results)

    def total(self, name: str) -> int:
        return sum(r.statuses.get(name, 0) for r in self.results)


def throughput(wrk: Wrk, runs: int, seconds: float) -> int:
    """Returns the POSTs answered 302 (warm-ups included)."""
    print(f"\n== Throughput: wrk -t2 -c<N> -d{seconds:g}s --latency, {runs} run(s), median reported ==")
    rows: dict[tuple[int, str], Row] = {}
    accepted = 0
    for connections in CONNECTIONS:
        for name, path, args in wrk.endpoints():
            warm = wrk.run(path, args, connections, WARMUP_SECONDS)
            accepted += warm.statuses.get("s302", 0)
            rows[(connections, name)] = Row(connections, name)
        for run in range(1, runs + 1):
            for name, path, args in wrk.endpoints():
                pending = pending_count()
                result = wrk.run(path, args, connections, seconds)
                rows[(connections, name)].results.append(result)
                accepted += result.statuses.get("s302", 0)
                codes = " ".join(f"{k[1:]}={v}" for k, v in result.statuses.items() if k.startswith("s") and v)
                if result.statuses.get("exhausted"):
                    codes += f"; start tokens ran out for {result.statuses['exhausted']} (sent again: 400)"
                print(f"  run {run} c={connections:<3} {name:<26} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms"
                      f"  p99 {result.p99_ms:7.1f} ms  [{codes}; socket errors {result.socket_errors}; "
                      f"pending rows at start: {pending}]", flush=True)
    print(f"\n{'connections':<12} {'endpoint':<26} {'req/s (median)':>14} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'ratio to /healthz':>18}  non-2xx/3xx (5xx), socket errors; all runs")
    for connections in CONNECTIONS:
        health = rows[(connections, "GET /healthz")]
        for name, _, _ in wrk.endpoints():
            row = rows[(connections, name)]
            ratio = "" if row is health else f"{row.rps / health.rps:.2f}x"
            non = sum(r.non_2xx_3xx for r in row.results)
            errors = sum(r.socket_errors for r in row.results)
            print(f"{connections:<12} {name:<26} {row.rps:>14.1f} {row.p50:>8.1f} {row.p99:>8.1f} {ratio:>18}  "
                  f"{non} ({row.total('s5xx')}), {errors}")
    print("\nTargets:")
    form = f"/apply/{BENCH_SLUG}/"
    for connections in CONNECTIONS:
        health, get, post = (rows[(connections, n)] for n in ("GET /healthz", f"GET {form}", f"POST {form}"))
        checks = (
            (f"form GET >= 0.8x /healthz req/s ({get.rps / health.rps:.2f}x)", get.rps >= 0.8 * health.rps),
            (f"POST >= 0.5x /healthz req/s ({post.rps / health.rps:.2f}x)", post.rps >= 0.5 * health.rps),
            (f"POST p99 <= 3x /healthz p99 ({post.p99:.1f} ms vs {3 * health.p99:.1f} ms)",
             post.p99 <= 3 * health.p99),
        )
        for text, met in checks:
            print(f"  c={connections:<3} {text:<62} {'met' if met else 'NOT MET'}")
    posts = [r for c in CONNECTIONS for r in rows[(c, f"POST {form}")].results]
    other: Counter = Counter()
    for r in posts:
        other.update({k[1:]: v for k, v in r.statuses.items() if k.startswith("s") and k != "s302" and v})
    print(f"  POST answers other than 302 in the measured runs: {dict(other) or 'none'}; 302s: "
          f"{sum(r.statuses.get('s302', 0) for r in posts)} ({accepted} with the warm-ups)")
    return accepted


def verify_wrk_posts(run_id: str, accepted: int) -> None:
    from leads.models import Inquiry, Submission

    prefix = f"wrk-{run_id}-"
    inquiries = Inquiry.objects.filter(employer__slug=BENCH_SLUG, lead__email__startswith=prefix).count()
    pending = Submission.objects.filter(employer__slug=BENCH_SLUG, status=Submission.Status.PENDING,
                                        data__email__startswith=prefix).count()
    print(f"  wrk POSTs answered 302: {accepted}; inquiries stored for wrk's emails: {inquiries} (more is expected:"
          " wrk does not count the answers in flight when it stops, up to its connections per measurement); "
          f"their submissions still pending: {pending}")


# --- the surge ---------------------------------------------------------------------------------


@dataclass
class Surge:
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    errors: int = 0
    timeouts: int = 0
    seconds: float = 0.0


class Load:
    """One asyncio process, ``clients`` coroutines, each submitting the form in a loop; one
    connection per request. 127.0.0.1 is the trusted proxy: the person is in X-Forwarded-For."""

    def __init__(self, port: int, csrf_token: str, csrf_cookie: str, tokens: StartTokens, run_id: str) -> None:
        self.port = port
        self.csrf_token = csrf_token
        self.csrf_cookie = csrf_cookie
        self.tokens = tokens
        self.run_id = run_id
        self.counter = itertools.count()
        self.rng = random.Random()

    def email(self, n: int) -> str:
        return f"surge-{self.run_id}-{n}@example.net"

    def body(self, n: int) -> bytes:
        fixed = urllib.parse.urlencode({
            "csrfmiddlewaretoken": self.csrf_token, "started": self.tokens.take(1)[0], "website": "",
            "email": self.email(n), "phone": random_phone(self.rng), "privacy_accepted": "on",
        })
        return f"{fixed}&{self.rng.choice(PERSONS)}&{self.rng.choice(EXTRAS)}".encode()

    async def exchange(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.close()

    async def one(self, surge: Surge) -> None:
        n = next(self.counter)
        body = self.body(n)
        request = (
            f"POST /apply/{BENCH_SLUG}/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            f"Cookie: csrftoken={self.csrf_cookie}\r\nReferer: http://127.0.0.1:{self.port}/apply/{BENCH_SLUG}/\r\n"
            f"X-Forwarded-For: {forwarded_for(self.rng)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        try:
            head = await asyncio.wait_for(self.exchange(request), REQUEST_TIMEOUT)
        except TimeoutError:
            surge.timeouts += 1
            return
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            surge.errors += 1
            return
        status = int(head.split(b" ", 2)[1])
        surge.latencies.append(time.perf_counter() - started)
        surge.statuses[status] += 1
        if status == 302 and b"/thanks/" in head:
            surge.accepted.append(self.email(n))

    async def client(self, surge: Surge, until: float) -> None:
        while time.monotonic() < until:
            await self.one(surge)

    async def run(self, surge: Surge, clients: int, seconds: float) -> None:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(self.client(surge, until) for _ in range(clients)))
        surge.seconds = time.monotonic() - started


def start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    from relocate.celery import app

    with log.open("ab") as err:
        worker = subprocess.Popen(  # noqa: S603
            [str(ROOT / ".venv/bin/celery"), "-A", "relocate", "worker", "--concurrency", "2", "--loglevel",
             "WARNING", "-n", name, "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}:\n{log_tail(log)}")
        if app.control.ping(destination=[name], timeout=1.0):
            return worker
    stop_worker(worker)
    raise RuntimeError(f"the Celery worker did not answer a ping within {START_TIMEOUT} s:\n{log_tail(log)}")


def stop_worker(worker: subprocess.Popen) -> None:
    """A warm shutdown: SIGTERM to the main process only, which lets the pool finish the tasks it
    is running (SIGTERM to the whole group would kill them mid-intake, leaving their submissions
    claimed); the group is killed only if that takes too long."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print("  the worker did not stop within 60 s of SIGTERM; killed")
    # Its pool processes too, should any have outlived it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(timeout=10)


def run_surge(port: int, cookie: str, token: str, tokens: StartTokens, run_id: str, args: argparse.Namespace,
              env: dict[str, str], workdir: Path) -> None:
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from leads.models import Submission
    from relocate.celery import app

    print(f"\n== Surge: {args.clients} concurrent people for {args.surge_seconds:g} s, one connection a request, "
          "a Celery worker (--concurrency 2) processing meanwhile ==")
    # Kicks of the throughput part's submissions (all drained by now) would stand in the
    # worker's queue ahead of the surge's own.
    purged = app.control.purge()
    worker_log = workdir / "worker.log"
    name = f"bench-{run_id}@bench"
    worker = start_worker(env, name, worker_log)
    print(f"  worker up ({purged} stale task message(s) purged first)", flush=True)
    surge = Surge()
    since = timezone.now() - dt.timedelta(seconds=1)
    prefix = f"surge-{run_id}-"
    try:
        load = Load(port, token, cookie, tokens, run_id)
        asyncio.run(asyncio.wait_for(load.run(surge, args.clients, args.surge_seconds),
                                     args.surge_seconds + REQUEST_TIMEOUT + 10))
        mine = Submission.objects.filter(employer__slug=BENCH_SLUG, received_at__gte=since,
                                         data__email__startswith=prefix)
        stored = mine.count()
        processed_by_worker = mine.filter(status=Submission.Status.PROCESSED).count()
        connection.close()
    finally:
        stop_worker(worker)
    drain = run_drain(env, args.drain_processes)
    lat = sorted(surge.latencies)
    count = len(lat)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(count - 1, int(count * 0.99))] * 1000 if lat else float("nan")
    fivexx = sum(n for s, n in surge.statuses.items() if s >= 500)
    print(f"  requests: {count} in {surge.seconds:.1f} s = {count / surge.seconds:.1f} req/s")
    print(f"  latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(f"  statuses: {dict(sorted(surge.statuses.items()))}")
    print(f"  5xx: {fivexx}; connection errors: {surge.errors}; timeouts (> {REQUEST_TIMEOUT} s): {surge.timeouts}")
    print(f"  accepted submissions (302 to /thanks/): {len(surge.accepted)}; stored submission rows: {stored}")
    print(f"  processed by the worker by the end of the surge: {processed_by_worker} "
          f"({processed_by_worker / max(1, stored):.0%}; {processed_by_worker / surge.seconds:.1f}/s)")
    print_drain("then intake_drain", drain)
    not_one, missing, several, no_ack = verify(surge.accepted)
    print(f"  accepted submissions that did not end up as exactly one inquiry: {not_one} "
          f"(none: {missing}, more than one: {several})")
    print(f"  accepted submissions without an acknowledgement row: {no_ack}")
    log_problems("worker", worker_log)


def verify(emails: list[str]) -> tuple[int, int, int, int]:
    """Of the accepted emails: not exactly one inquiry, none, more than one, no acknowledgement."""
    from django.db.models import Count

    from leads.models import Inquiry, OutboundEmail, OutboundKind

    inquiries: Counter = Counter()
    acks: Counter = Counter()
    for start in range(0, len(emails), 1000):
        chunk = emails[start:start + 1000]
        for row in (Inquiry.objects.filter(employer__slug=BENCH_SLUG, lead__email__in=chunk)
                    .values("lead__email").annotate(n=Count("id"))):
            inquiries[row["lead__email"]] = row["n"]
        for row in (OutboundEmail.objects.filter(employer__slug=BENCH_SLUG, to_email__in=chunk,
                                                 kind=OutboundKind.ACKNOWLEDGEMENT)
                    .values("to_email").annotate(n=Count("id"))):
            acks[row["to_email"]] = row["n"]
    missing = sum(1 for e in emails if inquiries[e] == 0)
    several = sum(1 for e in emails if inquiries[e] > 1)
    no_ack = sum(1 for e in emails if acks[e] == 0)
    return missing + several, missing, several, no_ack


# --- set-up ------------------------------------------------------------------------------------


def form_tokens(port: int) -> tuple[str, str]:
    """A CSRF cookie and a form token from a real GET of the form, as a browser would."""
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT) as conn:
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


def reproduce_command(args: argparse.Namespace) -> str:
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    if url.password:
        url = url._replace(netloc=url.netloc.replace(f":{url.password}@", ":***@"))
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    options = [f"--runs={args.runs}", f"--seconds={args.seconds:g}", f"--clients={args.clients}",
               f"--surge-seconds={args.surge_seconds:g}", f"--workers={args.workers}",
               f"--drain-processes={args.drain_processes}"]
    options += ["--skip-wrk"] * args.skip_wrk + ["--skip-surge"] * args.skip_surge
    return (f"cd {shlex.quote(str(ROOT))} && DATABASE_URL={shlex.quote(urllib.parse.urlunsplit(url))} "
            f"{python} bench/intake_load.py {' '.join(options)}")


def vacuum_when_autovacuum_is_off() -> None:
    """With autovacuum off (as on some test servers) the dead rows of earlier runs pile up (each
    processed submission leaves three) and slow every later run, /healthz's backlog count above
    all: vacuumed first, so that runs compare."""
    from django.db import connection

    from leads.models import Employer, Inquiry, Lead, Membership, OutboundEmail, PossibleDuplicate, Submission

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            return
        started = time.monotonic()
        for model in (Submission, Lead, Inquiry, OutboundEmail, PossibleDuplicate, Employer, Membership):
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
    print(f"autovacuum is off on this server: the intake tables were vacuumed first "
          f"({time.monotonic() - started:.1f} s); within the run dead rows pile up as they would not in production")


def database_description() -> str:
    from django.db import connection

    connection.ensure_connection()
    version = getattr(connection, "pg_version", None)
    if version:
        return f"{connection.vendor} {version // 10000}.{version % 10000}"
    return connection.vendor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="wrk runs of each measurement (median reported)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds of one wrk measurement")
    parser.add_argument("--clients", type=int, default=200, help="concurrent people in the surge")
    parser.add_argument("--surge-seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn (sync) workers")
    parser.add_argument("--drain-processes", type=int, default=os.cpu_count() or 1,
                        help="intake_drain processes run at once after each part (default: one a core)")
    parser.add_argument("--skip-wrk", action="store_true")
    parser.add_argument("--skip-surge", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (migrated) for this benchmark, e.g. "
                 "DATABASE_URL=postgres://postgres@127.0.0.1:5432/relocate_bench")
    redis_server = shutil.which("redis-server")
    if not redis_server:
        sys.exit("redis-server is needed (apt-get install redis-server).")
    if not args.skip_wrk and not os.access(WRK, os.X_OK):
        sys.exit(f"wrk is needed at {WRK} (Debian package `wrk`: apt-get install wrk), or pass --skip-wrk.")
    began = time.monotonic()
    redis_port, web_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="relocate-bench-"))
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false", "SECURE_HSTS_SECONDS": "0", "LOG_LEVEL": "ERROR",
        "STATIC_ROOT": str(workdir / "static"), "RELOCATE_TRUSTED_PROXIES": "127.0.0.1",
    }
    redis = web = None
    try:
        redis = subprocess.Popen(  # noqa: S603
            [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )
        wait_for_port(redis_port, redis)
        setup_django(env)
        full_env = dict(os.environ)
        from django.core.management import call_command
        from django.db import connection

        # Production settings serve hashed static files: collect them as a deploy would.
        call_command("collectstatic", interactive=False, verbosity=0)
        prepare_employer()
        tokens = StartTokens()
        run_id = secrets.token_hex(4)
        print(f"gunicorn workers: {args.workers} (sync); CPU cores: {os.cpu_count()}; database: "
              f"{database_description()}; run id {run_id}\nreproduce: {reproduce_command(args)}", flush=True)
        vacuum_when_autovacuum_is_off()
        leftover = pending_count()
        if leftover:
            print_drain(f"{leftover} submission(s) left pending by an earlier run; intake_drain first",
                        run_drain(full_env, args.drain_processes))
        connection.close()
        web_log = workdir / "gunicorn.log"
        with web_log.open("ab") as err:
            web = subprocess.Popen(  # noqa: S603
                [str(ROOT / ".venv/bin/gunicorn"), "relocate.wsgi", "--workers", str(args.workers), "--bind",
                 f"127.0.0.1:{web_port}", "--backlog", "2048", "--log-level", "warning"],
                cwd=ROOT, env=full_env, stderr=err, start_new_session=True,
            )
        wait_for_port(web_port, web)
        cookie, token = form_tokens(web_port)
        if not args.skip_wrk:
            wrk = Wrk(web_port, cookie, token, tokens, run_id, workdir)
            accepted = throughput(wrk, args.runs, args.seconds)
            print("\n== Processing what the POSTs left pending ==")
            print_drain("intake_drain", run_drain(full_env, args.drain_processes))
            verify_wrk_posts(run_id, accepted)
            connection.close()
        if not args.skip_surge:
            run_surge(web_port, cookie, token, tokens, run_id, args, full_env, workdir)
        print()
        log_problems("gunicorn", web_log)
        print(f"\nfinished in {time.monotonic() - began:.0f} s")
    finally:
        stop_group(web)
        stop_group(redis, timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
