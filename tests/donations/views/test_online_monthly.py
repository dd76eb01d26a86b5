"""Giving monthly from the donate form: the `frequency` field (CONTRACTS.md) and Checkout in
subscription mode, with the same rules as a gift given once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from donations.models import Donation, MonthlyGift
from tests.factories import CampaignFactory
from tests.html import attributes, texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(slug="coats", title="Winter coats", accepted_currencies="EUR,MXN,JPY")


def donate(client, **fields):
    data = {"amount": "25", "currency": "USD", "name": "Rosa", "email": "rosa@example.org"}
    return client.post(reverse("donations:donate", kwargs={"slug": "coats"}), data | fields)


def test_the_form_offers_once_checked_and_monthly_as_one_labelled_radio_group(client, campaign):
    html = client.get(reverse("donations:donate", kwargs={"slug": "coats"})).content.decode()

    radios = attributes(html, "fieldset.field-frequency input[name=frequency]")
    assert [(radio["value"], "checked" in radio) for radio in radios] == [
        ("once", True),
        ("monthly", False),
    ]
    assert texts(html, "fieldset.field-frequency legend") == ["How often"]
    assert texts(html, "fieldset.field-frequency label") == ["Once", "Every month"]
    labels = attributes(html, "fieldset.field-frequency label")
    assert [label["for"] for label in labels] == [radio["id"] for radio in radios]


def test_a_monthly_gift_opens_checkout_in_subscription_mode_with_an_inline_monthly_price(
    client, stripe_http, campaign
):
    response = donate(client, frequency="monthly", cover_fees="on")

    assert response.status_code == 303
    gift = MonthlyGift.objects.get()
    first = Donation.objects.get()
    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["mode"] == "subscription"
    assert form["line_items[0][price_data][recurring][interval]"] == "month"
    assert form["line_items[0][price_data][unit_amount]"] == "2500"
    product = stripe_http.products[form["line_items[0][price_data][product]"]]
    assert product["name"] == "Monthly gift to Winter coats"  # carrying the statement suffix
    assert form["line_items[1][price_data][recurring][interval]"] == "month"  # the fee cover
    assert form["subscription_data[metadata][monthly_gift_id]"] == str(gift.pk)
    assert form["subscription_data[metadata][donation_id]"] == str(first.pk)
    assert not any(key.startswith("payment_intent_data") for key in form)
    assert "submit_type" not in form
    assert (gift.status, gift.amount, gift.currency) == ("pending", Decimal("25.00"), "USD")
    assert gift.fee_cover_amount == first.fee_cover_amount > 0
    assert first.monthly_gift == gift
    assert gift.stripe_checkout_session_id == first.stripe_checkout_session_id
    assert response["Location"].endswith(first.stripe_checkout_session_id)


def test_a_gift_given_once_is_still_a_one_off_payment(client, stripe_http, campaign):
    donate(client)
    donate(client, frequency="once", email="sam@example.org")

    modes = [r.form["mode"] for r in stripe_http.posts_to("/v1/checkout/sessions")]
    assert modes == ["payment", "payment"]
    assert not MonthlyGift.objects.exists()


@pytest.mark.parametrize(
    ("currency", "amount", "unit_amount"), [("EUR", "30", "3000"), ("JPY", "4000", "4000")]
)
def test_monthly_gifts_take_every_accepted_currency(
    client, stripe_http, campaign, currency, amount, unit_amount
):
    response = donate(client, frequency="monthly", currency=currency, amount=amount)

    assert response.status_code == 303
    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    assert form["line_items[0][price_data][currency]"] == currency.lower()
    assert form["line_items[0][price_data][unit_amount]"] == unit_amount
    assert MonthlyGift.objects.get().currency == currency


def test_monthly_gifts_keep_the_bounds_of_a_gift_given_once(client, stripe_http, campaign):
    response = donate(client, frequency="monthly", amount="1")

    assert response.status_code == 200
    assert texts(response.content.decode(), ".error-summary li") == [
        "Amount: The smallest gift online is $5.00."
    ]
    assert not MonthlyGift.objects.exists()
    assert stripe_http.posts_to("/v1/checkout/sessions") == []


def test_an_unknown_frequency_is_an_error_linked_from_the_summary(client, stripe_http, campaign):
    response = donate(client, frequency="weekly")

    html = response.content.decode()
    assert response.status_code == 200
    links = attributes(html, ".error-summary a")
    assert [link["href"] for link in links] == ["#id_frequency_0"]
    assert "Choose to give once or every month." in texts(html, ".error-summary li")[0]
    assert not Donation.objects.exists()


def test_stripe_refusing_the_session_ends_the_monthly_gift_before_it_starts(
    client, stripe_http, campaign
):
    stripe_http.errors["/v1/checkout/sessions"] = 400

    response = donate(client, frequency="monthly")

    assert response.status_code == 200
    gift = MonthlyGift.objects.get()
    assert (gift.status, gift.end_reason) == ("expired", "checkout")
    assert Donation.objects.get().status == Donation.Status.FAILED


def test_coming_back_from_checkout_fills_the_form_in_as_monthly_again(
    client, stripe_http, campaign
):
    donate(client, frequency="monthly")

    html = client.get(
        reverse("donations:donate", kwargs={"slug": "coats"}) + "?resume=1"
    ).content.decode()

    checked = [r["value"] for r in attributes(html, "input[name=frequency]") if "checked" in r]
    assert checked == ["monthly"]
