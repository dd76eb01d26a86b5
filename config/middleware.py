"""Site-wide middleware: request guards and the site's own error pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.loader import render_to_string

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
