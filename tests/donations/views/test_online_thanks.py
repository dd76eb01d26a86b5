from decimal import Decimal

import pytest

from donations.models import Donation, Receipt, StripeEvent
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(rates_today):
    return PendingOnlineDonationFactory(
        campaign=CampaignFactory(slug="caravan"), amount=Decimal("25.00"), currency="USD"
    )


def _stripe_has(fake, donation, *, payment_status="paid", intent_status="succeeded"):
    charge = None
    if payment_status == "paid":
        charge = fakes.charge(donation=donation, amount=2500, currency="usd")
    fake.sessions[donation.stripe_checkout_session_id] = fakes.checkout_session(
        donation=donation,
        amount_total=2500,
        currency="usd",
        payment_status=payment_status,
        payment_intent=fakes.expanded_intent(charge_obj=charge, status=intent_status),
    )


def _thanks(client, donation):
    return client.get(f"/donations/thanks/?session_id={donation.stripe_checkout_session_id}")


def test_thank_you_page_records_the_payment_before_the_webhook_arrives(client, stripe_http, gift):
    _stripe_has(stripe_http, gift)

    response = _thanks(client, gift)

    gift.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your gift is confirmed" in html
    assert "$25.00" in html
    assert "http://testserver/c/caravan/" in html  # the invitation to share
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.stripe_charge_id == "ch_fake_1"
    assert Receipt.objects.count() == 1


def test_thank_you_page_then_webhook_record_one_payment(client, stripe_http, gift):
    _stripe_has(stripe_http, gift)
    session = stripe_http.sessions[gift.stripe_checkout_session_id]

    _thanks(client, gift)
    fakes.deliver(client, fakes.event("checkout.session.completed", session))
    _thanks(client, gift)

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert Receipt.objects.count() == 1
    assert StripeEvent.objects.get().donation == gift
    assert Donation.objects.filter(status=Donation.Status.SUCCEEDED).count() == 1


def test_webhook_then_thank_you_page_shows_confirmed_without_asking_stripe_again(
    client, stripe_http, gift
):
    _stripe_has(stripe_http, gift)
    session = stripe_http.sessions[gift.stripe_checkout_session_id]
    fakes.deliver(client, fakes.event("checkout.session.completed", session))
    calls = len(stripe_http.requests)

    response = _thanks(client, gift)

    assert "Your gift is confirmed" in response.content.decode()
    assert len(stripe_http.requests) == calls
    assert Receipt.objects.count() == 1


def test_delayed_payment_shows_processing_and_what_happens_next(client, stripe_http, gift):
    _stripe_has(stripe_http, gift, payment_status="unpaid", intent_status="processing")

    response = _thanks(client, gift)

    html = response.content.decode()
    gift.refresh_from_db()
    assert "Your payment is processing" in html
    assert "we email your receipt" in html
    assert gift.status == Donation.Status.PENDING
    assert Receipt.objects.count() == 0


def test_stripe_not_answering_shows_processing_not_an_error(client, stripe_http, gift):
    stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"] = 400

    response = _thanks(client, gift)

    assert response.status_code == 200
    assert "Your payment is processing" in response.content.decode()


def test_unknown_or_missing_session_is_not_found(client, stripe_http, gift):
    assert client.get("/donations/thanks/?session_id=cs_test_nobody").status_code == 404
    assert client.get("/donations/thanks/").status_code == 404
    assert stripe_http.requests == []
