"""Site-wide request handling that no single view owns.

- `ForwardedHeadersMiddleware` (first): X-Forwarded-Proto and X-Forwarded-For count only when
  the connection comes from a proxy in FORWARDED_ALLOW_IPS; from anyone else they are dropped
  before Django's SecurityMiddleware (SECURE_PROXY_SSL_HEADER) could believe them.
- `SiteSecurityMiddleware`: the Permissions-Policy header on every response; no caching of a
  signed-in person's pages (`Cache-Control: no-store`); a log line for every refusal (403).
- `TwoFactorRequiredMiddleware`: with TWO_FACTOR_REQUIRED_FOR_SUPERUSERS, a superuser whose
  session has not passed two-factor sign-in can only reach the two-factor page (to turn it
  on, or to enter a code) and sign out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from config.clients import client_ip, from_trusted_proxy
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
        if signed_in:
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
