"""Deployment checks that refuse settings a production donation site must not run with."""

from django.conf import settings
from django.core.checks import Error, Tags, register

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(Tags.caches, Tags.security)
def check_production_settings(app_configs=None, **kwargs) -> list[Error]:
    if settings.DEBUG:
        return []
    errors = []
    backend = settings.CACHES["default"]["BACKEND"]
    if backend in PER_PROCESS_CACHES:
        errors.append(
            Error(
                f"CACHE_URL selects {backend}, a per-process cache, while DEBUG is off.",
                hint="Point CACHE_URL at Redis (redis://host:6379/0) so that rate limits and "
                "sessions hold across processes.",
                id="solidaria.E001",
            )
        )
    if not settings.SITE_URL:
        errors.append(
            Error(
                "SITE_URL is not set while DEBUG is off.",
                hint="Set SITE_URL to the public base URL, e.g. https://give.example.org; "
                "Stripe return URLs, emails and QR codes are built from it.",
                id="solidaria.E002",
            )
        )
    return errors
