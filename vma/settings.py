"""One settings module, driven by environment variables only.

With nothing set it is the embedded default (SQLite, a Celery broker on the file system, no
server to install). With DATABASE_URL and REDIS_URL it is the full stack. Malformed values are
refused at start-up rather than half-applied.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VMA_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


DEBUG = env_bool("DEBUG", default=False)
# pytest (>= 8.2) sets PYTEST_VERSION for the run: tests need no extra switch.
TESTING = env_bool("VMA_TESTING", default="PYTEST_VERSION" in os.environ)
_DEV_SECRET = "insecure-dev-only-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if (DEBUG or TESTING) else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set unless DEBUG=true (the embedded demo).")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if (DEBUG or TESTING) else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "auditlog",
    "axes",
    "django_celery_beat",
    "django_htmx",
    "vma",
    "patients",
    "scheduling",
    "eligibility",
    "billing",
    "intake",
    "huddle",
    "encounters",
    "orders",
    "refills",
    "referrals",
    "telehealth",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "vma.middleware.NoStoreMiddleware",
    # Axes last, as its docs require.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vma.urls"
WSGI_APPLICATION = "vma.wsgi.application"
ASGI_APPLICATION = "vma.asgi.application"

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
                "vma.context_processors.portal",
            ],
        },
    },
]

# Database: DATABASE_URL, or SQLite in var/ for the embedded default.
# Tests always run on PostgreSQL (the local server unless DATABASE_URL says otherwise).
DATABASE_URL = env_str(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vma" if TESTING else f"sqlite:///{VAR_DIR / 'vma.sqlite3'}"
)
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The web server and the worker share the file: wait for locks instead of failing, and
    # take the write lock at BEGIN so two writers never deadlock on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str("TEST_DATABASE_NAME", "test_vma")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "vma.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "vma.backends.RoleBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: speed, never stored for real
    if TESTING
    else [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ]
)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "queue"
LOGOUT_REDIRECT_URL = "login"

# Idle log-off after 15 minutes: the session lives 15 minutes past the last request.
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 15 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# django-axes: lock an account (not an IP) after repeated failures; atomic DB counter.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Lock per account, not per address: a practice's staff share one NAT address, and an IP lock
# would let one mistyped password lock out the whole front desk.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous sees nothing

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not (DEBUG or TESTING)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # chart documents are served only through access-checked views
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DOCUMENT_MAX_BYTES = env_int("DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)

# Security headers; production (DEBUG off) passes `check --deploy` with no warnings.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not (DEBUG or TESTING):
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "VMA Portal <no-reply@vma-portal.invalid>")

# --- Celery -------------------------------------------------------------------------------
# Redis is a doorbell; PostgreSQL holds every pending piece of work (see vma/outbox.py).
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/9" if TESTING else "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": 3600,
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
    }
else:
    _broker = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        "control_folder": str(_broker / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A publish during a broker outage must fail fast: the outbox row is the record, the sweeper
# re-sends it, so blocking a web request on retries buys nothing.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_ALWAYS_EAGER = False

HEALTH_STALE_SECONDS = env_int("HEALTH_STALE_SECONDS", 180)
# How long a claimed outbox message is held before a sweeper may re-send it; longer than any
# handler runs, short enough that a message whose worker was killed is not stuck for long.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 300)

# Eligibility (X12 270/271): the clearinghouse ("simulated" for the demo and tests, "http" for a
# real one) and the practice's billing identity used when a visit's provider has no NPI.
ELIGIBILITY_CLEARINGHOUSE = env_str("ELIGIBILITY_CLEARINGHOUSE", "simulated")
ELIGIBILITY_CLEARINGHOUSE_URL = env_str("ELIGIBILITY_CLEARINGHOUSE_URL", "")
ELIGIBILITY_CLEARINGHOUSE_API_KEY = env_str("ELIGIBILITY_CLEARINGHOUSE_API_KEY", "")
ELIGIBILITY_TIMEOUT_SECONDS = env_int("ELIGIBILITY_TIMEOUT_SECONDS", 10)
PRACTICE_NPI = env_str("PRACTICE_NPI", "")
PRACTICE_NAME = env_str("PRACTICE_NAME", "VMA Portal Demo Practice")

# Billing (837P claims): the practice's tax id and address for the billing provider loop, the claim
# clearinghouse ("simulated" for the demo and tests, "http" for a real one), follow-up timings.
PRACTICE_TAX_ID = env_str("PRACTICE_TAX_ID", "")
PRACTICE_ADDRESS_LINE = env_str("PRACTICE_ADDRESS_LINE", "100 Main Street")
PRACTICE_CITY = env_str("PRACTICE_CITY", "Springfield")
PRACTICE_STATE = env_str("PRACTICE_STATE", "IL")
PRACTICE_POSTAL_CODE = env_str("PRACTICE_POSTAL_CODE", "627010001")
BILLING_CLEARINGHOUSE = env_str("BILLING_CLEARINGHOUSE", "simulated")
BILLING_CLEARINGHOUSE_URL = env_str("BILLING_CLEARINGHOUSE_URL", "")
BILLING_CLEARINGHOUSE_API_KEY = env_str("BILLING_CLEARINGHOUSE_API_KEY", "")
BILLING_FILING_WARNING_DAYS = env_int("BILLING_FILING_WARNING_DAYS", 14)

# Chart scrub and huddle sheet: scrubs are built hourly between these hours; the day's huddle
# snapshot is taken once, at or after HUDDLE_SNAPSHOT_AT (before clinic opens).
HUDDLE_SCRUB_HOURS = (env_int("HUDDLE_SCRUB_FROM_HOUR", 6), env_int("HUDDLE_SCRUB_TO_HOUR", 20))
HUDDLE_SNAPSHOT_AT = env_str("HUDDLE_SNAPSHOT_AT", "06:30")

# Intake links: the public address patients open; a link dies at the visit, and never lives longer
# than the ceiling; wrong identity answers allowed per packet before it locks.
INTAKE_BASE_URL = env_str("INTAKE_BASE_URL", "http://localhost:8000")
INTAKE_LINK_MAX_AGE_HOURS = env_int("INTAKE_LINK_MAX_AGE_HOURS", 14 * 24)
INTAKE_IDENTITY_ATTEMPTS = env_int("INTAKE_IDENTITY_ATTEMPTS", 5)

# Orders: the pharmacy adapter (orders/pharmacy.py); the console backend logs and accepts.
PHARMACY_BACKEND = env_str("PHARMACY_BACKEND", "orders.pharmacy.ConsoleBackend")

# After visit summaries (encounters/): how long a secure link lives, wrong identity answers allowed
# before it locks, and whether a summary not opened within AVS_NOT_VIEWED_HOURS opens a call item.
AVS_LINK_MAX_AGE_DAYS = env_int("AVS_LINK_MAX_AGE_DAYS", 30)
AVS_IDENTITY_ATTEMPTS = env_int("AVS_IDENTITY_ATTEMPTS", 5)
AVS_NOT_VIEWED_FOLLOW_UP = env_bool("AVS_NOT_VIEWED_FOLLOW_UP", default=True)
AVS_NOT_VIEWED_HOURS = env_int("AVS_NOT_VIEWED_HOURS", 48)

# --- Scheduling ---------------------------------------------------------------------------
# Hours before a visit that a reminder goes out ("72,24"); each offset is sent once per visit.
try:
    REMINDER_OFFSETS_HOURS = sorted({int(h) for h in env_list("REMINDER_OFFSETS_HOURS", ["72", "24"])}, reverse=True)
except ValueError as exc:
    raise ImproperlyConfigured(f"REMINDER_OFFSETS_HOURS must be whole hours, e.g. 72,24: {exc}") from exc
REMINDER_MAX_ATTEMPTS = env_int("REMINDER_MAX_ATTEMPTS", 4)
# Cancelling with less notice than this is a late cancel (the practice's policy).
LATE_CANCEL_HOURS = env_int("LATE_CANCEL_HOURS", 24)
# Each telehealth visit gets <TELEHEALTH_BASE_URL>/<random room id> as its join link.
TELEHEALTH_BASE_URL = env_str("TELEHEALTH_BASE_URL", "https://video.vma-portal.invalid/room")
# Where the signed confirm/cancel links in reminders point (the portal's public address).
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000")
# Dotted paths of the SMS and voice adapters (scheduling/notify.py); the console ones log only.
SMS_BACKEND = env_str("SMS_BACKEND", "scheduling.notify.ConsoleSms")
VOICE_BACKEND = env_str("VOICE_BACKEND", "scheduling.notify.ConsoleVoice")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "vma.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["vma.api.permissions.ScopedRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "vma.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "30/minute"),
        "user": env_str("API_THROTTLE_USER", "2000/minute"),
    },
    "EXCEPTION_HANDLER": "vma.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VMA Portal API",
    "DESCRIPTION": "Operations backend of a medical practice. Partner systems use scoped API tokens.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "QueueEnum": "vma.roles.QUEUE_VALUES",
        "ScrubItemStateEnum": "huddle.models.ScrubItem.State",
        "AvsChannelEnum": "encounters.models.AvsDelivery.Channel",
        "OrderKindEnum": "orders.models.Order.Kind",
        "ReferralStatusEnum": "referrals.models.Referral.Status",
        "ReferralStaffChannelEnum": "referrals.api.CHANNELS",
        "RefillUrgencyEnum": "refills.models.RefillRequest.Urgency",
        "PriorAuthUrgencyEnum": "eligibility.models.PriorAuthorization.Urgency",
        "OrderUrgencyEnum": "orders.models.Order.Urgency",
        "OrderStatusEnum": "orders.models.Order.Status",
        "OrderPharmacyStatusEnum": "orders.models.Order.PharmacyStatus",
    },
}

# Cache: Redis when configured (shared by every process), local memory otherwise.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
