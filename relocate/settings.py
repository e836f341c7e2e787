"""Settings for Relocate, read from the environment.

The defaults run on a bare machine: SQLite and an embedded filesystem broker under
``var/``, emails to the console. Production sets DATABASE_URL, REDIS_URL, EMAIL_URL,
SECRET_KEY, ALLOWED_HOSTS and DEBUG=false.
"""

import datetime as dt
import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("RELOCATE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
VAR_DIR.mkdir(parents=True, exist_ok=True)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but a clear yes or no stops start-up."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false.")


def env_int(name: str, default: int) -> int:
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


DEBUG = env_bool("DEBUG", default=True)

if "SECRET_KEY" in env:
    SECRET_KEY = env.str("SECRET_KEY")
elif DEBUG:
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "dev-only-insecure-key-relocate-do-not-use-in-production-0123456789"
else:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. With DEBUG off, Relocate needs a SECRET_KEY environment "
        "variable (50+ random characters), for example from "
        "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_countries",
    "django_celery_beat",
    "django_htmx",
    "axes",
    # The API's interactive docs (Swagger UI) come from the package's own static files.
    "ninja",
    "leads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Under /api/: every refusal in the API's JSON error shape, and idempotent answers stored.
    "leads.api.middleware.ApiResponseMiddleware",
    # Before anything reads the form: refuses input no form could store (400).
    "leads.middleware.InputCheckMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language (docs/languages.md): the recruiter's choice kept in the session.
    "leads.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "leads.middleware.PrivacyHeadersMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "relocate.urls"
WSGI_APPLICATION = "relocate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database -----------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'relocate.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one file: wait for locks instead of
    # failing, take the write lock at BEGIN, and let readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # An unreachable database fails fast, so that the public form spools the submission
        # within seconds instead of hanging on the operating system's TCP timeout.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", default=3)
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and broker -------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # An unreachable Redis costs a request a second at most (the rate limit then fails
            # open and the form's snapshot comes from the database), never the OS's TCP timeout.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any countdown the project uses; due times live in rows, not ETAs.
        "visibility_timeout": 3600,
        # A publish with Redis down fails at once instead of retrying the connection for
        # seconds: the on-commit kick must never hold up the person who sent an inquiry.
        # Workers and beat reconnect on their own (broker_connection_retry).
        "max_retries": 0,
        "socket_connect_timeout": 2,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # kombu's filesystem transport: a real broker that needs no server, for one machine.
    CELERY_BROKER_URL = "filesystem://"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Email ----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# A mail server that stops answering fails the send after this long (Django waits for ever by
# default), well inside the sweep's time limit.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Relocate <relocate@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: it refuses a locked-out person before their password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "leads.passwords.FullNameValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation: everything is stored in UTC and shown in the viewer's time zone.
LANGUAGE_CODE = "en"
# The applicant's six (leads.models.Language); the recruiter UI offers English and French.
LANGUAGES = [("en", "English"), ("fr", "Français"), ("de", "Deutsch"), ("es", "Español"),
             ("pt-br", "Português (Brasil)"), ("ar", "العربية")]
RECRUITER_LANGUAGES = ("en", "fr")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static and uploaded files --------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploaded files (CVs, logos) live outside the web root and are served only through views
# that check the user's employer.
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Security: HTTPS everywhere in production; each setting can be turned off behind a proxy
# that terminates TLS itself.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
# one client address (behind a trusted proxy: the forwarded one), that pair is locked out for
# RELOCATE_LOGIN_LOCKOUT_MINUTES; an admin can unlock it sooner in Django admin (Axes).
AXES_FAILURE_LIMIT = env_int("RELOCATE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("RELOCATE_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "leads.ratelimit.client_ip_or_none"
AXES_USERNAME_CALLABLE = "leads.passwords.login_attempt_username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Content Security Policy (django-csp): nothing inline, nothing from elsewhere. Violations are
# reported to /csp-report/ and logged.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Bootstrap draws its form arrows and checks as data: SVG images.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
        "report-uri": "/csp-report/",
    },
}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()"
)

# Product defaults -----------------------------------------------------------------------

# Emails: absolute links (unsubscribe, the lead's page) and the domain of Message-IDs.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Follow-up delivery: SMTP retries back off exponentially up to this many attempts.
RELOCATE_EMAIL_MAX_ATTEMPTS = env_int("RELOCATE_EMAIL_MAX_ATTEMPTS", default=6)
RELOCATE_EMAIL_BATCH_SIZE = env_int("RELOCATE_EMAIL_BATCH_SIZE", default=200)
# A row left in `sending` this long (a worker died mid-send) goes back to the queue.
RELOCATE_EMAIL_STUCK_AFTER_SECONDS = env_int("RELOCATE_EMAIL_STUCK_AFTER_SECONDS", default=600)

# Replies: every email to a lead carries Reply-To: <local>+<token>@<domain> of this address (the
# token is signed per lead, leads/tokens.py), and `manage.py receive_email` with no employer slug
# routes what arrives there to that lead (docs/delivery.md). Empty: no Reply-To, feature off.
# Team invitations (/team/): how long a link works, and how many an employer may send an hour.
RELOCATE_TEAM_INVITE_DAYS = env.int("RELOCATE_TEAM_INVITE_DAYS", default=7)
RELOCATE_TEAM_INVITES_PER_HOUR = env.int("RELOCATE_TEAM_INVITES_PER_HOUR", default=50)
RELOCATE_REPLY_ADDRESS = env.str("RELOCATE_REPLY_ADDRESS", default="").strip().lower()
if RELOCATE_REPLY_ADDRESS:
    _local, _at, _domain = RELOCATE_REPLY_ADDRESS.rpartition("@")
    # The token adds "+", up to 19 digits of lead id, "-" and 24 characters: 45 at most, and a
    # local part holds 64 (RFC 5321).
    if not (_at and _local and "." in _domain and "+" not in _local and len(_local) <= 19
            and all(ch.isalnum() or ch in ".-_" for ch in _local + _domain)):
        raise ImproperlyConfigured(
            f"RELOCATE_REPLY_ADDRESS={RELOCATE_REPLY_ADDRESS!r} must be an address like replies@relocate.example, "
            "without '+', with a local part of at most 19 characters."
        )

# Recruiter UI ----------------------------------------------------------------------------
# The public inquiry form: a submission faster than this many seconds after the form was
# served is a bot's; more than RATE submissions from one address per WINDOW seconds get 429.
RELOCATE_PUBLIC_FORM_MIN_SECONDS = env_int("RELOCATE_PUBLIC_FORM_MIN_SECONDS", default=3)
RELOCATE_PUBLIC_FORM_RATE = env_int("RELOCATE_PUBLIC_FORM_RATE", default=5)
RELOCATE_PUBLIC_FORM_RATE_WINDOW = env_int("RELOCATE_PUBLIC_FORM_RATE_WINDOW", default=600)
# Requests larger than this (a CV is at most 5 MB) are refused before they are read.
RELOCATE_PUBLIC_FORM_MAX_BYTES = env_int("RELOCATE_PUBLIC_FORM_MAX_BYTES", default=6 * 1024 * 1024)

# Links in emails to a lead: the my-data link (see and erase one's data) and the still-interested
# link stop working after this many days; pages opened by such links are rate-limited per
# client address (RATE per 10 minutes).
RELOCATE_MY_DATA_LINK_DAYS = env_int("RELOCATE_MY_DATA_LINK_DAYS", default=30)
RELOCATE_STILL_INTERESTED_LINK_DAYS = env_int("RELOCATE_STILL_INTERESTED_LINK_DAYS", default=60)
RELOCATE_TOKEN_PAGE_RATE = env_int("RELOCATE_TOKEN_PAGE_RATE", default=30)

# Inquiry API: calls per key per minute; failed key checks per client address per minute.
RELOCATE_API_RATE = env_int("RELOCATE_API_RATE", default=600)
RELOCATE_API_AUTH_FAILURE_RATE = env_int("RELOCATE_API_AUTH_FAILURE_RATE", default=30)
# Seconds the event feed (GET /api/v1/stage-events) stays behind the present, so that an event
# whose transaction is still committing is never skipped by a cursor already past its id.
RELOCATE_API_EVENTS_SETTLE_SECONDS = env_int("RELOCATE_API_EVENTS_SETTLE_SECONDS", default=5)
# Webhooks (docs/webhooks.md): seconds per attempt, and how long a delivery is retried.
RELOCATE_WEBHOOK_TIMEOUT = env_int("RELOCATE_WEBHOOK_TIMEOUT", default=10)
RELOCATE_WEBHOOK_RETRY_HOURS = env_int("RELOCATE_WEBHOOK_RETRY_HOURS", default=24)
# Development and tests only: lets webhooks reach http:// receivers on loopback. Ignored unless
# DEBUG is on; production never sends to loopback, link-local or private addresses.
RELOCATE_WEBHOOK_ALLOW_LOOPBACK = env_bool("RELOCATE_WEBHOOK_ALLOW_LOOPBACK", default=False)

# Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR ranges, comma-separated):
# the client is then the right-most forwarded address that is not one of them.
RELOCATE_TRUSTED_PROXIES = env.str("RELOCATE_TRUSTED_PROXIES", default="")
for _proxy in filter(None, (p.strip() for p in RELOCATE_TRUSTED_PROXIES.split(","))):
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"RELOCATE_TRUSTED_PROXIES: {_proxy!r} is not an IP address or a CIDR range."
        ) from None

# Intake: where an accepted submission waits when the database refuses it. Redis (the one of
# REDIS_URL unless set) when it answers, else this directory on the web server's own disk.
RELOCATE_SPOOL_REDIS_URL = env.str("RELOCATE_SPOOL_REDIS_URL", default=REDIS_URL)
RELOCATE_SPOOL_REDIS_KEY = env.str("RELOCATE_SPOOL_REDIS_KEY", default="relocate:intake-spool")
RELOCATE_SPOOL_DIR = env.str("RELOCATE_SPOOL_DIR", default=str(VAR_DIR / "spool"))
