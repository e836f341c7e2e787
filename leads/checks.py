"""Deploy checks (``manage.py check --deploy``): a production start that is only half
configured says so, naming the variable. ``--fail-level WARNING`` turns each into a failure;
they are warnings because a deployment may choose some of them on purpose (a staging site that
writes emails to files, a single machine without Redis). One check runs on every start: a
development-only setting left on in production."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}  # noqa: S104 - a name to refuse, not to bind
_NOT_SENT = {
    "django.core.mail.backends.console.EmailBackend": "the console",
    "django.core.mail.backends.filebased.EmailBackend": "files",
    "django.core.mail.backends.locmem.EmailBackend": "memory",
    "django.core.mail.backends.dummy.EmailBackend": "nowhere",
}


@register(Tags.security, deploy=True)
def production_configuration(app_configs=None, **kwargs) -> list[Warning]:
    if settings.DEBUG:
        return []
    problems = []
    where = _NOT_SENT.get(settings.EMAIL_BACKEND)
    if where:
        problems.append(Warning(
            f"EMAIL_URL is not set to a mail server: emails go to {where}, are marked sent, and reach nobody.",
            hint="Set EMAIL_URL, for example smtp+tls://user:password@mail.example.com:587.", id="relocate.W001",
        ))
    site = urlsplit(settings.SITE_URL)
    if site.scheme != "https" or (site.hostname or "") in _LOCAL_HOSTS:
        problems.append(Warning(
            f"SITE_URL is {settings.SITE_URL!r}: every unsubscribe and my-data link in emails points there.",
            hint="Set SITE_URL to the public https address, for example https://relocate.example.com.",
            id="relocate.W002",
        ))
    if not settings.REDIS_URL:
        problems.append(Warning(
            "REDIS_URL is not set: the broker is a local directory and the cache (rate limits, the public "
            "form's page, the spool) lives in each process's memory, so web servers and workers on other "
            "machines, or several gunicorn workers, do not share them.",
            hint="Set REDIS_URL, for example redis://redis.internal:6379/0.", id="relocate.W003",
        ))
    return problems


@register(Tags.security)
def webhook_loopback_setting(app_configs=None, **kwargs) -> list[Warning]:
    # Every start, not only --deploy: someone who set it expects it to work, and it does not.
    if settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK and not settings.DEBUG:
        return [Warning(
            "RELOCATE_WEBHOOK_ALLOW_LOOPBACK is set while DEBUG is off: it is ignored, and webhooks are sent to "
            "public https:// addresses only.",
            hint="Unset RELOCATE_WEBHOOK_ALLOW_LOOPBACK; it is for development with DEBUG on.", id="relocate.W004",
        )]
    return []
