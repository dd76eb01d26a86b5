"""Values every template may use, the same for every visitor of a page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language_info

from config.i18n import language_paths

# Query parameters that change what a page shows; anything else (fbclid, utm_*, ...) is
# left out of links built from the current address, so cached pages are alike for all.
MEANINGFUL_PARAMETERS = ("after", "member", "page")


def _meaningful_query(request: HttpRequest) -> str:
    kept = {name: request.GET[name] for name in MEANINGFUL_PARAMETERS if name in request.GET}
    return f"?{urlencode(kept)}" if kept else ""


def page_path(request: HttpRequest) -> dict:
    """`page_path`: this page's path with only its meaningful query parameters."""
    return {"page_path": request.path + _meaningful_query(request)}


def page_languages(request: HttpRequest) -> dict:
    """`page_languages`: where a page whose path decides its language (a public page, the
    donate flow) is in each language: the code, the language's own name, the path (for the
    language switcher) and the absolute URL (for `hreflang`). Empty on every other page,
    whose language switcher goes through /lang/<code>/ (it sets the cookie they follow)."""
    match = request.resolver_match
    paths = language_paths(match.view_name, match.args, match.kwargs) if match else {}
    query = _meaningful_query(request)
    return {
        "page_languages": [
            {
                "code": code,
                "name_local": get_language_info(code)["name_local"],
                "path": path + query,
                "is_default": code == settings.LANGUAGE_CODE,
                "url": settings.SITE_URL + path + query,
            }
            for code, path in paths.items()
        ]
    }
