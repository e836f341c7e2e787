"""The webhook sender's network side: which URLs may be called, and the pinned HTTP request.

A webhook URL is typed by an employer admin, so it must never become a way into the network the
workers run in (SSRF). The rules (docs/webhooks.md):

- ``https`` only; ``http`` and loopback receivers only when DEBUG and
  RELOCATE_WEBHOOK_ALLOW_LOOPBACK are both on (development and tests).
- The host is resolved once, and refused when any of its addresses is not a public one:
  loopback, private, shared (CGNAT), link-local (cloud metadata at 169.254.169.254), multicast,
  reserved, unspecified, a Teredo tunnel, or an IPv6 form that embeds one of those
  (IPv4-mapped, 6to4, NAT64).
- The connection goes to the address that was checked (the "pin"), never to a fresh lookup of
  the name, so a DNS answer that changes between the check and the connect (rebinding) cannot
  reach inside. TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "Relocate-Webhooks/1"
# How much of the receiver's answer is read (and kept, as text, up to RESPONSE_KEEP characters).
_RESPONSE_READ = 8192
RESPONSE_KEEP = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """A URL the sender will not call; the message says why, for the admin reading it."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str  # with the query string
    address: str  # the checked IP the connection is pinned to


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # the start of the body, as text


def loopback_allowed() -> bool:
    """The development setting takes effect only with DEBUG on (a system check warns otherwise)."""
    return bool(settings.DEBUG and settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK)


def address_problem(ip: IPAddress, *, allow_loopback: bool = False) -> str:
    """Why the sender may not connect to ``ip`` ("" when it may)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = address_problem(embedded, allow_loopback=allow_loopback)
            return f"{ip} embeds {inner}" if inner else ""
        if ip.teredo is not None:
            return f"{ip} is a Teredo tunnel address"
        if ip.scope_id:
            return f"{ip} is a scoped (link-local) address"
    if ip.is_loopback:
        return "" if allow_loopback else f"{ip} is a loopback address"
    for flag, what in (
        ("is_unspecified", "an unspecified"), ("is_link_local", "a link-local"), ("is_multicast", "a multicast"),
        ("is_private", "a private"), ("is_reserved", "a reserved"),
    ):
        if getattr(ip, flag):
            return f"{ip} is {what} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return ""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def url_problem(url: str) -> str:
    """What is wrong with a URL before any lookup ("" when nothing): the scheme, credentials, and
    a host that is itself an internal IP. For the admin form; ``resolve`` is the real check."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the URL cannot be read ({exc})"
    allow_loopback = loopback_allowed()
    schemes = ("https", "http") if allow_loopback else ("https",)
    if parts.scheme not in schemes:
        return "only https:// URLs are allowed" if not allow_loopback else "only https:// or http:// URLs"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        return "put no user name or password in the URL: verify the signature instead"
    if port == 0:
        return "port 0 cannot be called"
    try:
        ip = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return ""
    return address_problem(ip, allow_loopback=allow_loopback)


def resolve(url: str) -> Target:
    """Check ``url`` and resolve its host; raises TargetRefused, having connected nowhere."""
    problem = url_problem(url)
    if problem:
        raise TargetRefused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"{host} does not resolve ({exc})") from exc
    addresses = []
    for info in infos:
        text = str(info[4][0])
        try:
            ip = ipaddress.ip_address(text)
        except ValueError as exc:
            raise TargetRefused(f"{host} resolves to {text!r}, which is not an IP address") from exc
        addresses.append(ip)
    if not addresses:
        raise TargetRefused(f"{host} does not resolve")
    allow_loopback = loopback_allowed()
    # Every address must pass: a name that answers one public and one internal address could
    # otherwise be steered to the internal one.
    for ip in addresses:
        problem = address_problem(ip, allow_loopback=allow_loopback)
        if problem:
            raise TargetRefused(f"{host} resolves to an address that may not be called: {problem}")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))


def signature(secret: str, body: str, timestamp: int) -> str:
    """The ``Relocate-Signature`` header value: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the host name resolves to now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.pinned_address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate verified for the host name (SNI too)."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self.pinned_address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, host names checked: nothing is relaxed for webhooks."""
    return ssl.create_default_context()


def connection_for(target: Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, timeout, tls_context())
    return _PinnedHTTPConnection(target, timeout)


def post(target: Target, body: str, headers: dict[str, str], *, timeout: float) -> Answer:
    """POST ``body`` to the pinned target and read the start of the answer; redirects are not
    followed (http.client never does). Raises OSError (timeouts and TLS errors included) or
    http.client.HTTPException."""
    connection = connection_for(target, timeout)
    deadline = time.monotonic() + timeout
    try:
        connection.request("POST", target.path, body=body.encode(), headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        return Answer(status=response.status, text=_read_start(response, deadline))
    finally:
        connection.close()


def _read_start(response: http.client.HTTPResponse, deadline: float) -> str:
    """Up to _RESPONSE_READ bytes, each read bounded by the socket timeout and the whole by the
    deadline: a receiver that drips its answer cannot hold the worker."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < _RESPONSE_READ and time.monotonic() < deadline:
            chunk = response.read1(_RESPONSE_READ - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (OSError, http.client.HTTPException):
        pass  # the status is what counts; the body is only kept to help whoever reads it
    return b"".join(chunks).decode("utf-8", errors="replace")[:RESPONSE_KEEP]
