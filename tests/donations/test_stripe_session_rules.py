"""What every Checkout Session says for itself (Adaptive Pricing off, a short life, the
payment methods chosen, a statement descriptor), and the amounts Stripe cannot charge."""

import logging
import time
from decimal import Decimal

import pytest
import time_machine

from donations import stripe_gateway as gateway
from donations.models import Donation
from donations.services.online import gift_bounds
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, ExchangeRateFactory

pytestmark = pytest.mark.django_db


def _request(**overrides) -> gateway.CheckoutRequest:
    values = {
        "donation_id": "6b1f4f62-1d3b-4c3a-9a53-1f0cbd0fd7a1", "campaign_id": 7,
        "product_name": "Gift", "amount": Decimal("25.00"), "currency": "USD",
        "fee_cover_name": "Fees", "fee_cover_amount": Decimal(0), "email": "a@example.org",
        "language": "en", "success_url": "http://testserver/t", "cancel_url": "http://testserver/c",
        "statement_name": "Winter coats for new neighbors",
    }  # fmt: skip
    return gateway.CheckoutRequest(**(values | overrides))


def test_a_session_turns_adaptive_pricing_off_and_expires_within_the_setting(stripe_http, settings):
    settings.STRIPE_CHECKOUT_EXPIRES_MINUTES = 90
    before = int(time.time())

    gateway.create_checkout_session(_request())

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["adaptive_pricing[enabled]"] == "false"
    assert before + 90 * 60 <= int(form["expires_at"]) <= int(time.time()) + 90 * 60


@pytest.mark.parametrize(
    "minutes, life",
    [
        (30, 31 * 60),  # Stripe's earliest, plus the margin
        (31, 31 * 60),
        (32, 32 * 60),
        (1438, 1438 * 60),
        (1439, 1439 * 60),
        (1440, 1439 * 60),  # Stripe's latest, less the margin
    ],
)
def test_a_sessions_expiry_stays_a_minute_inside_stripes_limits(
    stripe_http, settings, minutes, life
):
    settings.STRIPE_CHECKOUT_EXPIRES_MINUTES = minutes
    with time_machine.travel(1_900_000_000, tick=False):
        gateway.create_checkout_session(_request())

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert int(form["expires_at"]) == 1_900_000_000 + life


def test_a_session_offers_only_the_listed_payment_methods_without_a_configuration(
    stripe_http, settings
):
    settings.STRIPE_PAYMENT_METHOD_CONFIGURATION = ""
    settings.STRIPE_PAYMENT_METHOD_TYPES = ["card", "us_bank_account"]

    gateway.create_checkout_session(_request())

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["payment_method_types[0]"] == "card"
    assert form["payment_method_types[1]"] == "us_bank_account"
    assert "payment_method_configuration" not in form


def test_a_payment_method_configuration_replaces_the_list(stripe_http, settings):
    settings.STRIPE_PAYMENT_METHOD_CONFIGURATION = "pmc_donations"

    gateway.create_checkout_session(_request())

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["payment_method_configuration"] == "pmc_donations"
    assert not any(key.startswith("payment_method_types") for key in form)


@pytest.mark.parametrize(
    "name, suffix",
    [
        ("Winter coats for new neighbors", "WINTER COA"),
        ("Ñandú <solidario> 'fund'", "NANDU SOLI"),
        ("Caravana * 2026", "CARAVANA 2"),
        ("\"<>'*", ""),
        ("2026", ""),
    ],
)
def test_the_statement_descriptor_suffix_names_the_campaign_in_what_banks_accept(
    stripe_http, name, suffix
):
    gateway.create_checkout_session(_request(statement_name=name))

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form.get("payment_intent_data[statement_descriptor_suffix]", "") == suffix
    assert gateway.statement_descriptor_suffix(name) == suffix


@pytest.mark.parametrize(
    "currency, per_euro",
    [("IDR", "16000"), ("KRW", "1400"), ("HUF", "390"), ("ISK", "150"), ("INR", "90"),
     ("MXN", "20.9438")],
)  # fmt: skip
def test_the_largest_gift_with_its_fee_cover_fits_stripes_eight_digits(currency, per_euro):
    today = ExchangeRateFactory(currency="USD").date
    ExchangeRateFactory(currency=currency, per_euro=Decimal(per_euro), date=today)

    _minimum, maximum = gift_bounds(currency=currency, on=today)

    from donations.services.online import fee_cover_estimate

    total = maximum + fee_cover_estimate(amount=maximum, currency=currency, on=today)
    assert gateway.to_stripe_units(total, currency) <= gateway.MAXIMUM_CHARGE_UNITS


def test_a_gift_over_stripes_maximum_is_refused_on_the_form_in_spanish_before_stripe(
    client, stripe_http, settings
):
    CampaignFactory(slug="mx", currency="MXN", accepted_currencies="USD")
    today = ExchangeRateFactory(currency="USD").date
    ExchangeRateFactory(currency="MXN", per_euro=Decimal("20.9438"), date=today)

    response = client.post(
        "/es/c/mx/donate/",
        {"amount": "1500000", "currency": "MXN", "name": "Ana", "email": "ana@example.org"},
    )

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["amount"])
    assert "La donación máxima en línea es de" in errors
    assert Donation.objects.count() == 0
    assert stripe_http.requests == []


def test_an_event_of_another_api_version_is_recorded_with_a_warning(client, stripe_http, caplog):
    payload = fakes.example("event")  # plan.created: ignored, but read
    payload["api_version"] = "2020-08-27"

    with caplog.at_level(logging.WARNING, logger="donations.stripe_gateway"):
        response = fakes.deliver(client, payload)

    assert response.status_code == 200
    assert "has API version 2020-08-27" in caplog.text


MONTHLY_GIFT_ID = "0c8a3c52-5a57-4d59-a6c3-8f8f3f5e2b10"


def test_a_monthly_gifts_charges_carry_the_suffix_through_their_product(stripe_http):
    gateway.create_checkout_session(_request(monthly_gift_id=MONTHLY_GIFT_ID))

    product = stripe_http.posts_to("/v1/products")[0].form
    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["mode"] == "subscription"
    assert (product["name"], product["statement_descriptor"]) == ("Gift", "WINTER COA")
    assert product["metadata[campaign_id]"] == "7"
    assert form["line_items[0][price_data][product]"] == product["id"]
    assert "line_items[0][price_data][product_data][name]" not in form
    # Checkout's payment_intent_data is for payment mode only; Stripe refuses it here.
    assert not any(key.startswith("payment_intent_data") for key in form)


def test_every_monthly_gift_of_a_campaign_uses_its_one_product(stripe_http):
    gateway.create_checkout_session(_request(monthly_gift_id=MONTHLY_GIFT_ID))
    gateway.create_checkout_session(
        _request(
            donation_id="1d7c9e0e-6f2b-4c55-8d0b-2b7b1f7f0a33", monthly_gift_id=MONTHLY_GIFT_ID
        )
    )

    sessions = stripe_http.posts_to("/v1/checkout/sessions")
    assert len(sessions) == 2  # Stripe refusing the product a second time is no failure
    assert len(stripe_http.products) == 1
    products = {session.form["line_items[0][price_data][product]"] for session in sessions}
    assert products == set(stripe_http.products)


def test_a_monthly_gift_whose_campaign_gives_no_suffix_keeps_an_inline_product(stripe_http):
    gateway.create_checkout_session(
        _request(monthly_gift_id=MONTHLY_GIFT_ID, statement_name="2026")
    )

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert not stripe_http.posts_to("/v1/products")
    assert form["line_items[0][price_data][product_data][name]"] == "Gift"


def test_a_monthly_checkout_is_not_opened_when_stripe_refuses_its_product(stripe_http):
    stripe_http.errors["/v1/products"] = 500

    with pytest.raises(gateway.GatewayError):
        gateway.create_checkout_session(_request(monthly_gift_id=MONTHLY_GIFT_ID))

    assert not stripe_http.posts_to("/v1/checkout/sessions")


def test_a_product_stripe_refuses_leaves_the_monthly_gift_without_its_suffix_not_refused(
    stripe_http, caplog
):
    stripe_http.errors["/v1/products"] = 400

    gateway.create_checkout_session(_request(monthly_gift_id=MONTHLY_GIFT_ID))

    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["line_items[0][price_data][product_data][name]"] == "Gift"
    assert "line_items[0][price_data][product]" not in form
    assert "no suffix this time" in caplog.text
