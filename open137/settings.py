"""open137 settings, all read from the environment.

Without any environment the project runs as the demo: DEBUG on, the local PostGIS cluster that
`make demo` / `make test` start (127.0.0.1:54137), e-mail to the console and SMS to a log.
`OPEN137_PRODUCTION=1` switches to safe production defaults and passes `manage.py check --deploy`; it
refuses to start (ImproperlyConfigured) until the settings it cannot guess are given: the secret
key, the allowed hosts, the number of reverse proxies, real e-mail and SMS gateways and the public
URL (docs/operations.md lists them).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from open137 import deployment

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else default


PRODUCTION = env_bool("OPEN137_PRODUCTION", False)
DEBUG = env_bool("OPEN137_DEBUG", not PRODUCTION)

SECRET_KEY = os.environ.get("OPEN137_SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("OPEN137_SECRET_KEY must be set when OPEN137_PRODUCTION=1.")
    SECRET_KEY = "demo-only-insecure-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list(
    "OPEN137_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    # Without it every request would get a 400: say so at start-up instead.
    raise ImproperlyConfigured(
        "OPEN137_ALLOWED_HOSTS must be set when OPEN137_PRODUCTION=1 (e.g. 137.example.ir)."
    )
CSRF_TRUSTED_ORIGINS = env_list("OPEN137_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    # Staff's API tokens (POST /api/auth/token/), for the mobile app and a city's back-ends.
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    # The task queue (messages to citizens) lives in PostgreSQL: no broker; its tables come with `migrate`.
    "procrastinate.contrib.django",
    "geo",
    "districts",
    "issues",
    "maps",
    "console",
    "council",
    "alerts",
    "participation",
]

MIDDLEWARE = [
    # Content-Security-Policy (no inline script) and Permissions-Policy on every answer.
    "open137.middleware.SecurityHeadersMiddleware",
    # A 503 with Retry-After (not a 500) for whatever the database could not serve, pages included,
    # and a stable `code` in every error answer of /api/.
    "open137.middleware.ErrorAnswersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Vector tiles: public, the same in every language, a millisecond's query; answered here, before
    # the session, language, CSRF and user middleware that a tile does not use.
    "issues.oversight.middleware.TileMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "open137.middleware.PersianFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "open137.urls"
WSGI_APPLICATION = "open137.wsgi.application"
ASGI_APPLICATION = "open137.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "maps.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# DATABASE_URL (postgis:// or postgres://) points at an existing PostGIS; otherwise the project-local
# cluster that scripts/setup.sh starts.
OPEN137_PGPORT = os.environ.get("OPEN137_PGPORT", "54137")
_db_url = os.environ.get("DATABASE_URL") or f"postgis://postgres@127.0.0.1:{OPEN137_PGPORT}/open137"
DATABASES = {"default": dj_database_url.parse(_db_url, conn_max_age=60, conn_health_checks=True)}
# postgres:// URLs are accepted too: the spatial backend is always PostGIS.
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# The routing queries (run for every report and locate call) are sent as prepared statements, so
# PostgreSQL plans them once per connection; Django's own queries still bind client-side and are not
# affected. Behind a pooler without prepared-statement support (PgBouncer before 1.21 in transaction
# mode) set OPEN137_DB_PREPARE=0.
if env_bool("OPEN137_DB_PREPARE", True):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# PostgreSQL's JIT compiler off for the app's connections: its queries are short, and on the map's
# key-range queries the planner's huge estimates made it compile for 100 ms a plan that runs in a few
# (issues/oversight/sql.py, which turns it off per statement where this option cannot reach the
# server, e.g. through a pooler that drops startup options).
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
# Separate test databases let several test runs share one cluster (parallel developers, xdist adds
# its own _gwN suffix on top).
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("OPEN137_TEST_DB_NAME", "test_open137")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ---------------------------------------------------------------------------
LANGUAGE_CODE = "fa"
LANGUAGES = [("fa", "فارسی"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tehran"
USE_I18N = True
USE_TZ = True

# --- Static files: everything (Leaflet, plugins, fonts) is served by the app, never a CDN ---------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [("npm", BASE_DIR / "node_modules")] if (BASE_DIR / "node_modules").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("OPEN137_MEDIA_ROOT", BASE_DIR / "var" / "media"))

# --- Maps ----------------------------------------------------------------------------------------
# Base tiles come from a configurable URL; with it empty the maps still work, on a plain background.
OPEN137_TILE_URL = os.environ.get("OPEN137_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
OPEN137_TILE_ATTRIBUTION = os.environ.get("OPEN137_TILE_ATTRIBUTION", "© OpenStreetMap contributors")
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (36.269, 50.004),
    "DEFAULT_ZOOM": 12,
    "TILES": [("OSM", OPEN137_TILE_URL, {"attribution": OPEN137_TILE_ATTRIBUTION})]
    if OPEN137_TILE_URL
    else [],
    "RESET_VIEW": False,
}

# --- Routing -------------------------------------------------------------------------------------
# A point outside every district but within this many metres of one is given to the nearest
# district (and flagged); beyond it the report goes to the 137 triage queue.
OPEN137_ROUTING_TOLERANCE_M = float(os.environ.get("OPEN137_ROUTING_TOLERANCE_M", "200"))
# ST_Subdivide's vertex limit for the district pieces that lookups run on.
OPEN137_SUBDIVIDE_MAX_VERTICES = int(os.environ.get("OPEN137_SUBDIVIDE_MAX_VERTICES", "128"))
# The city this installation serves (a city key keeps a sharded, many-city path open).
OPEN137_CITY = os.environ.get("OPEN137_CITY", "qazvin")

# --- Messages to citizens ----------------------------------------------------------------------------
# The demo prints e-mail to the console, logs SMS (private links hidden) and links to 127.0.0.1. In
# production nothing is assumed: e-mail goes by SMTP to OPEN137_EMAIL_HOST, and the SMS gateway, the
# sender address and the public URL must be given (checked at the end, before anything starts).
EMAIL_BACKEND = os.environ.get(
    "OPEN137_EMAIL_BACKEND",
    deployment.SMTP_EMAIL_BACKEND if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("OPEN137_EMAIL_HOST", "" if PRODUCTION else "localhost")
EMAIL_PORT = int(os.environ.get("OPEN137_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("OPEN137_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("OPEN137_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("OPEN137_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("OPEN137_EMAIL_FROM", "" if PRODUCTION else "137@localhost")
# "log" (demo: the logger open137.sms and OPEN137_SMS_LOG_FILE, private links hidden), "http" (POST
# to OPEN137_SMS_URL with OPEN137_SMS_API_KEY) or the dotted path of a class with `send(*, to, text)`
# for a specific gateway.
OPEN137_SMS_BACKEND = os.environ.get("OPEN137_SMS_BACKEND", "" if PRODUCTION else "log")
OPEN137_SMS_URL = os.environ.get("OPEN137_SMS_URL", "")
OPEN137_SMS_API_KEY = os.environ.get("OPEN137_SMS_API_KEY", "")
OPEN137_SMS_LOG_FILE = Path(os.environ.get("OPEN137_SMS_LOG_FILE", BASE_DIR / "var" / "sms.log"))
# Links in messages (tracking page, the citizen's private link) start with this address.
OPEN137_PUBLIC_URL = os.environ.get(
    "OPEN137_PUBLIC_URL", "" if PRODUCTION else "http://127.0.0.1:8000"
).rstrip("/")
# A message is tried this many times, waiting BACKOFF**1, **2, ... seconds between tries (8 s, 64 s,
# about 9 min, about 68 min), then marked failed; `manage.py outbox_send` sends what is still pending.
OPEN137_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OPEN137_OUTBOX_MAX_ATTEMPTS", "5"))
OPEN137_OUTBOX_BACKOFF_SECONDS = int(os.environ.get("OPEN137_OUTBOX_BACKOFF_SECONDS", "8"))
# The worker (`manage.py procrastinate worker`) deletes the job rows that succeeded: the outbox row is
# the record of what was sent.
PROCRASTINATE_WORKER_DEFAULTS = {"delete_jobs": "successful"}

# --- Photos --------------------------------------------------------------------------------------
# Citizens' photos are decoded, turned upright, shrunk and re-encoded as metadata-free JPEG. Larger
# files, or images whose declared size exceeds the pixel limit (decompression bombs), are refused.
OPEN137_PHOTO_MAX_BYTES = int(os.environ.get("OPEN137_PHOTO_MAX_BYTES", str(10 * 1024 * 1024)))
OPEN137_PHOTO_MAX_PIXELS = int(os.environ.get("OPEN137_PHOTO_MAX_PIXELS", str(40_000_000)))
OPEN137_PHOTO_MAX_SIDE = int(os.environ.get("OPEN137_PHOTO_MAX_SIDE", "2048"))
# Request bodies. Form fields and JSON bodies are read into memory: together at most
# DATA_UPLOAD_MAX_MEMORY_SIZE, or the request is refused (a JSON or Open311 413 from the APIs). Files
# do not count toward it: each photo is held to OPEN137_PHOTO_MAX_BYTES, and a file over
# FILE_UPLOAD_MAX_MEMORY_SIZE is spooled to a temporary file instead of memory. A report's fields
# need a few KB; 2.5 MB leaves room for the admin's boundary editor, which posts a district's whole
# outline as one GeoJSON field. The total body is capped by the reverse proxy (docs/operations.md).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("OPEN137_DATA_UPLOAD_MAX_BYTES", str(2_621_440)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- API -----------------------------------------------------------------------------------------
NUM_PROXIES = deployment.num_proxies(os.environ.get("OPEN137_NUM_PROXIES"))
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    "EXCEPTION_HANDLER": "open137.api.exception_handler",
    # JSON and multipart (photos) only: a form-encoded body is what a page on any other site can make
    # a visitor's browser send (open137.api.SameSiteWrite). SafeJSONParser turns every bad JSON body
    # (too deeply nested, lone surrogates, NULs) into a 400.
    "DEFAULT_PARSER_CLASSES": [
        "open137.parsers.SafeJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Rate limits and "me too" count per client IP. Behind N reverse proxies (a load balancer, nginx)
    # the client is the N-th address from the right of X-Forwarded-For (each proxy appends the
    # address it was reached from; what a client sends itself stays to the left, ignored); with 0 the
    # header is ignored and REMOTE_ADDR is the client. Required in production: a wrong default either
    # makes the whole city one client (the proxy) or lets each client choose its address.
    "NUM_PROXIES": NUM_PROXIES,
}
# Write limits per client IP ("N/second|minute|hour|day"; empty turns a limit off). Reads are not
# limited: the public map and the Open311 feeds are meant to be read freely (and cached by a proxy).
OPEN137_RATE_REPORTS = os.environ.get("OPEN137_RATE_REPORTS", "30/hour")
OPEN137_RATE_SUPPORT = os.environ.get("OPEN137_RATE_SUPPORT", "120/hour")
# The reporter's own additions through the private link (text and photos, "was it fixed?").
OPEN137_RATE_UPDATES = os.environ.get("OPEN137_RATE_UPDATES", "60/hour")
# Open311 POSTs count per API key (one key serves a whole app's users).
OPEN137_RATE_OPEN311 = os.environ.get("OPEN137_RATE_OPEN311", "600/hour")
# Alert subscriptions (each may send a confirmation message to someone) and the one-tap "this salt
# bin is empty".
OPEN137_RATE_ALERTS = os.environ.get("OPEN137_RATE_ALERTS", "10/hour")
OPEN137_RATE_POINT_EMPTY = os.environ.get("OPEN137_RATE_POINT_EMPTY", "30/hour")
# How long an alert message's stop link works, in days (alerts/pruning.py: the daily prune deletes
# older links, but never an active subscription's newest one), and how long the record of which
# report was told to which subscription is kept.
OPEN137_ALERT_LINK_DAYS = int(os.environ.get("OPEN137_ALERT_LINK_DAYS", "365"))
if OPEN137_ALERT_LINK_DAYS < 30:
    raise ImproperlyConfigured("OPEN137_ALERT_LINK_DAYS must be a number of days, at least 30 (default 365).")
# A stopped subscription, with its contact, is forgotten this many days after the stop (0: at the
# next prune); the prune deletes this many rows per transaction (alerts/forgetting.py).
OPEN137_ALERT_STOPPED_DAYS = os.environ.get("OPEN137_ALERT_STOPPED_DAYS", "30")
OPEN137_ALERT_PRUNE_BATCH = os.environ.get("OPEN137_ALERT_PRUNE_BATCH", "1000")
# Django's cache lives in PostgreSQL, shared by every app process and server: no process-local state
# (the write limits keep their own counters, issues.models.RateCounter). The table is created by `migrate` (issues/migrations/0003_cache_table.py).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "open137_cache",
        "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("OPEN137_CACHE_MAX_ENTRIES", "100000"))},
    }
}
SPECTACULAR_SETTINGS = {
    "TITLE": "open137 API",
    "DESCRIPTION": "Municipal 137 reports: routing, reports, districts. Open311 GeoReport v2 lives at /open311/v2/.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page (/api/docs/) is served from the drf-spectacular-sidecar package: no CDN. Swagger
    # UI's online validator badge would call an outside server, so it is switched off.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several documents have a `kind` and a `status` of different meanings (a report's, a
    # participation point's, a pledge's): each set of choices gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ReportStatusEnum": "issues.models.ReportStatus",
        "MessageKindEnum": "issues.models.MessageKind",
        "PointKindEnum": "participation.models.PointKind",
        # As the participation API offers them (the states a citizen can see).
        "PointStatusEnum": ["stocked", "empty"],
        "PledgeStatusEnum": ["active", "done", "confirmed", "withdrawn"],
    },
}

# --- Security (production) -------------------------------------------------------------------------
if PRODUCTION:
    # What production cannot guess: refuse to start, naming every missing setting at once, rather
    # than serve with messages that never leave and links to nowhere (open137/deployment.py).
    deployment.refuse_unless_fine(
        [
            *deployment.message_problems(
                email_backend=EMAIL_BACKEND,
                email_host=EMAIL_HOST,
                from_email=DEFAULT_FROM_EMAIL,
                sms_backend=OPEN137_SMS_BACKEND,
                sms_url=OPEN137_SMS_URL,
                sms_api_key=OPEN137_SMS_API_KEY,
                public_url=OPEN137_PUBLIC_URL,
                allowed_hosts=ALLOWED_HOSTS,
            ),
            *deployment.num_proxies_problems(os.environ.get("OPEN137_NUM_PROXIES")),
        ]
    )
    # X-Forwarded-Proto says whether the client used https; it is only trusted from a proxy. With no
    # proxy (OPEN137_NUM_PROXIES=0) a client could send it itself, and the app server terminates TLS
    # itself, which Django sees without it. (With 0 by mistake behind a TLS proxy, every request
    # looks like plain http and is redirected in a loop: a loud failure, not a quiet one.)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if NUM_PROXIES else None
    SECURE_SSL_REDIRECT = env_bool("OPEN137_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("OPEN137_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("OPEN137_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Debian 12's GDAL 3.6 cannot block file and network access from spatial references; the only GDAL
# input is boundary files that administrators import, on a machine with no outside network.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("OPEN137_LOG_LEVEL", "WARNING")},
}

# --- SLA clock: working time on the Iranian calendar ---------------------------------------------------
# A category's deadlines (acknowledge within N, resolve within M working hours) count only working time,
# in TIME_ZONE: Saturday to Wednesday within OPEN137_WORKDAY; Thursday as OPEN137_THURSDAY says ("half":
# until OPEN137_THURSDAY_END, "full", or "off"); never Friday nor a public holiday (the Holiday table,
# which the admin edits). The defaults and why they are so: issues/workflow/sla.py, WorkingCalendar.
# Parsed here into clock times, so a bad value stops the start-up with a message instead of quietly
# miscounting every deadline.
from datetime import time as _clock_time  # noqa: E402 (kept with the block that uses it)


def _env_clock(name: str, text: str) -> _clock_time:
    hour, sep, minute = text.strip().partition(":")
    digits = hour.isdigit() and len(hour) <= 2 and minute.isdigit() and len(minute) == 2
    if sep and digits and int(hour) <= 23 and int(minute) <= 59:
        return _clock_time(int(hour), int(minute))
    raise ImproperlyConfigured(f"{name} must be a clock time like 12:00 (24-hour), not {text!r}.")


def _env_workday(name: str, default: str) -> tuple[_clock_time, _clock_time]:
    text = os.environ.get(name) or default
    start, sep, end = text.partition("-")
    if not sep:
        raise ImproperlyConfigured(f"{name} must be a range of clock times like 07:30-14:30, not {text!r}.")
    first, last = _env_clock(name, start), _env_clock(name, end)
    if first >= last:
        raise ImproperlyConfigured(f"{name}: the working day must end after it starts ({text!r}).")
    return first, last


OPEN137_WORKDAY = _env_workday("OPEN137_WORKDAY", "07:30-14:30")
OPEN137_THURSDAY = (os.environ.get("OPEN137_THURSDAY") or "half").strip().lower()
if OPEN137_THURSDAY not in {"full", "half", "off"}:
    raise ImproperlyConfigured(
        f'OPEN137_THURSDAY must be "half", "off" or "full", not {os.environ.get("OPEN137_THURSDAY")!r}.'
    )
OPEN137_THURSDAY_END = _env_clock("OPEN137_THURSDAY_END", os.environ.get("OPEN137_THURSDAY_END") or "12:00")
if OPEN137_THURSDAY == "half" and not OPEN137_WORKDAY[0] < OPEN137_THURSDAY_END <= OPEN137_WORKDAY[1]:
    raise ImproperlyConfigured(
        f"OPEN137_THURSDAY_END ({OPEN137_THURSDAY_END:%H:%M}) must fall within the working day "
        f"OPEN137_WORKDAY ({OPEN137_WORKDAY[0]:%H:%M}-{OPEN137_WORKDAY[1]:%H:%M}) for a half-day Thursday."
    )

# --- Workflow (issues/workflow/) -------------------------------------------------------------------
# The share of reports a unit says are done that are drawn for a 137 check (a call-back or a field
# visit; duty 6), from 0 (none) to 1 (every one).
OPEN137_VERIFY_SAMPLE_SHARE = float(os.environ.get("OPEN137_VERIFY_SAMPLE_SHARE", "0.2"))
if not 0 <= OPEN137_VERIFY_SAMPLE_SHARE <= 1:
    raise ImproperlyConfigured("OPEN137_VERIFY_SAMPLE_SHARE must be a share from 0 to 1, e.g. 0.2.")
# Satisfaction averages (per unit, category, district) are shown only from this many answers up:
# fewer say more about one citizen than about the service, and could point at them.
OPEN137_SATISFACTION_MIN_ANSWERS = int(os.environ.get("OPEN137_SATISFACTION_MIN_ANSWERS", "5"))
# Staff pages live under one prefix; their login page is the console's own.
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:inbox"

# --- Sending the outbox (issues/outbox.py) ---------------------------------------------------------
# Every gateway call has a deadline: one stalled SMTP server or SMS gateway cannot hold a worker.
# EMAIL_TIMEOUT is Django's SMTP socket timeout; OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS cuts any gateway
# call (a custom SMS class too) that has not returned by then, and the message is retried.
OPEN137_EMAIL_TIMEOUT = float(os.environ.get("OPEN137_EMAIL_TIMEOUT", "20"))
EMAIL_TIMEOUT = OPEN137_EMAIL_TIMEOUT
OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS = float(os.environ.get("OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS", "30"))
# A sender marks a message `sending` for this long; if it dies mid-send, the periodic requeue sends
# the message again once the lease has run out. Longer than a send may take, or a slow send that is
# still running would be sent a second time.
OPEN137_OUTBOX_LEASE_SECONDS = int(os.environ.get("OPEN137_OUTBOX_LEASE_SECONDS", "120"))
if not 0 < OPEN137_EMAIL_TIMEOUT <= OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS < OPEN137_OUTBOX_LEASE_SECONDS:
    raise ImproperlyConfigured(
        "Outbox timeouts: need 0 < OPEN137_EMAIL_TIMEOUT <= OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS < "
        "OPEN137_OUTBOX_LEASE_SECONDS (seconds)."
    )
# A replay of a submission (same idempotency key, same content) gets the first answer, private token
# included, for this long; after it, the same report without the token.
OPEN137_IDEMPOTENCY_REPLAY_SECONDS = int(os.environ.get("OPEN137_IDEMPOTENCY_REPLAY_SECONDS", str(24 * 3600)))

# --- Oversight map data: vector tiles and heatmap (issues/oversight/) ------------------------------
# Below this zoom a tile holds counts per grid cell; from it, single reports (when not too many).
OPEN137_TILE_DETAIL_ZOOM = int(os.environ.get("OPEN137_TILE_DETAIL_ZOOM", "14"))
# A count tile is cut into 2^N x 2^N cells (5: 32 x 32, 8 px cells on a 256 px tile).
OPEN137_TILE_CELL_LEVELS = int(os.environ.get("OPEN137_TILE_CELL_LEVELS", "5"))
# At most this many single reports, and this many bytes, in one tile; past either, counts per cell.
OPEN137_TILE_MAX_FEATURES = int(os.environ.get("OPEN137_TILE_MAX_FEATURES", "4000"))
OPEN137_TILE_MAX_BYTES = int(os.environ.get("OPEN137_TILE_MAX_BYTES", "200000"))
# The margin a tile carries around it, in tile units (4096 a side).
OPEN137_TILE_BUFFER = int(os.environ.get("OPEN137_TILE_BUFFER", "64"))
# A heatmap at zoom z counts in cells of zoom z + N (4: 16 x 16 cells a tile), at most MAX_CELLS.
OPEN137_HEATMAP_CELL_LEVELS = int(os.environ.get("OPEN137_HEATMAP_CELL_LEVELS", "4"))
OPEN137_HEATMAP_MAX_CELLS = int(os.environ.get("OPEN137_HEATMAP_MAX_CELLS", "10000"))
# Hotspots (issues/oversight/hotspots.py): at least MIN_REPORTS reports of one category within
# RADIUS_M metres of each other in a window of DAYS days (at most MAX_DAYS), at most MAX_RESULTS places.
OPEN137_HOTSPOT_MIN_REPORTS = int(os.environ.get("OPEN137_HOTSPOT_MIN_REPORTS", "5"))
OPEN137_HOTSPOT_RADIUS_M = float(os.environ.get("OPEN137_HOTSPOT_RADIUS_M", "50"))
OPEN137_HOTSPOT_DAYS = int(os.environ.get("OPEN137_HOTSPOT_DAYS", "90"))
OPEN137_HOTSPOT_MAX_DAYS = int(os.environ.get("OPEN137_HOTSPOT_MAX_DAYS", "366"))
OPEN137_HOTSPOT_MAX_RESULTS = int(os.environ.get("OPEN137_HOTSPOT_MAX_RESULTS", "500"))
# Scorecards (issues/oversight/SCORECARDS.md): the period without `since`, and the size above which a
# period of whole days is read from the maintained aggregate instead of counted exactly.
OPEN137_SCORECARD_DEFAULT_DAYS = int(os.environ.get("OPEN137_SCORECARD_DEFAULT_DAYS", "365"))
OPEN137_SCORECARD_EXACT_MAX = int(os.environ.get("OPEN137_SCORECARD_EXACT_MAX", "20000"))
# Cache-Control max-age of tiles and heatmaps, in seconds: a proxy serves repeats meanwhile.
OPEN137_MAP_MAX_AGE = int(os.environ.get("OPEN137_MAP_MAX_AGE", "60"))
if not (0 <= OPEN137_TILE_CELL_LEVELS <= 6 and 0 <= OPEN137_HEATMAP_CELL_LEVELS <= 6):
    raise ImproperlyConfigured("OPEN137_TILE_CELL_LEVELS and OPEN137_HEATMAP_CELL_LEVELS: 0 to 6.")
