"""Cached public pages that stay exact: keyed on a version each campaign's changes bump.

Everything that changes what a campaign's pages show (a gift, a refund, a void, an edit of
the campaign, a section, a member or an update) bumps the campaign's version once the change
is committed (`page_version_bump`), so the first request after it renders afresh. Pages
also change with the clock (relative times, days left, giving closing at the end date) and
with share counts, which may lag by a minute: so the key holds the local date and a cached
page lives at most a minute.

A hit costs one round trip to the cache (`get_many` of the version and the page) and no
query; a repeat visitor's conditional GET is answered 304 after that same single read.
When a change makes the page stale while many visitors are reading it, one request renders
the new page and the others wait for it (at most `RENDER_WAIT_SECONDS`) instead of each
rendering the same page again: under a steady stream of gifts, renders that pile up take the
CPU the cached hits need, and finish too late to be served.

Requests that carry a session cookie (signed-in volunteers and organizers, or a giver
straight after giving) are rendered afresh and never stored, so per-visitor content never
reaches the cache. Only the query parameters that change the page (`after`) are in the key;
tracking parameters (`fbclid`, `utm_*`, ...) are ignored.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone, translation
from django.utils.http import http_date, quote_etag

logger = logging.getLogger(__name__)

VERSION_TIMEOUT = 30 * 24 * 60 * 60
# How long a cached page may be served: share counts and "3 minutes ago" may lag this much.
PAGE_SECONDS = 60
# The query parameters that change what a cached page shows.
PAGE_PARAMETERS = ("after",)
# Response headers kept with a cached page (the rest are added on the way out each time).
KEPT_HEADERS = ("Content-Type", "Content-Language")
# A request that finds another one rendering its page waits this long for it, then renders
# the page itself (the other may have failed or died).
RENDER_WAIT_SECONDS = 1.0
RENDER_POLL_SECONDS = 0.005


def _version_key(slug: str) -> str:
    return f"page-version:{slug}"


def _new_version() -> str:
    """The time of the change and a random part, never an incr(): a version lost from the
    cache must never come back as an old value that matches pages cached before."""
    return f"{time.time_ns()}.{secrets.token_hex(6)}"


def _version_time(version: str) -> float:
    return int(str(version).split(".")[0]) / 1_000_000_000


def page_version_bump_slug(slug: str) -> None:
    """Make every cached page of the campaign with this slug stale. Never raises."""
    try:
        cache.set(_version_key(slug), _new_version(), VERSION_TIMEOUT)
    except Exception:  # an unreachable cache has no stale page to serve either
        logger.exception("Could not bump the page version of campaign %s", slug)


def page_version_bump(campaign_id: int) -> None:
    """Make every cached page of the campaign stale (call from transaction.on_commit)."""
    from campaigns.models import Campaign

    slug = Campaign.objects.filter(pk=campaign_id).values_list("slug", flat=True).first()
    if slug:
        page_version_bump_slug(slug)


def _fresh_version(key: str) -> str:
    """A version for a campaign whose version the cache lost: new, never an old one."""
    version = _new_version()
    if cache.add(key, version, VERSION_TIMEOUT):
        return version
    return cache.get(key) or version  # another request's, unless the cache lost it again


def _page_key(request: HttpRequest, slug: str, kwargs: dict) -> str:
    """What the page depends on besides its version: the URL's meaning, the language, the
    day and the minute (relative times, days left, giving closing at the end date)."""
    parameters = "&".join(f"{name}={request.GET.get(name, '')}" for name in PAGE_PARAMETERS)
    parts = [
        request.resolver_match.view_name if request.resolver_match else "",
        *(f"{name}={value}" for name, value in sorted(kwargs.items())),
        parameters,
        translation.get_language() or settings.LANGUAGE_CODE,
        timezone.localdate().isoformat(),
        str(int(time.time() // PAGE_SECONDS)),
    ]
    return f"page:{slug}:{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:32]}"


def _etag(page_key: str, version: str) -> str:
    return quote_etag(hashlib.sha256(f"{page_key}|{version}".encode()).hexdigest()[:32])


def _claim_key(page_key: str, version: str) -> str:
    return f"{page_key}:render:{version}"


def _claim_or_wait(version_key: str, page_key: str, version: str) -> tuple[tuple | None, bool]:
    """Claim the render of this page at this version, or wait for the request that holds
    the claim to store the page. Returns (the stored page or None, whether we hold the
    claim); with no page, render it here.

    A page stored at the version this request read, or at the campaign's version now, holds
    every change committed before the request, and is served. The claim is given up as soon
    as its render ends (stored or not), which ends the wait: a page that cannot be stored,
    or one replaced by a late render of an older version, never keeps anyone waiting.
    """
    claim = _claim_key(page_key, version)
    if cache.add(claim, 1, int(RENDER_WAIT_SECONDS) + 1):
        return None, True
    deadline = time.monotonic() + RENDER_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(RENDER_POLL_SECONDS)
        found = cache.get_many([version_key, page_key, claim])
        stored = found.get(page_key)
        if stored is not None and stored[0] in (version, found.get(version_key)):
            return stored, False
        if claim not in found:
            break
    return None, False


def _served(stored, page_key: str) -> HttpResponse:
    version, content, headers = stored
    response = HttpResponse(content)
    for name, value in headers.items():
        response[name] = value
    return _headers(response, _etag(page_key, version), version)


def _personal(request: HttpRequest) -> bool:
    return settings.SESSION_COOKIE_NAME in request.COOKIES or request.method not in ("GET", "HEAD")


def _headers(response: HttpResponse, etag: str, version: str) -> HttpResponse:
    response["ETag"] = etag
    response["Last-Modified"] = http_date(_version_time(version))
    response["Cache-Control"] = "max-age=0, must-revalidate"
    return response


def cached_public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve a campaign page from the shared cache when it is still exact (see the module).

    One round trip to the cache (`get_many` of the version and the page) per request; the
    stored page carries the version it was rendered at and is served only while that is
    still the campaign's version.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str, **kwargs) -> HttpResponse:
        if _personal(request):
            return view(request, slug, **kwargs)
        version_key, page_key = _version_key(slug), _page_key(request, slug, kwargs)
        try:
            found = cache.get_many([version_key, page_key])
            version = found.get(version_key) or _fresh_version(version_key)
        except Exception:  # the cache is down: render every time, as if nothing were cached
            logger.warning("Page cache unavailable; rendering %s afresh", slug, exc_info=True)
            return view(request, slug, **kwargs)
        etag = _etag(page_key, version)
        if request.headers.get("If-None-Match") == etag:
            return _headers(HttpResponseNotModified(), etag, version)
        stored = found.get(page_key)
        if stored is not None and stored[0] == version:
            return _served(stored, page_key)
        try:
            stored, claimed = _claim_or_wait(version_key, page_key, version)
        except Exception:  # the cache failed between two calls: render
            logger.warning("Page cache unavailable; rendering %s afresh", slug, exc_info=True)
            stored, claimed = None, False
        if stored is not None:
            return _served(stored, page_key)
        try:
            response = view(request, slug, **kwargs)
            if response.status_code == 200 and not response.streaming:
                headers = {name: response[name] for name in KEPT_HEADERS if name in response}
                with contextlib.suppress(Exception):  # a page not stored is only rendered again
                    cache.set(page_key, (version, response.content, headers), PAGE_SECONDS)
                _headers(response, etag, version)
        finally:
            if claimed:  # the render is over, stored or not: nobody waits on it any more
                with contextlib.suppress(Exception):
                    cache.delete(_claim_key(page_key, version))
        return response

    return wrapper
