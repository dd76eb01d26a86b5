"""The campaign pages at the origin: public headers, and a cache that stays exact.

Every campaign page (`campaign_page`) is public for shared caches (config/httpcache.py),
tagged `campaign-<id>` and dated with the campaign's last change (`Last-Modified`, from
`Campaign.updated_at`, which every change of what its pages show moves). The page version
changes, once committed, with the same changes (`campaigns.services.campaign_pages_changed`).

The pages that cost a render (`campaign_page(stored=True)`: the campaign, member and givers
pages) are also kept in Django's cache, keyed on that version, the URL's meaning, the
language, the page parameters (`after`) and the minute. Share counts and relative times may
lag by that minute; a new version makes the first request after a commit render afresh. A
version is a new random value, never an `incr()`: a version lost from the cache comes back
as a new one, which matches no page stored before. A request that finds no page renders it
and stores it under the version it read (a page stored under an older version is never
served). Within one server process, requests that find the same page missing at the same
version wait for the one already rendering it (`_Flight`, at most `RENDER_WAIT_SECONDS`)
instead of rendering it again: under a stream of gifts every gift makes the page stale, and
each worker thread rendering the same page at once took the CPU the readers needed. There is
no waiting across processes and nothing about it in the cache: a process renders at most one
copy of a page per version.

Requests with a session or a messages cookie (a signed-in volunteer, a giver straight after
giving) are rendered afresh and never stored. Only a page anybody may be shown
(`config.httpcache.shareable`) is stored, and only a 200 creates a version: a campaign that
does not exist, a `?member=` or member slug that is no member, or a cursor that points at no
gift writes nothing to the cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone, translation
from django.utils.cache import set_response_etag

from config.httpcache import public_page, shareable

logger = logging.getLogger(__name__)

# A version outlives any page stored under it; an unused one expires by itself.
VERSION_TIMEOUT = 30 * 24 * 60 * 60
# How long a stored page may be served: share counts and "3 minutes ago" may lag this much.
PAGE_SECONDS = 60
# The query parameters that change what a stored page shows; the view sees no other.
PAGE_PARAMETERS = ("after",)
# Headers kept with a stored page; the others are added on the way out each time.
KEPT_HEADERS = (
    "Content-Type",
    "Content-Language",
    "Surrogate-Key",
    "Cache-Tag",
    "ETag",
    "Last-Modified",
)
# A request waits this long for another thread of its process rendering the same page.
RENDER_WAIT_SECONDS = 2.0


def campaign_tag(campaign_id: int) -> str:
    """The tag of every page that shows this campaign (Surrogate-Key, Cache-Tag, purges)."""
    return f"campaign-{campaign_id}"


def _version_key(slug: str) -> str:
    return f"origin-version:{slug}"


def _new_version() -> str:
    """The time of the change and a random part: never equal to an earlier version."""
    return f"{time.time_ns()}.{secrets.token_hex(6)}"


def page_versions_bump(*, slugs: Iterable[str]) -> None:
    """Give these campaigns' pages a new version (call once the change is committed), so the
    next request renders afresh. Never raises: with the cache down nothing is stored."""
    versions = {_version_key(slug): _new_version() for slug in slugs}
    if not versions:
        return
    try:
        cache.set_many(versions, VERSION_TIMEOUT)
    except Exception:
        logger.exception("Could not bump the page versions of %s", sorted(versions))


def _personal(request: HttpRequest) -> bool:
    """A request whose page may hold something of its visitor's: a session (signed in, or a
    giver's flash message) or flash messages waiting in their cookie."""
    return (
        settings.SESSION_COOKIE_NAME in request.COOKIES
        or CookieStorage.cookie_name in request.COOKIES
    )


def _page_key(request: HttpRequest, slug: str, kwargs: dict) -> str:
    """What a page depends on besides its version: the URL's meaning, its page parameters,
    the language, the day and the minute (relative times, days left, giving closing)."""
    parts = [
        request.resolver_match.view_name if request.resolver_match else request.path,
        *(f"{name}={value}" for name, value in sorted(kwargs.items())),
        *(f"{name}={request.GET.get(name, '')}" for name in PAGE_PARAMETERS),
        translation.get_language() or settings.LANGUAGE_CODE,
        timezone.localdate().isoformat(),
        str(int(time.time() // PAGE_SECONDS)),
    ]
    return f"origin-page:{slug}:{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:32]}"


def _keep_page_parameters(request: HttpRequest) -> None:
    """Leave the view only the page parameters (their last value, as the key reads them),
    so no other (a tracking parameter, a made-up `?member=`) reaches a stored page."""
    kept = {name: request.GET[name] for name in PAGE_PARAMETERS if name in request.GET}
    request.GET = QueryDict(urlencode(kept))


def _served(stored: tuple) -> HttpResponse:
    _version, content, headers = stored
    response = HttpResponse(content)
    for name, value in headers.items():
        response[name] = value
    return response


def _version_for(key: str, read: str | None) -> str | None:
    """The version a page anybody may be shown belongs to: the one read before its render,
    or for a campaign without one (new, or lost by the cache) a new one, created only if
    no change set one meanwhile (then this render may predate the change: None, not
    stored). Only such a page creates a version, so only a campaign that exists has one."""
    if read is not None:
        return read
    version = _new_version()
    try:
        return version if cache.add(key, version, VERSION_TIMEOUT) else None
    except Exception:
        logger.warning("Page cache unavailable; no version for %s", key, exc_info=True)
        return None


def _store(response: HttpResponse, page_key: str, version: str) -> tuple:
    set_response_etag(response)
    headers = {name: response[name] for name in KEPT_HEADERS if name in response}
    page = (version, response.content, headers)
    with contextlib.suppress(Exception):  # a page not stored is only rendered again
        cache.set(page_key, page, PAGE_SECONDS)
    return page


class _Flight:
    """One render of one page at one version in this process, and the threads waiting for
    it: they are handed the page the render stored (None if it stored none)."""

    _lock = threading.Lock()
    _flights: dict[tuple[str, str], _Flight] = {}

    def __init__(self) -> None:
        self.done = threading.Event()
        self.page: tuple | None = None

    @classmethod
    def join(cls, key: tuple[str, str]) -> tuple[_Flight, bool]:
        """The flight for this key, and whether the caller leads it (renders the page)."""
        with cls._lock:
            flight = cls._flights.get(key)
            if flight is not None:
                return flight, False
            flight = cls._flights[key] = cls()
            return flight, True

    @classmethod
    def land(cls, key: tuple[str, str], flight: _Flight, page: tuple | None) -> None:
        with cls._lock:
            cls._flights.pop(key, None)
        flight.page = page
        flight.done.set()


def _render(view, request: HttpRequest, slug: str, kwargs: dict, page_key, version_key, version):
    """Render the page, and store it if anybody may be shown it; returns (response, the
    stored (version, content, headers) or None)."""
    response = view(request, slug, **kwargs)
    if not shareable(request, response):
        return response, None
    version = _version_for(version_key, version)
    page = None
    if version is not None and page_key:
        page = _store(response, page_key, version)
    return response, page


def _origin_cached(view: Callable[..., HttpResponse], stored: bool) -> Callable:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str, **kwargs) -> HttpResponse:
        if stored:
            _keep_page_parameters(request)
        if _personal(request):
            return view(request, slug, **kwargs)
        version_key = _version_key(slug)
        page_key = _page_key(request, slug, kwargs) if stored else None
        try:
            found = cache.get_many([key for key in (version_key, page_key) if key])
        except Exception:  # the cache is down: render every time, as if nothing were kept
            logger.warning("Page cache unavailable; rendering %s afresh", slug, exc_info=True)
            return view(request, slug, **kwargs)
        version = found.get(version_key)
        page = found.get(page_key) if page_key else None
        if page is not None and version is not None and page[0] == version:
            return _served(page)
        if page_key is None or version is None:  # nothing to share a render with
            return _render(view, request, slug, kwargs, page_key, version_key, version)[0]
        # The version was read after every change committed before this request, so a
        # render that began at the same version shows them all.
        key = (page_key, version)
        flight, leads = _Flight.join(key)
        if not leads:
            if flight.done.wait(RENDER_WAIT_SECONDS) and flight.page is not None:
                return _served(flight.page)
            return _render(view, request, slug, kwargs, page_key, version_key, version)[0]
        page = None
        try:
            response, page = _render(view, request, slug, kwargs, page_key, version_key, version)
        finally:
            _Flight.land(key, flight, page)
        return response

    return wrapper


def campaign_page(view: Callable[..., HttpResponse] | None = None, *, stored: bool = False):
    """A public page of one campaign (a view taking `slug`): public headers, its tag (the
    view calls `config.httpcache.tag_response` with `campaign_tag`), its Last-Modified, and
    with `stored=True` kept at the origin (see the module)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return public_page(_origin_cached(view, stored))

    return decorator(view) if view is not None else decorator
