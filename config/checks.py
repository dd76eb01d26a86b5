"""Deployment checks that refuse settings a production donation site must not run with."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from config.clients import forwarded_networks

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


@register(Tags.security, deploy=True)
def check_proxy_settings(app_configs=None, **kwargs) -> list[Error | Warning]:
    """FORWARDED_ALLOW_IPS and TRUSTED_PROXY_COUNT must describe the same proxies."""
    problems: list[Error | Warning] = []
    try:
        networks = forwarded_networks(settings.FORWARDED_ALLOW_IPS)
    except ValueError:
        return [
            Error(
                f"FORWARDED_ALLOW_IPS is not a list of addresses: {settings.FORWARDED_ALLOW_IPS!r}",
                hint="Write addresses or networks separated by commas, e.g. 10.0.0.5,::1.",
                id="solidaria.E003",
            )
        ]
    if networks is None:
        problems.append(
            Warning(
                "FORWARDED_ALLOW_IPS is *: any client can claim HTTPS and pick its address.",
                hint="List your proxy's address instead (the default, 127.0.0.1,::1, suits a "
                "proxy on the same machine).",
                id="solidaria.W001",
            )
        )
    if settings.SECURE_PROXY_SSL_HEADER_REQUESTED and settings.TRUSTED_PROXY_COUNT <= 0:
        problems.append(
            Warning(
                "SECURE_PROXY_SSL_HEADER is ignored: TRUSTED_PROXY_COUNT is 0, so no proxy is "
                "trusted to say that a request came over HTTPS.",
                hint="Set TRUSTED_PROXY_COUNT to the number of proxies in front of the site, "
                "or leave HTTPS to gunicorn (FORWARDED_ALLOW_IPS).",
                id="solidaria.W002",
            )
        )
    return problems


# What each purge backend needs, by setting (config/purge.py).
PURGE_SETTINGS = {
    "none": (),
    "http": ("CDN_PURGE_URL",),
    "cloudflare": ("CLOUDFLARE_ZONE_ID", "CLOUDFLARE_API_TOKEN"),
    "fastly": ("FASTLY_SERVICE_ID", "FASTLY_API_TOKEN"),
}


@register(Tags.caches)
def check_purge_settings(app_configs=None, **kwargs) -> list[Error]:
    """A purge backend without what it needs would fail every purge, silently but for logs."""
    backend = settings.CDN_PURGE_BACKEND
    if backend not in PURGE_SETTINGS:
        return [
            Error(
                f"CDN_PURGE_BACKEND is {backend!r}.",
                hint=f"Choose one of {', '.join(PURGE_SETTINGS)}.",
                id="solidaria.E004",
            )
        ]
    missing = [name for name in PURGE_SETTINGS[backend] if not getattr(settings, name)]
    if missing:
        return [
            Error(
                f"CDN_PURGE_BACKEND={backend} needs {' and '.join(missing)}.",
                hint="Set them, or CDN_PURGE_BACKEND=none to let pages expire by themselves "
                "(PUBLIC_PAGE_MAX_AGE).",
                id="solidaria.E004",
            )
        ]
    return []
