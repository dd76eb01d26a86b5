"""Solidaria settings: one module, every value from the environment (django-environ).

Dev and production run the same code path; only the environment differs.
"""

import datetime
from decimal import Decimal
from pathlib import Path

import django
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-do-not-use-in-production")
else:
    try:
        SECRET_KEY = env.str("SECRET_KEY")
    except ImproperlyConfigured as error:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (DEBUG is off)."
        ) from error

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL] if SITE_URL else [])

INSTALLED_APPS = [
    "donations.apps.SolidariaAdminConfig",  # django.contrib.admin, on donations/sites.py
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Django 6 ships the Tasks API (django.tasks); on 5.2 the django-tasks backport provides it.
    *(["django_tasks"] if django.VERSION < (6, 0) else []),
    "config.apps.ConfigConfig",
    "campaigns",
    "donations",
    # After donations: Django runs the first app's command of a name, so `db_worker` is
    # donations' own (the library's worker plus the sweep).
    "django_tasks_db",
]

MIDDLEWARE = [
    "config.middleware.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # ETag on every cacheable response; If-None-Match (weak, or a list) and If-Modified-Since
    # answer 304. Outside the rest, so it sees the final headers (no-store for the signed-in).
    "django.middleware.http.ConditionalGetMiddleware",
    "config.middleware.RefuseNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.ErrorPageMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.middleware.TwoFactorRequiredMiddleware",
    "config.middleware.SiteSecurityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # django-axes turns a sign-in refused for too many failures into its lockout page: last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = env.str("ROOT_URLCONF", default="config.urls")
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "config.context_processors.page_path",
                "config.context_processors.page_languages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The task worker and the web server write to one SQLite file: a writer waits for the
    # other (up to `timeout` seconds) instead of failing with "database is locked", and
    # write-ahead logging lets readers go on while one of them writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
# The test run's own database is named after the real one (test_<name>) unless this says.
if env.str("DATABASE_TEST_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("DATABASE_TEST_NAME")}
# Connections: each app process keeps its database connection open between requests
# (CONN_MAX_AGE seconds, checked before reuse), or, with DATABASE_POOL=true on PostgreSQL,
# draws from a psycopg pool of DATABASE_POOL_MIN..DATABASE_POOL_MAX connections per process.
# Either way, processes x connections must stay under PostgreSQL's max_connections (README).
if env.bool("DATABASE_POOL", default=False) and "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A shared cache (Redis) in production; the system check in config/checks.py refuses a
# per-process cache when DEBUG is off, because rate limits must hold across processes.
# Nothing needs the cache to work: if Redis is down or hangs, a call fails within the socket
# timeouts below and each user of the cache carries on without it (config/ratelimit.py).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://solidaria")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "config.cache.RedisCache"  # one redis client per pool
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {
            "socket_connect_timeout": env.float("CACHE_CONNECT_TIMEOUT", default=0.25),
            "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
        }
    )
# CACHE_URL=redis://...?key_prefix=site1: django-environ keeps the prefix under a lower-case
# name, which Django ignores; it is KEY_PREFIX (tests use one per run on a shared Redis).
if "key_prefix" in CACHES["default"]:
    CACHES["default"]["KEY_PREFIX"] = CACHES["default"].pop("key_prefix")
# Public pages (config/httpcache.py) may be kept this many seconds by a shared cache (a CDN,
# Varnish: s-maxage), and served stale for this many more while it fetches a fresh copy;
# browsers always revalidate (max-age=0). Changes purge them sooner (below).
PUBLIC_PAGE_MAX_AGE = env.int("PUBLIC_PAGE_MAX_AGE", default=300)
PUBLIC_PAGE_STALE_WHILE_REVALIDATE = env.int("PUBLIC_PAGE_STALE_WHILE_REVALIDATE", default=60)
# Purging the shared cache's copies of changed pages by tag (config/purge.py): none, http (a
# PURGE to CDN_PURGE_URL, for Varnish or nginx), cloudflare or fastly. A tag is purged at most
# once per CDN_PURGE_DELAY_SECONDS (raise it to 12 on Cloudflare's Free plan: 5 purges a
# minute); a failed purge is tried CDN_PURGE_ATTEMPTS times in all.
CDN_PURGE_BACKEND = env.str("CDN_PURGE_BACKEND", default="none")
CDN_PURGE_URL = env.str("CDN_PURGE_URL", default="")
CDN_PURGE_TIMEOUT = env.float("CDN_PURGE_TIMEOUT", default=5.0)
CDN_PURGE_DELAY_SECONDS = env.float("CDN_PURGE_DELAY_SECONDS", default=1.0)
CDN_PURGE_ATTEMPTS = env.int("CDN_PURGE_ATTEMPTS", default=5)
CLOUDFLARE_ZONE_ID = env.str("CLOUDFLARE_ZONE_ID", default="")
CLOUDFLARE_API_TOKEN = env.str("CLOUDFLARE_API_TOKEN", default="")
CLOUDFLARE_API_URL = env.str("CLOUDFLARE_API_URL", default="https://api.cloudflare.com/client/v4")
FASTLY_SERVICE_ID = env.str("FASTLY_SERVICE_ID", default="")
FASTLY_API_TOKEN = env.str("FASTLY_API_TOKEN", default="")
FASTLY_API_URL = env.str("FASTLY_API_URL", default="https://api.fastly.com")
# Sessions live in the database alone, so signing in keeps working while the cache is down.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ...: from one URL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Solidaria <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/volunteer/"
LOGOUT_REDIRECT_URL = "/"

# Sign-in throttling (django-axes): locks per account, and per account-and-address pair.
# After SIGN_IN_FAILURE_LIMIT failures for one account (from any address), further attempts
# for it are refused until SIGN_IN_LOCKOUT_MINUTES have passed without another one. axes has
# one AXES_FAILURE_LIMIT for every lockout parameter and a pair's failures are some of its
# account's, so today the account lock comes first; the pair stays listed so that a lower
# per-pair limit, should axes gain one, needs no other change. An address alone locks
# nobody: a march's shared hotspot does not lock everyone behind it, as failures at other
# accounts count against those accounts only. A successful sign-in clears the failures of its
# own account only (axes resets what AXES_LOCKOUT_PARAMETERS name). Attempts are stored in
# the database (never the cache), and the client address is the one config/clients.py works
# out (TRUSTED_PROXY_COUNT).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("SIGN_IN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("SIGN_IN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "config.clients.client_ip"
AXES_LOCKOUT_CALLABLE = "config.accounts.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Two-factor sign-in with an authenticator app (django-otp, TOTP): any account may turn it on
# at /accounts/two-factor/; with TWO_FACTOR_REQUIRED_FOR_SUPERUSERS a superuser must.
TWO_FACTOR_REQUIRED_FOR_SUPERUSERS = env.bool("TWO_FACTOR_REQUIRED_FOR_SUPERUSERS", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Solidaria")
# Password-reset emails: at most this many per hour for one address and from one client.
PASSWORD_RESET_LIMIT_PER_ADDRESS = env.int("PASSWORD_RESET_LIMIT_PER_ADDRESS", default=3)
PASSWORD_RESET_LIMIT_PER_CLIENT = env.int("PASSWORD_RESET_LIMIT_PER_CLIENT", default=10)

# Languages (config.middleware.LanguageMiddleware): the public pages and the donate flow are
# English at their paths and Spanish under /es/; every other page reads the cookie set by
# /lang/<code>/, then Accept-Language, then falls back to English.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "solidaria_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Babel locale used to format money and dates in each language.
BABEL_LOCALES = env.dict("BABEL_LOCALES", default={"en": "en_US", "es": "es_US"})
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="America/Chicago")

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

ADMIN_URL = env.str("ADMIN_URL", default="admin/")

# Work that runs later (Stripe events, receipts, emails, Stripe calls): Django's Tasks API.
# The default backend keeps tasks in the database (django-tasks-db), run by `manage.py
# db_worker`; TASKS_BACKEND=rq moves them to Redis (django-tasks-rq and `manage.py rqworker`,
# docs/operations.md). The worker sweeps every TASKS_SWEEP_SECONDS for work whose task was
# lost (received events not processed, receipts overdue) that is older than
# TASKS_SWEEP_AFTER_SECONDS, and enqueues it again.
TASKS_BACKEND = env.str("TASKS_BACKEND", default="database")
if TASKS_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
elif TASKS_BACKEND == "rq":  # pip install ".[rq]"; workers: manage.py rqworker (see above)
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": env.str("RQ_URL", default="redis://127.0.0.1:6379/0")}}
else:
    raise ImproperlyConfigured("TASKS_BACKEND must be 'database' or 'rq'.")
TASKS_SWEEP_SECONDS = env.int("TASKS_SWEEP_SECONDS", default=60)
TASKS_SWEEP_AFTER_SECONDS = env.int("TASKS_SWEEP_AFTER_SECONDS", default=60)

# Payments. Without a Stripe secret key the site runs in demo mode (no money moves).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
PAYMENTS_DEMO = env.bool("PAYMENTS_DEMO", default=False)
if not STRIPE_SECRET_KEY and not DEBUG and not PAYMENTS_DEMO:
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY is not set and DEBUG is off. Set STRIPE_SECRET_KEY to take real "
        "payments, or PAYMENTS_DEMO=true to run the demo checkout where no money moves."
    )
if STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET.startswith("whsec_"):
    # Without the endpoint's signing secret every webhook is refused and gifts stay pending.
    raise ImproperlyConfigured(
        "STRIPE_WEBHOOK_SECRET must be the webhook endpoint's signing secret (whsec_…) when "
        "STRIPE_SECRET_KEY is set: without it every Stripe event is refused and paid gifts "
        "stay pending. Copy it from the Stripe Dashboard (Developers → Webhooks → your endpoint)."
    )
# Checkout Sessions expire after this many minutes (Stripe allows 30 to 1440; its default,
# 24 hours, keeps abandoned gifts pending and card testers' sessions open for longer).
STRIPE_CHECKOUT_EXPIRES_MINUTES = env.int("STRIPE_CHECKOUT_EXPIRES_MINUTES", default=90)
if not 30 <= STRIPE_CHECKOUT_EXPIRES_MINUTES <= 1440:
    raise ImproperlyConfigured(
        "STRIPE_CHECKOUT_EXPIRES_MINUTES must be between 30 and 1440 (Stripe's limits)."
    )
# The payment methods Checkout offers: a payment method configuration made in the Dashboard
# (pmc_…), or else this explicit list. Buy-now-pay-later methods forbid donations.
STRIPE_PAYMENT_METHOD_CONFIGURATION = env.str("STRIPE_PAYMENT_METHOD_CONFIGURATION", default="")
STRIPE_PAYMENT_METHOD_TYPES = env.list("STRIPE_PAYMENT_METHOD_TYPES", default=["card"])
DONATION_MIN_USD = Decimal(env.str("DONATION_MIN_USD", default="5"))
DONATION_MAX_USD = Decimal(env.str("DONATION_MAX_USD", default="100000"))
# Proxies: FORWARDED_ALLOW_IPS lists their addresses (or networks; gunicorn.conf.py hands the
# same variable to gunicorn, which then believes their X-Forwarded-Proto), TRUSTED_PROXY_COUNT
# how many X-Forwarded-For hops they add (config/clients.py). A request from any other address
# is taken at face value: its forwarded headers are ignored.
FORWARDED_ALLOW_IPS = env.str("FORWARDED_ALLOW_IPS", default="127.0.0.1,::1")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# How long a donor's self-service link (in receipts, or asked for by email) stays valid.
DONOR_LINK_MAX_AGE = env.int("DONOR_LINK_MAX_AGE", default=30 * 24 * 60 * 60)
# Card-testing defences (donations/throttle.py): Checkout Sessions one client IP may start per
# window, counted in the default cache; and the attempts per campaign in ten minutes above
# which organizers are warned (never blocked).
CHECKOUT_RATE_LIMITS = env.list("CHECKOUT_RATE_LIMITS", default=["5/m", "20/h"])
CHECKOUT_SURGE_THRESHOLD = env.int("CHECKOUT_SURGE_THRESHOLD", default=30)

# Security. The same values in development; HTTPS-only settings switch on with DEBUG off.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Behind gunicorn, HTTPS comes from gunicorn itself (FORWARDED_ALLOW_IPS). For another server
# behind a proxy that always sets X-Forwarded-Proto, SECURE_PROXY_SSL_HEADER=true makes Django
# read it, and only when a proxy is trusted: otherwise any client could claim HTTPS
# (config/checks.py warns that the setting was ignored).
SECURE_PROXY_SSL_HEADER_REQUESTED = env.bool("SECURE_PROXY_SSL_HEADER", default=False)
if SECURE_PROXY_SSL_HEADER_REQUESTED and TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
# Browser features no page of the site uses, refused to the page and to anything it embeds
# (config/middleware.py sends it). Checkout is a redirect to Stripe, never embedded here.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)

# A strict Content Security Policy: no inline script or style anywhere. Checkout is a
# redirect after a form POST, which form-action governs, so Stripe's host is allowed there.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https://checkout.stripe.com"],
    },
}

# Checks silenced on purpose; `manage.py check --deploy --fail-level WARNING` passes in CI
# with production settings and must keep passing, so every entry here says why.
SILENCED_SYSTEM_CHECKS = [
    # security.W005 (HSTS without includeSubDomains) and security.W021 (HSTS without
    # preload): a self-hosted instance usually lives at a subdomain of its group's domain
    # (give.example.org), and HSTS for every sibling subdomain, or a place on the browsers'
    # preload list (which needs includeSubDomains and takes months to undo), would break
    # sites the deployer does not run. HSTS itself is on for this host (SECURE_HSTS_SECONDS);
    # whoever owns the whole domain turns both on with SECURE_HSTS_INCLUDE_SUBDOMAINS=true
    # and SECURE_HSTS_PRELOAD=true.
    "security.W005",
    "security.W021",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
