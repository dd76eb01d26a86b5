"""Signed webhook bodies with a valid signature but a shape we cannot read: 400, logged, and
nothing written (they used to end in a 500 that Stripe retried for days)."""

import logging
import sys
from decimal import Decimal

import pytest

from donations.models import Donation, DonationChange, StripeEvent
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(rates_today):
    return PendingOnlineDonationFactory(
        campaign=CampaignFactory(currency="USD"), amount=Decimal("25.00"), currency="USD"
    )


def _session(gift, **fields):
    session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
    session.update(fields)
    return session


def _charge(gift, **fields):
    charge = fakes.charge(donation=gift, amount=2500, currency="usd", amount_refunded=2500)
    charge.update(fields)
    return charge


def _without(obj: dict, key: str) -> dict:
    obj = dict(obj)
    del obj[key]
    return obj


MALFORMED = {
    "object is a string": lambda gift: fakes.event("checkout.session.completed", "cs_test_x"),
    "object is a list": lambda gift: fakes.event("checkout.session.completed", [_session(gift)]),
    "object is null": lambda gift: fakes.event("checkout.session.completed", None),
    "session without id": lambda gift: fakes.event(
        "checkout.session.completed", _without(_session(gift), "id")
    ),
    "amount_total not a number": lambda gift: fakes.event(
        "checkout.session.completed", _session(gift, amount_total="25.00")
    ),
    "amount_total a decimal": lambda gift: fakes.event(
        "checkout.session.completed", _session(gift, amount_total=25.5)
    ),
    "charge without currency": lambda gift: fakes.event(
        "charge.refunded", _without(_charge(gift), "currency")
    ),
    "dispute without charge": lambda gift: fakes.event(
        "charge.dispute.created", {**fakes.dispute(), "charge": None, "payment_intent": None}
    ),
    "metadata as a list": lambda gift: fakes.event(
        "charge.refunded", _charge(gift, metadata=[str(gift.id)])
    ),
    "event id over 255 characters": lambda gift: fakes.event(
        "checkout.session.expired",
        _session(gift, status="expired", payment_status="unpaid"),
        event_id="evt_" + "x" * 300,
    ),
    "session id with a NUL": lambda gift: fakes.event(
        "checkout.session.expired",
        _session(gift, id="cs_\x00", status="expired", payment_status="unpaid"),
    ),
    "currency of four letters": lambda gift: fakes.event(
        "checkout.session.completed", _session(gift, currency="usdt")
    ),
}


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_signed_event_of_a_malformed_shape_is_refused_logged_and_changes_nothing(
    client, stripe_http, gift, shape, caplog
):
    payload = MALFORMED[shape](gift)

    with caplog.at_level(logging.ERROR, logger="donations.views.payments"):
        response = fakes.deliver(client, payload)

    gift.refresh_from_db()
    assert response.status_code == 400
    assert "Refused a signed Stripe event" in caplog.text
    assert gift.status == Donation.Status.PENDING
    assert gift.amount_refunded == 0
    assert StripeEvent.objects.count() == 0
    assert DonationChange.objects.count() == 0
    assert stripe_http.requests == []


def test_a_nan_amount_in_a_signed_body_is_refused(client, stripe_http, gift):
    body, _header = fakes.signed(fakes.event("charge.refunded", _charge(gift)))
    body = body.replace('"amount_refunded": 2500', '"amount_refunded": NaN')

    response = client.post(
        "/stripe/webhook/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fakes.signed_header(body),
    )  # fmt: skip

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_a_signed_body_nested_past_the_recursion_limit_is_refused(client, stripe_http, gift):
    depth = sys.getrecursionlimit() + 100
    body = '{"id": "evt_deep", "data": ' + "[" * depth + "]" * depth + "}"

    response = client.post(
        "/stripe/webhook/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fakes.signed_header(body),
    )  # fmt: skip

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_an_unsigned_body_nested_past_the_recursion_limit_is_refused_unread(
    client, stripe_http, gift
):
    depth = 50 * sys.getrecursionlimit()
    body = "[" * depth + "]" * depth

    response = client.post(
        "/stripe/webhook/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fakes.signed_header("another body"),
    )  # fmt: skip

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0
