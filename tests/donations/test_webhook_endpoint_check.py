"""`payments_check` warns when the Stripe webhook endpoint lacks an event the site handles,
and the README lists exactly those events."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from donations.services.payments import HANDLED_EVENTS
from tests.donations import stripe_fakes as fakes

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
OURS = "http://testserver/stripe/webhook/"


def check() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("payments_check", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def readme_events() -> set[str]:
    text = README.read_text()
    section = text[text.index("- **Events to send**") : text.index("Copy the endpoint's")]
    return set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", section))


def test_the_readme_lists_exactly_the_events_the_webhook_handles():
    assert readme_events() == set(HANDLED_EVENTS)
    assert "invoice.payment_action_required" in readme_events()


def test_an_endpoint_lacking_an_event_the_readme_lists_is_warned_of(stripe_http):
    stripe_http.webhook_endpoints.append(
        fakes.webhook_endpoint(
            url=OURS, events=HANDLED_EVENTS - {"invoice.payment_action_required"}
        )
    )

    out, err = check()

    assert f"The Stripe webhook endpoint for {OURS} does not send " in err
    assert "invoice.payment_action_required: add them" in err
    assert "alerts sent" in out  # the rest of the check still ran
    assert stripe_http.gets_of("/v1/webhook_endpoints")


def test_an_endpoint_with_every_event_or_all_of_them_is_fine(stripe_http):
    stripe_http.webhook_endpoints.append(fakes.webhook_endpoint(url=OURS, events=HANDLED_EVENTS))
    assert check()[1] == ""

    stripe_http.webhook_endpoints[:] = [fakes.webhook_endpoint(url=OURS, events=["*"])]
    assert check()[1] == ""


def test_only_the_endpoint_sending_to_this_site_counts(stripe_http):
    stripe_http.webhook_endpoints.append(
        fakes.webhook_endpoint(url="https://elsewhere.example.org/stripe/webhook/", events=["*"])
    )

    assert f"No Stripe webhook endpoint sends to {OURS}" in check()[1]


def test_a_disabled_endpoint_is_warned_of(stripe_http):
    stripe_http.webhook_endpoints.append(
        fakes.webhook_endpoint(url=OURS, events=["*"], status="disabled")
    )

    assert f"The Stripe webhook endpoint for {OURS} is disabled" in check()[1]


def test_stripe_not_answering_is_a_warning_not_a_failure(stripe_http):
    stripe_http.errors["/v1/webhook_endpoints"] = 401

    out, err = check()

    assert "Could not list the Stripe webhook endpoints" in err
    assert "alerts sent" in out


def test_demo_mode_asks_stripe_nothing(demo_payments):
    out, err = check()

    assert err == "" and "alerts sent" in out
