import json
from decimal import Decimal

import pytest

from donations import stripe_gateway as gateway
from tests.donations import stripe_fakes


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("10.50", "USD", 1050),
        ("0.01", "EUR", 1),
        ("500", "JPY", 500),
        ("1200", "KRW", 1200),
        ("5", "ISK", 500),
        ("1000", "HUF", 100000),
        ("100000.00", "USD", 10000000),
    ],
)
def test_amounts_become_stripe_integer_units(amount, currency, units):
    assert gateway.to_stripe_units(Decimal(amount), currency) == units
    assert gateway.from_stripe_units(units, currency) == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "currency"), [("500.5", "JPY"), ("10.001", "USD"), ("5.50", "ISK")]
)
def test_amounts_stripe_cannot_charge_exactly_are_refused_not_rounded(amount, currency):
    with pytest.raises(gateway.StripeAmountError):
        gateway.to_stripe_units(Decimal(amount), currency)


def test_charge_decimals_follow_stripe_not_cldr():
    assert gateway.charge_decimals("USD") == 2
    assert gateway.charge_decimals("JPY") == 0
    assert gateway.charge_decimals("HUF") == 0
    assert gateway.charge_decimals("MXN") == 2


def test_minimum_charge_comes_from_stripes_table_or_is_unknown():
    assert gateway.minimum_charge("USD") == Decimal("0.50")
    assert gateway.minimum_charge("JPY") == Decimal("50")
    assert gateway.minimum_charge("ZAR") is None


def _request(**overrides) -> gateway.CheckoutRequest:
    values = {
        "donation_id": "6b1f4f62-1d3b-4c3a-9a53-1f0cbd0fd7a1",
        "campaign_id": 7,
        "product_name": "Gift to Caravan",
        "amount": Decimal("25.50"),
        "currency": "USD",
        "fee_cover_name": "Fees",
        "fee_cover_amount": Decimal(0),
        "email": "ana@example.org",
        "language": "es",
        "success_url": "http://testserver/donations/thanks/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://testserver/c/caravan/donate/",
    }
    return gateway.CheckoutRequest(**(values | overrides))


def test_checkout_session_is_created_with_exact_integer_amount_and_ids(stripe_http):
    session = gateway.create_checkout_session(_request())

    (sent,) = stripe_http.posts_to("/v1/checkout/sessions")
    form = sent.form
    assert session.url == f"{stripe_fakes.CHECKOUT_URL}{session.session_id}"
    assert form["mode"] == "payment"
    assert form["submit_type"] == "donate"
    assert form["line_items[0][price_data][unit_amount]"] == "2550"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][quantity]"] == "1"
    assert "line_items[1][price_data][unit_amount]" not in form
    assert form["customer_email"] == "ana@example.org"
    assert form["client_reference_id"] == "6b1f4f62-1d3b-4c3a-9a53-1f0cbd0fd7a1"
    assert form["metadata[donation_id]"] == "6b1f4f62-1d3b-4c3a-9a53-1f0cbd0fd7a1"
    assert form["metadata[campaign_id]"] == "7"
    assert form["payment_intent_data[metadata][donation_id]"] == form["metadata[donation_id]"]
    assert form["locale"] == "es"
    assert form["success_url"].endswith("?session_id={CHECKOUT_SESSION_ID}")
    assert sent.headers["Idempotency-Key"] == "checkout-6b1f4f62-1d3b-4c3a-9a53-1f0cbd0fd7a1"
    assert sent.headers["Authorization"] == f"Bearer {stripe_fakes.SECRET_KEY}"


def test_fee_cover_is_its_own_line_item(stripe_http):
    gateway.create_checkout_session(
        _request(amount=Decimal("3000"), currency="JPY", fee_cover_amount=Decimal("120"))
    )

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["line_items[0][price_data][unit_amount]"] == "3000"
    assert form["line_items[1][price_data][unit_amount]"] == "120"
    assert form["line_items[1][price_data][product_data][name]"] == "Fees"


def test_stripe_api_base_setting_redirects_api_calls(stripe_http, settings):
    settings.STRIPE_API_BASE = "http://stripe-mock.internal:12111"

    gateway.create_checkout_session(_request())

    assert stripe_http.requests[0].url.startswith("http://stripe-mock.internal:12111/v1/")


def test_stripe_refusing_a_session_raises_gateway_error(stripe_http):
    stripe_http.errors["/v1/checkout/sessions"] = 400

    with pytest.raises(gateway.GatewayError):
        gateway.create_checkout_session(_request())


def test_retrieved_session_reads_charge_and_settlement_without_floats(stripe_http):
    class Gift:
        id = "6b1f4f62-1d3b-4c3a-9a53-1f0cbd0fd7a1"
        campaign_id = 7
        stripe_checkout_session_id = "cs_test_read"

    txn = stripe_fakes.balance_transaction(
        amount=2713, currency="usd", fee=109, exchange_rate=1.0851
    )
    charge = stripe_fakes.charge(donation=Gift, amount=2500, currency="eur", settlement=txn)
    session = stripe_fakes.checkout_session(
        donation=Gift,
        amount_total=2500,
        currency="eur",
        payment_intent=stripe_fakes.expanded_intent(charge_obj=charge),
    )
    stripe_http.sessions["cs_test_read"] = session

    facts = gateway.retrieve_checkout_session("cs_test_read")

    assert facts.outcome == gateway.CheckoutOutcome.PAID
    assert facts.amount_total == Decimal("25.00")
    assert facts.currency == "EUR"
    assert facts.charge.charge_id == "ch_fake_1"
    assert facts.charge.settlement == gateway.Settlement(
        amount=Decimal("27.13"),
        currency="USD",
        exchange_rate=Decimal("1.0851"),
        fee=Decimal("1.09"),
        net=Decimal("26.04"),
    )
    query = stripe_http.requests[0].query
    assert [query[f"expand[{n}]"][0] for n in range(len(gateway.SESSION_EXPAND))] == list(
        gateway.SESSION_EXPAND
    )


def test_webhook_event_with_a_wrong_signature_is_refused(settings):
    settings.STRIPE_WEBHOOK_SECRET = stripe_fakes.WEBHOOK_SECRET
    body, header = stripe_fakes.signed(stripe_fakes.example("event"), secret="whsec_other")

    with pytest.raises(gateway.InvalidWebhookError):
        gateway.construct_webhook_event(payload=body.encode(), signature=header)


def test_webhook_event_is_read_into_facts(settings):
    settings.STRIPE_WEBHOOK_SECRET = stripe_fakes.WEBHOOK_SECRET
    dispute = stripe_fakes.dispute(status="lost")
    body, header = stripe_fakes.signed(stripe_fakes.event("charge.dispute.closed", dispute))

    event = gateway.construct_webhook_event(payload=body.encode(), signature=header)

    assert event.type == "charge.dispute.closed"
    assert event.dispute == gateway.DisputeFacts(dispute["id"], "ch_fake_1", "lost")
    assert json.loads(body)["id"] == event.event_id
