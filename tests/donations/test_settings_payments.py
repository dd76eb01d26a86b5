import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO_REFUSED = "STRIPE_SECRET_KEY is not set and DEBUG is off"


def _check(**environment: str) -> subprocess.CompletedProcess:
    """Run `manage.py check` in a fresh process: settings are read once, at start-up."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STRIPE_")}
    env.pop("PAYMENTS_DEMO", None)
    env |= {
        "DEBUG": "false",
        "SECRET_KEY": "a-test-secret-that-is-long-enough-for-the-check-framework-0123456789",
        "ALLOWED_HOSTS": "example.org",
        "SITE_URL": "https://example.org",
        "CACHE_URL": "redis://127.0.0.1:6379",  # read by the check, never connected to
        **environment,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_mode_with_debug_off_fails_at_start_up_with_a_clear_message():
    result = _check()

    assert result.returncode != 0
    assert DEMO_REFUSED in result.stderr
    assert "PAYMENTS_DEMO=true" in result.stderr


def test_demo_mode_with_debug_off_starts_when_payments_demo_is_set():
    result = _check(PAYMENTS_DEMO="true")

    assert DEMO_REFUSED not in result.stderr
    assert result.returncode == 0, result.stderr


def test_a_stripe_key_with_debug_off_needs_no_demo_flag():
    result = _check(STRIPE_SECRET_KEY="sk_test_anything", STRIPE_WEBHOOK_SECRET="whsec_x")

    assert DEMO_REFUSED not in result.stderr
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", [None, "", "sk_test_not_a_webhook_secret", "whsec"])
def test_a_stripe_key_without_a_webhook_signing_secret_refuses_to_start(secret):
    environment = {"STRIPE_SECRET_KEY": "sk_test_anything"}
    if secret is not None:
        environment["STRIPE_WEBHOOK_SECRET"] = secret

    result = _check(**environment)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "STRIPE_WEBHOOK_SECRET must be the webhook endpoint's signing secret" in result.stderr


@pytest.mark.parametrize("minutes", ["29", "1441"])
def test_a_checkout_expiry_stripe_refuses_stops_the_start(minutes):
    result = _check(PAYMENTS_DEMO="true", STRIPE_CHECKOUT_EXPIRES_MINUTES=minutes)

    assert result.returncode != 0
    assert "STRIPE_CHECKOUT_EXPIRES_MINUTES must be between 30 and 1440" in result.stderr
