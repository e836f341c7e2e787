"""Behind a real reverse proxy (nginx, as the README sets it up): each person is limited on
their own address and none is refused for another's; a forged header from outside counts for
nothing."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from django.core.cache import cache

from leads.forms import started_token
from leads.models import Inquiry, Submission
from leads.services.submissions import submissions_drain
from tests.helpers_intake import closed_port
from tests.waiting import wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.django_db(transaction=True)

_CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  client_max_body_size 6m;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


@pytest.fixture
def nginx(live_server, tmp_path) -> Iterator[int]:
    if not Path(NGINX).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is missing; CI must install it (apt-get install nginx-light)")
        pytest.skip("needs nginx (apt-get install nginx-light)")
    port = closed_port()
    upstream = urllib.parse.urlsplit(live_server.url).port
    work = tmp_path / "nginx"
    work.mkdir()
    config = work / "nginx.conf"
    config.write_text(_CONFIG.format(work=work, port=port, upstream=upstream))
    process = subprocess.Popen([NGINX, "-c", str(config), "-p", str(work)],  # noqa: S603 - our own config
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def listening() -> bool:
        if process.poll() is not None:
            pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
        except OSError:
            return False
        return True

    if not wait_until(listening, timeout=10):
        process.terminate()
        pytest.fail(f"nginx did not listen on port {port} within 10 s")
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def proxy_settings(settings, tmp_path):
    settings.RELOCATE_TRUSTED_PROXIES = "127.0.0.1"
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0
    settings.RELOCATE_PUBLIC_FORM_RATE = 2
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.RELOCATE_SPOOL_DIR = str(tmp_path / "spool")
    cache.clear()
    yield
    cache.clear()


class Person:
    """A browser on its own loopback address, keeping its CSRF cookie."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port, self.cookie = address, port, ""

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                                source_address=(self.address, 0))
        headers = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookie:
            headers["Cookie"] = f"csrftoken={self.cookie}"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie(header)
            if "csrftoken" in jar:
                self.cookie = jar["csrftoken"].value
        connection.close()
        return response.status, content

    def apply(self, slug: str, email: str, headers: dict[str, str] | None = None) -> int:
        status, page = self.request("GET", f"/apply/{slug}/")
        assert status == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({
            "csrfmiddlewaretoken": token, "started": started_token(), "website": "", "name": "John Smith",
            "email": email, "current_country": "US", "privacy_accepted": "on",
        })
        status, _ = self.request("POST", f"/apply/{slug}/", body, {
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        return status


def test_behind_nginx_each_person_is_limited_on_their_own_address(cast, nginx, proxy_settings):
    people = [Person(f"127.0.0.{n}", nginx) for n in range(2, 6)]
    results = {p.address: [p.apply(cast.employer.slug, f"{p.address}-{i}@example.org") for i in range(3)]
               for p in people}
    # Two each are accepted, the third of each is refused: nobody is refused for anybody else.
    assert results == {p.address: [302, 302, 429] for p in people}
    submissions_drain(every_pending=True)
    stored = sorted(Inquiry.objects.values_list("remote_addr", flat=True))
    assert stored == sorted(p.address for p in people for _ in range(2))


def test_a_forged_header_from_an_untrusted_peer_is_limited_on_its_real_address(cast, live_server,
                                                                               proxy_settings):
    # Straight to the app, not through the proxy: the peer 127.0.0.9 is not trusted.
    port = urllib.parse.urlsplit(live_server.url).port
    forger = Person("127.0.0.9", port)
    statuses = [forger.apply(cast.employer.slug, f"forger{i}@example.org",
                             headers={"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(3)]
    assert statuses == [302, 302, 429]
    submissions_drain(every_pending=True)
    assert set(Submission.objects.values_list("remote_addr", flat=True)) == {"127.0.0.9"}
