"""Site-wide views: the health check, the language switcher and the admin's "View on site"."""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.i18n import language_paths_of, prefixed_languages


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 while the database answers, 503 when it does not; the body has each dependency.

    The site works without the cache (slower, rate limits per process), so a cache outage
    shows as `"cache": false` but keeps 200: a container health check must not take a
    working site out of service. A cache that hangs costs its socket timeout once.
    """
    checks = {"database": False, "cache": False}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            checks["database"] = cursor.fetchone() == (1,)
    except Exception:  # any failure means the database is not answering
        checks["database"] = False
    try:
        cache.set("healthz", "ok", 5)
        checks["cache"] = cache.get("healthz") == "ok"
    except Exception:  # any failure means the cache is not answering
        checks["cache"] = False
    return JsonResponse(checks, status=200 if checks["database"] else 503)


@require_safe
def set_language(request: HttpRequest, code: str) -> HttpResponse:
    """Remember the chosen language in a cookie, then go back to a same-site `next`: to its
    page in that language when the path decides (a public page, the donate flow: /c/x/ or
    /es/c/x/), else to `next` itself, which then follows the cookie."""
    next_url = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    parts = urlsplit(next_url)
    if twin := language_paths_of(parts.path).get(code):
        next_url = urlunsplit(parts._replace(path=twin))
    response = HttpResponseRedirect(next_url)
    if code in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=True,
        )
    return response


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    """Crawlers may index the campaigns; the back office and personal pages are off limits."""
    lines = [
        "User-agent: *",
        f"Disallow: /{settings.ADMIN_URL}",
        "Disallow: /accounts/",
        "Disallow: /volunteer/",
        "Disallow: /organize/",
        "Disallow: /donations/",
        *(f"Disallow: /{code}/donations/" for code in prefixed_languages()),
        "Disallow: /stripe/",
        "Disallow: /lang/",
        "Allow: /",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


@require_safe
def admin_view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    """The admin's "View on site" (`<ADMIN_URL>r/<content type>/<id>/`), for an object that
    its model's admin shows this person, else 404. Django's own redirects any staff member to
    any object's page, telling them the address of another organizer's draft campaign.
    Each model's admin decides what it shows (its queryset and its view permission)."""
    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist as error:
        raise Http404("No such content type.") from error
    if model is None or not admin.site.is_registered(model):
        raise Http404("Not shown in the admin.")
    model_admin = admin.site.get_model_admin(model)
    try:
        obj = model_admin.get_queryset(request).filter(pk=object_id).first()
    except (ValueError, ValidationError) as error:
        raise Http404("No such object.") from error
    if obj is None or not model_admin.has_view_or_change_permission(request, obj):
        raise Http404("Not shown in the admin.")
    return contenttype_views.shortcut(request, content_type_id, object_id)
