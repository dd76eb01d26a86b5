"""Site-wide request handling that no single view owns.

- `ForwardedHeadersMiddleware` (first): X-Forwarded-Proto and X-Forwarded-For count only when
  the connection comes from a proxy in FORWARDED_ALLOW_IPS; from anyone else they are dropped
  before Django's SecurityMiddleware (SECURE_PROXY_SSL_HEADER) could believe them.
- `SiteSecurityMiddleware`: the Permissions-Policy header on every response; no caching of a
  signed-in person's pages, nor of any page that did not say how it may be cached (public
  pages do: config/httpcache.py), with `Cache-Control: private, no-store`; a log line for
  every refusal (403).
- `TwoFactorRequiredMiddleware`: with TWO_FACTOR_REQUIRED_FOR_SUPERUSERS, a superuser whose
  session has not passed two-factor sign-in can only reach the two-factor page (to turn it
  on, or to enter a code) and sign out.
- `RefuseNulCharactersMiddleware`: a URL holding a NUL character is a 400 before any view
  runs (PostgreSQL cannot store NUL in text).
- `ErrorPageMiddleware`: Django's bodiless 405 (and any bare 429) gets the site's own page.
- `LanguageMiddleware`: Django's LocaleMiddleware, except that the path decides the language
  only where it can (CONTRACTS.md, "Languages").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from config.clients import client_ip, from_trusted_proxy
from config.i18n import path_decides_language
from config.twofactor import two_factor_missing

security_log = logging.getLogger("solidaria.security")


def _signed_in(request: HttpRequest) -> bool:
    # Without a session cookie nobody is signed in; checking the cookie first keeps anonymous
    # pages free of a session lookup (and of the `Vary: Cookie` it would add).
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


FORWARDED_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST")


class ForwardedHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not from_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)


class SiteSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        signed_in = _signed_in(request)
        if signed_in or not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        if response.status_code == 403:
            security_log.warning(
                "refused status=403 method=%s path=%s user=%s ip=%s",
                request.method,
                request.path,
                request.user.pk if signed_in else "-",
                client_ip(request),
            )
        return response


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            _signed_in(request)
            and two_factor_missing(request.user)
            and request.path not in {reverse("two-factor"), reverse("logout")}
        ):
            return redirect("two-factor")
        return self.get_response(request)


# Statuses Django's own views answer with an empty body (require_http_methods: 405) or that a
# limiter may send bare (429); the others have handler templates (400, 403, 404, 500).
DESIGNED_STATUSES = (405, 429)


class ErrorPageMiddleware:
    """Give an empty 405 or 429 the designed page, in the visitor's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code in DESIGNED_STATUSES
            and not response.streaming
            and not response.content
        ):
            response.content = render_to_string(
                f"{response.status_code}.html", request=request
            ).encode()
            response["Content-Type"] = "text/html; charset=utf-8"
        return response


def _has_nul(text: str) -> bool:
    return "\x00" in text


class RefuseNulCharactersMiddleware:
    """Answer 400 to a URL whose path or query string holds a NUL character.

    PostgreSQL cannot store NUL in text, so any view that looked such a value up would end in
    a database error and a 500. Form fields already refuse it (Django's CharField validates
    against it); this covers what views read straight from the URL (`?session_id=`,
    `?member=`, `?after=`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request.path) or any(
            _has_nul(key) or any(_has_nul(value) for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest("A NUL character is not allowed in a URL.")
        return self.get_response(request)


class LanguageMiddleware(LocaleMiddleware):
    """The language of a request: its path's where the path decides, else the visitor's.

    A page under a language prefix (/es/...) is in that language, and the unprefixed path of a
    page that also answers under a prefix (the public pages, the donate flow) is English: one
    URL, one page, so these responses vary on neither Accept-Language nor Cookie and a shared
    cache may keep them. Every other page (sign-in, volunteer, organizer, donor, admin) has one
    path for all languages and follows the cookie that /lang/<code>/ sets, then
    Accept-Language, then English, and says it varies on Accept-Language.

    Django's own LocaleMiddleware makes every unprefixed path English once i18n_patterns are
    used, and adds `Vary: Accept-Language` to those pages too.
    """

    def process_request(self, request: HttpRequest) -> None:
        request.language_from_path = path_decides_language(request.path_info)
        if request.language_from_path:
            language = translation.get_language_from_path(request.path_info)
        else:
            language = translation.get_language_from_request(request)
        translation.activate(language or settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not getattr(request, "language_from_path", False):
            patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
