import datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from donations.models import Donation, Receipt, StripeEvent
from donations.services import online
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


def _gave_here(client, donation, at=None):
    """This test client's session started the gift, as the donate form records it."""
    session = client.session
    moment = at or timezone.now()
    session["gifts_started"] = {str(donation.pk): moment.timestamp()}
    session.save()


def _thanks(client, donation):
    return client.get(f"/donations/thanks/?session_id={donation.stripe_checkout_session_id}")


def test_thank_you_page_records_the_payment_before_the_webhook_arrives(client, stripe_http, gift):
    _stripe_has(stripe_http, gift)
    _gave_here(client, gift)

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
    _gave_here(client, gift)

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


def test_reloading_a_pending_gifts_page_asks_stripe_once_every_ten_seconds(
    client, stripe_http, gift
):
    _stripe_has(stripe_http, gift, payment_status="unpaid", intent_status="processing")
    session_path = f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"

    with time_machine.travel(timezone.now(), tick=False) as clock:
        burst = [_thanks(client, gift) for _ in range(40)]
        assert len(stripe_http.gets_of(session_path)) == 1
        _stripe_has(stripe_http, gift)  # paid meanwhile
        clock.shift(datetime.timedelta(seconds=online.SESSION_REREAD_SECONDS + 1))
        later = _thanks(client, gift)

    assert len(stripe_http.gets_of(session_path)) == 2
    assert all("Your payment is processing" in page.content.decode() for page in burst)
    assert "Your gift is confirmed" in later.content.decode()


def test_unknown_or_missing_session_is_not_found(client, stripe_http, gift):
    assert client.get("/donations/thanks/?session_id=cs_test_nobody").status_code == 404
    assert client.get("/donations/thanks/").status_code == 404
    assert stripe_http.requests == []


def test_the_giving_browser_sees_the_amount_and_its_email_masked(client, stripe_http, gift):
    _stripe_has(stripe_http, gift)
    _gave_here(client, gift)

    html = _thanks(client, gift).content.decode()

    assert gift.email not in html
    masked = f"{gift.email[0]}•••@{gift.email.split('@')[1][0]}•••.{gift.email.rsplit('.', 1)[1]}"
    assert f"A receipt is on its way to {masked}." in html
    assert "$25.00" in html


def test_anyone_else_with_the_link_sees_only_the_outcome(client, stripe_http, gift):
    _stripe_has(stripe_http, gift)

    html = _thanks(client, gift).content.decode()

    assert "Your gift is confirmed" in html
    assert gift.email not in html
    assert "•••" not in html
    assert "$25.00" not in html
    assert gift.giver_name not in html


def test_the_details_fade_an_hour_after_the_gift_started(client, stripe_http, gift):
    _stripe_has(stripe_http, gift)
    started = timezone.now()
    _gave_here(client, gift, at=started)

    with time_machine.travel(started + datetime.timedelta(minutes=59), tick=False):
        assert "•••" in _thanks(client, gift).content.decode()
    with time_machine.travel(started + datetime.timedelta(minutes=61), tick=False):
        later = _thanks(client, gift).content.decode()
    assert "•••" not in later and "$25.00" not in later


def test_the_donate_form_marks_its_browser_as_the_giver(client, demo_payments, rates_today):
    CampaignFactory(slug="caravan")
    start = client.post(
        "/c/caravan/donate/",
        {"amount": "30", "currency": "USD", "name": "Rosa", "email": "rosa@example.org"},
    )
    paid = client.post(start["Location"], {"action": "pay"})

    mine = client.get(paid["Location"]).content.decode()
    stranger = Client().get(paid["Location"]).content.decode()

    assert "r•••@e•••.org" in mine and "$30.00" in mine
    assert "r•••@e•••.org" not in stranger and "$30.00" not in stranger
    assert "rosa@example.org" not in mine + stranger
