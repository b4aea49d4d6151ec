"""etfsync settings: one module, every value from the environment (12-factor).

Every variable read here is listed with its default in the README's configuration table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from etfproject.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core -------------------------------------------------------------------------------
# Off unless set: a deployment that forgets it must not show tracebacks and settings to the
# world. `make demo` and the tests set DEBUG=1.
DEBUG = env_bool("DEBUG", default=False)
# The development default is public (it is in our source): the WSGI/ASGI entry points refuse
# to serve with it when DEBUG is off (etfproject.safety); commands such as sync_etfs sign
# nothing and run without it.
DEVELOPMENT_SECRET_KEY = "django-insecure-etfsync-development-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", "") or DEVELOPMENT_SECRET_KEY
# No secret in any error page, DEBUG or not: values containing a password are masked too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "etfproject.safety.SecretFilter"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "etfs",
    "prices",
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
]

ROOT_URLCONF = "etfproject.urls"
WSGI_APPLICATION = "etfproject.wsgi.application"

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

# --- Database ---------------------------------------------------------------------------
# DATABASE_URL unset -> the embedded SQLite file; postgres://… -> Django's PostgreSQL
# backend; timescale://… -> django-timescaledb's backend (hypertables, time_bucket).
#
# Pooling: the original plan asked for "a pool of 10 with 20 overflow". Django keeps one
# persistent connection per worker thread (CONN_MAX_AGE) and checks it before reuse
# (CONN_HEALTH_CHECKS), so the pool size is the number of gunicorn workers × threads (10 by
# default in our docs) and overflow is whatever PgBouncer or the server's max_connections
# allows beyond that; the sync uses exactly one writer connection.
SQLITE_PATH = Path(env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")))
# Parsed, not kept: a settings name holding the raw URL would carry the password around.
if env_str("DATABASE_URL", ""):
    _db = dj_database_url.parse(
        env_str("DATABASE_URL", ""),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
    if _db["ENGINE"] not in {
        "django.db.backends.postgresql",
        "timescale.db.backends.postgresql",
        "django.db.backends.sqlite3",
    }:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme gives engine {_db['ENGINE']!r}; use sqlite://, postgres:// or timescale://"
        )
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(SQLITE_PATH),
        # SQLite has one writer: wait for it instead of failing with "database is locked".
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_TIMESCALE = DATABASES["default"]["ENGINE"] == "timescale.db.backends.postgresql"
# On TimescaleDB, serve weekly/monthly bars from the continuous aggregates where they are
# current (prices/queries.py); 0 aggregates the daily bars on every request, as elsewhere.
BARS_FROM_AGGREGATES = env_bool("BARS_FROM_AGGREGATES", default=True)

# --- I18N / time --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# WhiteNoise serves collected static files (admin, Swagger UI from drf-spectacular-sidecar) from
# the WSGI server itself, compressed and cache-busted, so production needs no CDN or extra server.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production: DEBUG=0) ----------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "etfs": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "prices": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

# --- Market-data providers ----------------------------------------------------------------------
# Every host URL is overridable so the same code runs against the real hosts and our simulator.
MARKETDATA: dict[str, Any] = {
    "EASTMONEY_LIST_URL": env_str("EASTMONEY_LIST_URL", "https://push2.eastmoney.com/api/qt/clist/get"),
    "EASTMONEY_KLINE_URL": env_str("EASTMONEY_KLINE_URL", "https://push2his.eastmoney.com/api/qt/stock/kline/get"),
    "TENCENT_KLINE_URL": env_str("TENCENT_KLINE_URL", "https://web.ifzq.gtimg.cn/appstock/app/fqkline/get"),
    # East Money's bulk tables of announced terms: funds' splits/conversions (dt=9) and stocks'
    # implemented dividends and bonus issues (datacenter RPT_SHAREBONUS_DET).
    "EASTMONEY_FUND_SPLITS_URL": env_str(
        "EASTMONEY_FUND_SPLITS_URL", "https://fund.eastmoney.com/Data/funddataIndex_Interface.aspx"
    ),
    "EASTMONEY_STOCK_BONUS_URL": env_str(
        "EASTMONEY_STOCK_BONUS_URL", "https://datacenter-web.eastmoney.com/api/data/v1/get"
    ),
    # Providers tried in order for daily bars when the previous one fails.
    "PROVIDERS": env_list("MARKETDATA_PROVIDERS", ["eastmoney", "tencent"]),
    "CONNECT_TIMEOUT": env_float("MARKETDATA_CONNECT_TIMEOUT", 5.0),
    "READ_TIMEOUT": env_float("MARKETDATA_READ_TIMEOUT", 15.0),
    "MAX_ATTEMPTS": env_int("MARKETDATA_MAX_ATTEMPTS", 5),
    "BACKOFF_BASE": env_float("MARKETDATA_BACKOFF_BASE", 0.5),
    "BACKOFF_MAX": env_float("MARKETDATA_BACKOFF_MAX", 30.0),
    # Requests per second per host. East Money bans bursts for hours: be polite by default.
    "RATE_LIMIT": env_float("MARKETDATA_RATE_LIMIT", 1.0),
    # Who shares that budget: auto (redis with Q_REDIS_URL, else file), file (every process of
    # this machine), database (PostgreSQL: every process using it), redis, off (this process).
    "RATE_SHARING": env_str("MARKETDATA_RATE_SHARING", "auto"),
    # Directory of the file budgets; the machine's temporary directory when unset.
    "RATE_DIR": env_str("MARKETDATA_RATE_DIR", ""),
    "CONCURRENCY": env_int("MARKETDATA_CONCURRENCY", 4),
    # Consecutive refused requests (after retries) that open the circuit breaker.
    "BREAKER_THRESHOLD": env_int("MARKETDATA_BREAKER_THRESHOLD", 5),
    # Seconds an open breaker waits before letting one trial request through.
    "BREAKER_COOLDOWN": env_float("MARKETDATA_BREAKER_COOLDOWN", 300.0),
}

# --- Fund data (NAV, on-exchange shares, facts, the exchanges' ETF lists) -------------------------
# A separate phase of the ETF sync, against separate hosts; ``FUNDDATA_SYNC=0`` turns it off.
# ``{code}`` in a URL is the fund code. Network knobs (timeouts, rate, retries) are MARKETDATA's.
FUNDDATA: dict[str, Any] = {
    "ENABLED": env_bool("FUNDDATA_SYNC", default=True),
    "NAV_HISTORY_URL": env_str("FUND_NAV_HISTORY_URL", "https://fund.eastmoney.com/pingzhongdata/{code}.js"),
    "NAV_LATEST_URL": env_str("FUND_NAV_LATEST_URL", "https://fund.eastmoney.com/data/rankhandler.aspx"),
    "PROFILE_URL": env_str("FUND_PROFILE_URL", "https://fundf10.eastmoney.com/jbgk_{code}.html"),
    "SSE_FUND_LIST_URL": env_str("SSE_FUND_LIST_URL", "https://query.sse.com.cn/commonSoaQuery.do"),
    "SSE_SHARES_URL": env_str("SSE_SHARES_URL", "https://query.sse.com.cn/commonQuery.do"),
    "SZSE_FUND_LIST_URL": env_str("SZSE_FUND_LIST_URL", "https://fund.szse.cn/api/report/ShowReport"),
    "SZSE_SHARES_URL": env_str("SZSE_SHARES_URL", "https://www.szse.cn/api/report/ShowReport"),
    # Facts (fees, custodian, ...) change rarely: each fund's profile page is re-read this often.
    "FACTS_MAX_AGE_DAYS": env_int("FUND_FACTS_MAX_AGE_DAYS", 7),
    # How far back a shares backfill reads the exchanges' daily reports (0: from each ETF's listing).
    "SHARES_BACKFILL_DAYS": env_int("FUND_SHARES_BACKFILL_DAYS", 0),
}

# --- Sync ----------------------------------------------------------------------------------------
SYNC: dict[str, Any] = {
    # Trading days re-fetched before the last stored bar, to catch provider revisions.
    "OVERLAP_DAYS": env_int("SYNC_OVERLAP_DAYS", 3),
    "BATCH_SIZE": env_int("SYNC_BATCH_SIZE", 5000),
    # A running sync without heartbeat this long is reported as stalled by /api/health/ (whether a
    # run is alive is decided by its process lock, never by this: a live run is not taken over).
    "STALE_RUN_SECONDS": env_int("SYNC_STALE_RUN_SECONDS", 900),
    # Instruments whose qfq/hfq the weekly list sync compares with the provider's (3 requests
    # each), a different slice every week; 0 turns the rotating audit off.
    "AUDIT_SAMPLE": env_int("SYNC_AUDIT_SAMPLE", 20),
}

# --- Caches ---------------------------------------------------------------------------------------
# Per-process memory caches: "screens" holds market screens (latest bars) keyed by a data
# version, so a stale entry is never served after a sync writes; the timeout bounds anything else.
SCREEN_CACHE_SECONDS = env_int("SCREEN_CACHE_SECONDS", 60)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "etfsync-default"},
    "screens": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "etfsync-screens",
        "TIMEOUT": SCREEN_CACHE_SECONDS,
    },
}

# --- REST API -------------------------------------------------------------------------------------
API_REQUIRE_TOKEN = env_bool("API_REQUIRE_TOKEN", default=False)
REST_FRAMEWORK: dict[str, Any] = {
    # Token first: an anonymous call then gets 401 with "WWW-Authenticate: Token", not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # The API's policy, for every view that does not say otherwise: reads public (authenticated
    # with API_REQUIRE_TOKEN), writes for staff holding the view's ``write_permission`` (none: no writes).
    "DEFAULT_PERMISSION_CLASSES": ["etfs.rest.permissions.ReadPublicWriteStaff"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON nested too deeply for Python's decoder answers 400 like any malformed body.
    "DEFAULT_PARSER_CLASSES": [
        "etfs.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "etfs.api.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "etfs.rest.pagination.ListPagination",  # bars page by cursor instead
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 100),
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "") or None,
        "user": env_str("API_THROTTLE_USER", "") or None,
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "etfsync API",
    "DESCRIPTION": "China ETFs and A-share stocks: instruments, daily bars, sync runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- django-q2 ------------------------------------------------------------------------------------
# The ORM broker needs no extra server; set Q_REDIS_URL to share work among many machines.
Q_REDIS_URL = env_str("Q_REDIS_URL", "")
Q_CLUSTER: dict = {
    "name": "etfsync",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 6 * 3600),
    "retry": env_int("Q_TIMEOUT", 6 * 3600) + 600,
    "max_attempts": 1,
    "catch_up": False,
    "sync": env_bool("Q_SYNC", default=False),
    "label": "Tasks",
}
if Q_REDIS_URL:
    Q_CLUSTER["redis"] = Q_REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
