"""Values every template may use, the same for every visitor of a page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest

# Query parameters that change what a page shows; anything else (fbclid, utm_*, ...) is
# left out of links built from the current address, so cached pages are alike for all.
MEANINGFUL_PARAMETERS = ("after", "member")


def page_path(request: HttpRequest) -> dict:
    """`page_path`: this page's path with only its meaningful query parameters."""
    kept = {name: request.GET[name] for name in MEANINGFUL_PARAMETERS if name in request.GET}
    return {"page_path": request.path + (f"?{urlencode(kept)}" if kept else "")}
