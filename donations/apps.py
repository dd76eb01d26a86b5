from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core import checks
from django.utils.translation import gettext_lazy as _


class DonationsConfig(AppConfig):
    name = "donations"
    verbose_name = _("Donations")

    def ready(self) -> None:
        from donations.checks import check_checkout_rate_limits

        checks.register(check_checkout_rate_limits)


class SolidariaAdminConfig(admin_apps.AdminConfig):
    """Django's admin on donations/sites.py's site (INSTALLED_APPS names it in place of
    django.contrib.admin); never the donations app's own configuration."""

    default = False
    default_site = "donations.sites.SolidariaAdminSite"
