"""The gateway reads Stripe's subscriptions and invoices in the shape of the pinned API
version: an invoice's subscription under `parent`, its payment under `payments`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from donations import stripe_gateway as gateway
from donations.models import MonthlyGift
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift():
    return MonthlyGift(campaign=CampaignFactory(), currency="USD", amount=Decimal("25.00"))


def test_stripes_example_invoice_is_read_from_parent_and_payments(gift):
    obj = fakes.invoice(gift=gift, invoice_id="in_1", amount=2500, payment_intent_id="pi_1")

    facts = gateway.invoice_facts(obj)

    assert facts.subscription_id == "sub_fake_1"
    assert facts.monthly_gift_id == str(gift.pk)
    assert (facts.amount_paid, facts.currency, facts.paid) == (Decimal("25.00"), "USD", True)
    assert facts.payment_intent_id == "pi_1"
    assert facts.billing_reason == "subscription_cycle"
    assert "charge" not in obj and "subscription" not in obj  # the shape we pin has neither


def test_an_invoice_of_an_older_api_version_is_still_read(gift):
    obj = fakes.invoice(gift=gift, invoice_id="in_old", amount=2500, with_payments=False)
    obj.update(parent=None, subscription="sub_old", payment_intent="pi_old")

    facts = gateway.invoice_facts(obj)

    assert (facts.subscription_id, facts.payment_intent_id) == ("sub_old", "pi_old")


def test_a_zero_decimal_invoice_keeps_whole_units(gift):
    facts = gateway.invoice_facts(
        fakes.invoice(gift=gift, invoice_id="in_jpy", amount=4000, currency="jpy")
    )

    assert (facts.amount_paid, facts.currency) == (Decimal("4000"), "JPY")


@pytest.mark.parametrize(
    ("status", "cancel_at_period_end", "state"),
    [
        ("active", False, gateway.SubscriptionState.ACTIVE),
        ("active", True, gateway.SubscriptionState.ENDING),
        ("past_due", False, gateway.SubscriptionState.PAST_DUE),
        ("unpaid", False, gateway.SubscriptionState.UNPAID),  # not retrying: not active
        ("paused", False, gateway.SubscriptionState.PAUSED),
        ("canceled", True, gateway.SubscriptionState.CANCELED),
        ("incomplete_expired", False, gateway.SubscriptionState.EXPIRED),
        ("incomplete", False, gateway.SubscriptionState.STARTING),
    ],
)
def test_subscription_states(gift, status, cancel_at_period_end, state):
    obj = fakes.subscription(
        gift=gift,
        status=status,
        cancel_at_period_end=cancel_at_period_end,
        period_end=1_900_000_000,
    )

    facts = gateway.subscription_facts(obj)

    assert (facts.state, facts.paid_through) == (state, 1_900_000_000)
    assert facts.monthly_gift_id == str(gift.pk)


def test_an_unknown_subscription_status_is_a_malformed_event(gift):
    obj = fakes.subscription(gift=gift)
    obj["status"] = "exploded"

    with pytest.raises(gateway.MalformedEventError):
        gateway.webhook_event(fakes.event("customer.subscription.updated", obj))


def test_retrieving_an_invoice_asks_for_its_payments_then_its_charge(stripe_http, gift):
    stripe = fakes.MonthlyStripe(stripe_http, gift)
    stripe.pay(1)

    facts = gateway.retrieve_invoice("in_month_1")

    assert facts.charge.charge_id == "ch_month_1"
    assert facts.charge.settlement.fee == Decimal("1.03")
    invoice_call, intent_call = stripe_http.requests
    assert invoice_call.path == "/v1/invoices/in_month_1"
    assert invoice_call.query["expand[0]"] == ["payments"]
    assert intent_call.path == "/v1/payment_intents/pi_month_1"
    assert intent_call.query["expand[0]"] == ["latest_charge.balance_transaction"]


def test_a_subscription_session_names_its_subscription_and_first_invoice(gift):
    donation = type("Gift", (), {"id": gift.pk, "campaign_id": gift.campaign_id,
                                 "stripe_checkout_session_id": "cs_monthly"})()  # fmt: skip
    subscription = fakes.subscription(gift=gift, latest_invoice="in_first")
    session = fakes.monthly_session(
        donation=donation, amount_total=2500, subscription_obj=subscription
    )

    facts = gateway.checkout_facts(session)

    assert facts.monthly
    assert (facts.subscription_id, facts.invoice_id) == ("sub_fake_1", "in_first")
    assert facts.outcome == gateway.CheckoutOutcome.PAID


@pytest.mark.parametrize(
    "url, read",
    [
        (
            "https://invoice.stripe.com/i/acct_1/live_x",
            "https://invoice.stripe.com/i/acct_1/live_x",
        ),
        (None, None),
        ("http://invoice.stripe.com/i/acct_1/live_x", None),
        ("javascript:alert(1)", None),
        ("https://invoice.stripe.com/i/a b", None),
        ("https://invoice.stripe.com/" + "x" * 3000, None),
        (42, None),
    ],
)
def test_an_invoices_page_is_read_only_as_an_https_address(gift, url, read):
    obj = fakes.invoice(gift=gift, invoice_id="in_1", amount=2500, status="open")
    obj["hosted_invoice_url"] = url

    assert gateway.invoice_facts(obj).hosted_invoice_url == read
