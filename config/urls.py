from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from config import accounts, views

# The admin's sign-in asks for an authenticator code too (config/accounts.py).
admin.site.login_form = accounts.AdminSignInForm

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots_txt, name="robots-txt"),
    path("lang/<str:code>/", views.set_language, name="set-language"),
    # Before the admin's own "View on site", which would redirect to any object's page.
    path(
        f"{settings.ADMIN_URL}r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(views.admin_view_on_site),
    ),
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/login/", accounts.SignInView.as_view(), name="login"),
    path(
        "accounts/password_reset/",
        accounts.LimitedPasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/two-factor/", accounts.two_factor, name="two-factor"),
    path("accounts/", include("django.contrib.auth.urls")),
    # The private pages, and the donate flow under /es/ too (donations/urls.py).
    path("", include("donations.urls")),
    # The public pages: English at these paths, Spanish under /es/ (CONTRACTS.md, "Languages").
    *i18n_patterns(path("", include("campaigns.urls")), prefix_default_language=False),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
