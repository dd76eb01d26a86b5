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

Requests that carry any cookie but the language one (a session: signed-in volunteers and
organizers, or a giver straight after giving; flash messages waiting in the `messages`
cookie; a CSRF token) are rendered afresh and never stored, and neither is a page that showed
or queued a flash message or set a cookie, so per-visitor content never reaches the cache.
Only the query parameters that change the page (`after`) are in the key, and the view sees no
other: an unknown `?member=` or tracking parameters (`fbclid`, `utm_*`, ...) never reach the
links of a stored page.

Only a page that exists makes a version key: a campaign's version is created by its first
stored page (or by a change), never by a request for a slug that names no campaign, which
would otherwise leave a key behind for a month.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, QueryDict
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
    """A request that may bring something of its visitor's to the page: any cookie but the
    language one (a session, flash messages, a CSRF token, ...), or not a GET or HEAD."""
    if request.method not in ("GET", "HEAD"):
        return True
    return any(name != settings.LANGUAGE_COOKIE_NAME for name in request.COOKIES)


def _keep_page_parameters(request: HttpRequest) -> None:
    """Leave the view only the query parameters in the page's key (their last value, as the
    key reads them), so that no other reaches the links of a page stored for everyone."""
    kept = {name: request.GET[name] for name in PAGE_PARAMETERS if name in request.GET}
    request.GET = QueryDict(urlencode(kept))


def _storable(request: HttpRequest, response: HttpResponse) -> bool:
    """A page anybody may be shown: complete, setting no cookie, and showing or queueing no
    flash message (messages live in a cookie or the session, which are the visitor's)."""
    messages = get_messages(request)  # the request's message storage, if any
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not getattr(messages, "used", False)
        and not getattr(messages, "added_new", False)
    )


def _store(response: HttpResponse, page_key: str, version: str) -> HttpResponse:
    """Keep a page that anybody may be shown at `version`, with the headers that say so."""
    headers = {name: response[name] for name in KEPT_HEADERS if name in response}
    with contextlib.suppress(Exception):  # a page not stored is only rendered again
        cache.set(page_key, (version, response.content, headers), PAGE_SECONDS)
    return _headers(response, _etag(page_key, version), version)


def _render_unversioned(view, request: HttpRequest, slug: str, kwargs: dict) -> HttpResponse:
    """The cache holds no version for this slug: a campaign whose version the cache lost (or
    that nobody has visited since the cache started), or no campaign at all. Render; only a
    page that can be stored creates the version, new (never an old one), and only if none
    appeared meanwhile: a change committed during the render sets one, and then this page,
    perhaps older than the change, is not stored."""
    version = _new_version()
    response = view(request, slug, **kwargs)
    if not _storable(request, response):
        return response
    try:
        created = cache.add(_version_key(slug), version, VERSION_TIMEOUT)
    except Exception:  # the cache failed since the read: this page is only not stored
        logger.warning("Page cache unavailable; not storing %s", slug, exc_info=True)
        return response
    if created:
        _store(response, _page_key(request, slug, kwargs), version)
    return response


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
        _keep_page_parameters(request)
        if _personal(request):
            return view(request, slug, **kwargs)
        version_key, page_key = _version_key(slug), _page_key(request, slug, kwargs)
        try:
            found = cache.get_many([version_key, page_key])
        except Exception:  # the cache is down: render every time, as if nothing were cached
            logger.warning("Page cache unavailable; rendering %s afresh", slug, exc_info=True)
            return view(request, slug, **kwargs)
        version = found.get(version_key)
        if version is None:
            return _render_unversioned(view, request, slug, kwargs)
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
            if _storable(request, response):
                _store(response, page_key, version)
        finally:
            if claimed:  # the render is over, stored or not: nobody waits on it any more
                with contextlib.suppress(Exception):
                    cache.delete(_claim_key(page_key, version))
        return response

    return wrapper
