"""Site-wide request guards."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


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
