from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class DonationsConfig(AppConfig):
    name = "donations"
    verbose_name = _("Donations")

    def ready(self) -> None:
        from donations.checks import check_checkout_rate_limits

        checks.register(check_checkout_rate_limits)
