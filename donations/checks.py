"""The donations app's own system checks, registered in DonationsConfig.ready()."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured

from donations.throttle import parse_rates


def check_checkout_rate_limits(app_configs=None, **kwargs) -> list[Error]:
    """A malformed CHECKOUT_RATE_LIMITS fails at start-up, not on the first gift."""
    try:
        parse_rates(settings.CHECKOUT_RATE_LIMITS)
    except ImproperlyConfigured as error:
        return [Error(str(error), id="solidaria.E003")]
    return []
