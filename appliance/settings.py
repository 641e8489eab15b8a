"""Settings for the appliance, read from the environment (see .env.example)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from appliance.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_origins,
    env_str,
    env_url,
    load_env_file,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_env_file(Path(env_str("APPLIANCE_ENV_FILE") or BASE_DIR / ".env"))
VAR_DIR = Path(env_str("APPLIANCE_VAR_DIR") or BASE_DIR / "var")
# The database, the generated keys and the journals live here: the owner's only, from the start.
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = secret_key(DEBUG, VAR_DIR / "secret_key")
# The key that seals TSIG secrets and DNSSEC private keys (appliance/vault.py), outside the database.
SECRETS_KEY_FILE = Path(env_str("SECRETS_KEY_FILE") or VAR_DIR / "secrets.key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")

# Not "daphne": its app only swaps runserver for an ASGI one (the web runs the daphne command,
# see README), and importing it (Twisted, TLS) costs every manage.py command a third of a second.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "appliance.apps.ApplianceConfig",
    "dnsadmin",
    "botadmin",
    "axes",
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
    "appliance.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): AXES_FAILURE_LIMIT failed sign-ins for one user name, or from
# one address, lock that user name or address out for AXES_COOLOFF_MINUTES, on the login page
# and /admin/login/ alike. Attempts and lockouts are logged and listed in the admin (Axes).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False  # lockouts are still logged (warnings); not every start-up

ROOT_URLCONF = "appliance.urls"
ASGI_APPLICATION = "appliance.asgi.application"

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
                "appliance.navigation.navigation",
            ],
        },
    },
]


def database_settings() -> dict:
    """DATABASE_URL, or the embedded SQLite file under var/.

    Three processes (web, DNS worker, bot) write the SQLite file, so it runs in
    WAL mode with a busy timeout and IMMEDIATE transactions: a writer waits for
    the lock at BEGIN instead of failing half-way through with "database is locked".
    """
    url = env_str("DATABASE_URL")
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "appliance.sqlite3",
            "OPTIONS": sqlite_options(),
        }
    try:
        config = dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True)
    except Exception as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"DATABASE_URL has an unknown scheme: {url.split(':')[0]!r}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = sqlite_options()
    elif "postgresql" in config["ENGINE"]:
        # Django's own pool (psycopg 3) instead of persistent connections, which
        # ASGI would otherwise leak, one per request thread.
        config.setdefault("OPTIONS", {})["pool"] = True
        config["CONN_MAX_AGE"] = 0
    return config


def sqlite_options() -> dict:
    return {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }


DATABASES = {"default": database_settings()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 10},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# In development WhiteNoise serves straight from the apps' static folders;
# production serves what `collectstatic` gathered (make run does it).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Behind a TLS-terminating proxy in production; plain HTTP on loopback with `make run`.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Workers reconcile from the database this often (seconds): the whole
# propagation mechanism when no cross-process channel layer exists.
RECONCILE_INTERVAL = float(env_int("RECONCILE_INTERVAL_MS", 500, minimum=50)) / 1000

# rundns: the resolver chain behind the zones (the command's options override these).
DNS_ADDRESSES = env_list("DNS_ADDRESSES", ["127.0.0.1"])
DNS_PORT = env_int("DNS_PORT", 5300, minimum=0)
DNS_RECURSION = env_bool("DNS_RECURSION", default=True)
DNS_ALLOW_RECURSION = env_list("DNS_ALLOW_RECURSION", ["127.0.0.0/8", "::1/128"])
DNS_FORWARDERS = env_list("DNS_FORWARDERS")
DNS_HOSTS_FILE = env_str("DNS_HOSTS_FILE")
DNS_ROOT_HINTS = env_str("DNS_ROOT_HINTS")
DNS_RESOLVER_ORDER = env_list("DNS_RESOLVER_ORDER", ["authority", "hosts", "cache", "recursive"])
# rundns over TCP: how long a client may leave a reply untaken before its connection is closed.
DNS_TCP_WRITE_TIMEOUT = env_int("DNS_TCP_WRITE_TIMEOUT_MS", 10_000, minimum=50) / 1000
# The answer to version.bind CH TXT, as BIND's version option; "none" refuses the question.
DNS_VERSION = env_str("DNS_VERSION", "rundns")
# A signed zone with no parental agents is checked at its parent's name servers, found through
# this resolver (ADDR[:PORT]; empty: the host's, from /etc/resolv.conf).
DNS_PARENT_RESOLVER = env_str("DNS_PARENT_RESOLVER")
# The catalog zone (RFC 9432) listing the primary zones, for secondaries that follow it: its
# name (empty: none), who may transfer it and which secondaries to NOTIFY (comma-separated,
# as a zone's transfer ACL and NOTIFY targets).
DNS_CATALOG_ZONE = env_str("DNS_CATALOG_ZONE")
DNS_CATALOG_TRANSFER = env_list("DNS_CATALOG_TRANSFER")
DNS_CATALOG_NOTIFY = env_list("DNS_CATALOG_NOTIFY")

# rundns: response rate limiting (RRL) over UDP, as BIND's rate-limit: off while every rate is
# 0. Per client network (/24, /56), responses a second for one answer; NXDOMAIN, NODATA,
# referrals and errors take the responses rate unless set. Every SLIP-th limited response is
# sent truncated (0: none), the rest dropped; a client over its rate owes up to WINDOW seconds.
DNS_RRL_RESPONSES_PER_SECOND = env_int("DNS_RRL_RESPONSES_PER_SECOND", 0, minimum=0)
DNS_RRL_NXDOMAINS_PER_SECOND = env_int(
    "DNS_RRL_NXDOMAINS_PER_SECOND", DNS_RRL_RESPONSES_PER_SECOND, minimum=0
)
DNS_RRL_NODATA_PER_SECOND = env_int(
    "DNS_RRL_NODATA_PER_SECOND", DNS_RRL_RESPONSES_PER_SECOND, minimum=0
)
DNS_RRL_REFERRALS_PER_SECOND = env_int(
    "DNS_RRL_REFERRALS_PER_SECOND", DNS_RRL_RESPONSES_PER_SECOND, minimum=0
)
DNS_RRL_ERRORS_PER_SECOND = env_int(
    "DNS_RRL_ERRORS_PER_SECOND", DNS_RRL_RESPONSES_PER_SECOND, minimum=0
)
DNS_RRL_SLIP = env_int("DNS_RRL_SLIP", 2, minimum=0)
DNS_RRL_WINDOW = env_int("DNS_RRL_WINDOW", 15, minimum=1)
DNS_RRL_IPV4_PREFIX = env_int("DNS_RRL_IPV4_PREFIX", 24, minimum=0)
DNS_RRL_IPV6_PREFIX = env_int("DNS_RRL_IPV6_PREFIX", 56, minimum=0)
DNS_RRL_EXEMPT = env_list("DNS_RRL_EXEMPT")
# rundns: DNS cookies (RFC 7873, RFC 9018). The secret (32 hex digits; a comma-separated list
# during a rollover, the first making cookies) is shared by servers that answer for one address;
# unset, one is generated into var/cookie_secret.
DNS_COOKIES = env_bool("DNS_COOKIES", default=True)
DNS_COOKIE_SECRET = env_list("DNS_COOKIE_SECRET")
DNS_COOKIE_SECRET_FILE = VAR_DIR / "cookie_secret"

# runbot: how long a shard's hold on a network lasts unless renewed (every ~2 s).
BOT_LEASE_SECONDS = env_int("BOT_LEASE_SECONDS", 15, minimum=3)
# runbot: log lines are stored in batches at least this often (a journal file keeps
# them meanwhile, so a crash loses none).
BOT_LOG_INTERVAL_MS = env_int("BOT_LOG_INTERVAL_MS", 500, minimum=10)

# rundns: the query log keeps at most this many entries a second (0: statistics only),
# for this many days.
QUERY_LOG_MAX_PER_SECOND = env_int("QUERY_LOG_MAX_PER_SECOND", 1000, minimum=0)
QUERY_LOG_RETENTION_DAYS = env_int("QUERY_LOG_RETENTION_DAYS", 7, minimum=1)
# ... and at most this many entries (the newest), so that a flood cannot fill the disk.
QUERY_LOG_MAX_ENTRIES = env_int("QUERY_LOG_MAX_ENTRIES", 500_000, minimum=1000)

# /metrics (Prometheus): answered to a bearer token or to clients in these networks; off
# (404) when neither is set.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOW = env_list("METRICS_ALLOW")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A flood of one message (a failing name per query) passes a few lines a minute.
    "filters": {"repeats": {"()": "dnsadmin.names.loglimit.RepeatLimit"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["repeats"]}
    },
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", LOG_LEVELS)},
    "loggers": {"daphne": {"level": "WARNING"}},
}
