"""The donations app's own system checks, run through Django's check framework."""

from django.core import checks
from django.test import override_settings


def check_ids() -> list[str]:
    return [message.id for message in checks.run_checks()]


@override_settings(CHECKOUT_RATE_LIMITS=["5/m", "twenty an hour"])
def test_the_app_refuses_malformed_checkout_rate_limits_at_start_up():
    errors = [message for message in checks.run_checks() if message.id == "solidaria.E003"]

    assert len(errors) == 1
    assert "twenty an hour" in errors[0].msg


@override_settings(CHECKOUT_RATE_LIMITS=["5/m", "20/h", "100/d", "2/30s"])
def test_the_app_accepts_well_formed_checkout_rate_limits():
    assert "solidaria.E003" not in check_ids()
