"""Headers that let a shared cache (a CDN, Varnish) keep the public pages, and purge them.

A public page is the same for everyone at its URL. Served to a visitor who is not signed in,
complete (200) and carrying nothing of theirs (no cookie set, no flash message, no CSRF
token), it says:

- `Cache-Control: public, max-age=0, s-maxage=<PUBLIC_PAGE_MAX_AGE>,
  stale-while-revalidate=<PUBLIC_PAGE_STALE_WHILE_REVALIDATE>`: a shared cache keeps it
  for minutes, a browser asks again every time (and gets a 304 from
  `ConditionalGetMiddleware` when nothing changed);
- `Surrogate-Key` (space-separated: Varnish's xkey, Fastly) and `Cache-Tag` (comma-separated:
  Cloudflare) naming what it shows, so that a change purges exactly its pages
  (config/purge.py).

Every other response keeps its own headers: a signed-in visitor's gets `private, no-store`
from SiteSecurityMiddleware, and nothing here can make it public.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import http_date

# The tag of pages that show the site as a whole (the home page's list of campaigns).
SITE_TAG = "site"


def tag_response(
    response: HttpResponse, tags: Iterable[str], *, changed: datetime.datetime | None = None
) -> HttpResponse:
    """Name what the page shows, for purging by tag: Surrogate-Key and Cache-Tag; and with
    `changed`, when what it shows last changed (Last-Modified).

    Cloudflare reads a comma-separated Cache-Tag (developers.cloudflare.com/cache/how-to/
    purge-cache/purge-by-tags/); Fastly and Varnish's xkey a space-separated Surrogate-Key
    (fastly.com/documentation/reference/http/http-headers/Surrogate-Key/)."""
    names = list(dict.fromkeys(tags))
    response["Surrogate-Key"] = " ".join(names)
    response["Cache-Tag"] = ",".join(names)
    if changed is not None:
        response["Last-Modified"] = http_date(changed.timestamp())
    return response


def shareable(request: HttpRequest, response: HttpResponse) -> bool:
    """Whether anybody may be shown this response: complete, for nobody signed in, and
    carrying nothing of its visitor's (a cookie, a flash message shown or queued, a CSRF
    token, which CsrfViewMiddleware would set in a cookie on the way out)."""
    messages = get_messages(request)  # the request's message storage, if any
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not getattr(messages, "used", False)
        and not getattr(messages, "added_new", False)
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        # Any session, signed in or not (a giver's after the donate form, an expired one):
        # reading it adds `Vary: Cookie`, and an expired one is cleared with a Set-Cookie.
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def make_public(response: HttpResponse) -> HttpResponse:
    """The Cache-Control of a page any shared cache may keep (see the module)."""
    patch_cache_control(
        response,
        public=True,
        max_age=0,
        s_maxage=settings.PUBLIC_PAGE_MAX_AGE,
        stale_while_revalidate=settings.PUBLIC_PAGE_STALE_WHILE_REVALIDATE,
    )
    return response


def public_page(
    view: Callable[..., HttpResponse] | None = None, *, tags: Iterable[str] = ()
) -> Callable:
    """Mark a view's page public for shared caches when `shareable` (see the module).

    The view names what its page shows with `tag_response`; `tags` adds fixed ones:
    `@public_page(tags=[SITE_TAG])` for a page of the site as a whole (privacy, contact).
    """
    fixed = list(tags)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            if not shareable(request, response):
                return response
            if fixed:
                shown = response.get("Surrogate-Key", "").split()
                tag_response(response, [*shown, *fixed])
            return make_public(response)

        return wrapper

    return decorator(view) if view is not None else decorator
