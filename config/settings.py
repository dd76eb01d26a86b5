"""Solidaria settings: one module, every value from the environment (django-environ).

Dev and production run the same code path; only the environment differs.
"""

from decimal import Decimal
from pathlib import Path

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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "config.apps.ConfigConfig",
    "campaigns",
    "donations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RefuseNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.ErrorPageMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A shared cache (Redis) in production; the system check in config/checks.py refuses a
# per-process cache when DEBUG is off, because rate limits must hold across processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://solidaria")}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

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

# Languages: no URL prefix. LocaleMiddleware reads the cookie set by /lang/<code>/,
# then Accept-Language, then falls back to English.
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
STATIC_ROOT = BASE_DIR / "staticfiles"
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
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 30)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
