"""Error responses that Django sends without a body get the site's own page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
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
