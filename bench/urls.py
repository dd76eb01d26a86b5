"""The site's URLs plus the benchmark's baseline page; selected with ROOT_URLCONF=bench.urls.

The baseline is the cheapest page the stack can serve: a fixed 1 KB of HTML from a view that
reads nothing, behind the same middleware as every other page. The campaign page's
requests per second are reported as a ratio to it.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from django.views.decorators.http import require_safe
from django.views.static import serve

from config import urls as site_urls

_OPEN = '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Baseline</title></head>\n<body>\n<main>\n<p>'  # noqa: E501
_CLOSE = "</p>\n</main>\n</body>\n</html>\n"
_TEXT = "A fixed page of one kilobyte, for the benchmark baseline. " * 20
BASELINE_HTML = (_OPEN + _TEXT[: 1024 - len(_OPEN) - len(_CLOSE)] + _CLOSE).encode()
assert len(BASELINE_HTML) == 1024


@require_safe
def baseline(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BASELINE_HTML, content_type="text/html; charset=utf-8")


urlpatterns = [
    path("bench/baseline/", baseline, name="bench-baseline"),
    # Uploaded pictures: in production the proxy (or object storage) serves them; the
    # scratch sites of bench/ have no proxy, so Django does it here.
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    # The site's own patterns, as they are (not include()d: Django allows i18n_patterns, the
    # /es/ prefix, only in the root URLconf).
    *site_urls.urlpatterns,
]
