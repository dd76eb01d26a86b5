import logging
import time
from decimal import Decimal

import pytest

from donations.models import Donation, Receipt, StripeEvent, WebhookDelivery
from donations.selectors.givers import campaign_totals
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(rates_today):
    """A pending USD 25.00 gift to a USD campaign, waiting at Stripe Checkout."""
    return PendingOnlineDonationFactory(
        campaign=CampaignFactory(currency="USD"), amount=Decimal("25.00"), currency="USD"
    )


def _stripe_has_paid(fake, donation, *, amount: int = 2500, currency: str = "usd", **charge):
    """What Stripe answers when asked about the session after payment."""
    settlement = charge.pop("settlement", None)
    charge_obj = fakes.charge(
        donation=donation, amount=amount, currency=currency, settlement=settlement, **charge
    )
    fake.sessions[donation.stripe_checkout_session_id] = fakes.checkout_session(
        donation=donation,
        amount_total=amount,
        currency=currency,
        payment_intent=fakes.expanded_intent(charge_obj=charge_obj),
    )
    return charge_obj


def _completed(donation, *, payment_status="paid", amount=2500, currency="usd", **kwargs):
    session = fakes.checkout_session(
        donation=donation, amount_total=amount, currency=currency, payment_status=payment_status
    )
    return fakes.event("checkout.session.completed", session, **kwargs)


def _session_event(event_type, donation, **session_fields):
    session = fakes.checkout_session(
        donation=donation, amount_total=2500, currency="usd", **session_fields
    )
    return fakes.event(event_type, session)


def _expired(donation):
    return _session_event(
        "checkout.session.expired", donation, status="expired", payment_status="unpaid"
    )


def test_paid_checkout_records_the_gift_with_stripe_facts_and_queues_a_receipt(
    client, stripe_http, gift
):
    txn = fakes.balance_transaction(amount=2500, currency="usd", fee=103)
    _stripe_has_paid(stripe_http, gift, settlement=txn)

    response = fakes.deliver(client, _completed(gift))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.amount_charged == Decimal("25.00")
    assert gift.currency_charged == "USD"
    assert gift.stripe_payment_intent_id == "pi_fake_1"
    assert gift.stripe_charge_id == "ch_fake_1"
    assert gift.settlement_amount == Decimal("25.00")
    assert gift.settlement_currency == "USD"
    assert gift.stripe_fee == Decimal("1.03")
    assert gift.net_amount == Decimal("23.97")
    assert gift.amount_converted == Decimal("25.00")
    assert gift.rate_source == Donation.RateSource.SAME_CURRENCY
    assert Receipt.objects.filter(donation=gift, status=Receipt.Status.QUEUED).count() == 1
    assert StripeEvent.objects.get().donation == gift
    assert campaign_totals(campaign=gift.campaign).raised == Decimal("25.00")


def test_duplicate_webhook_is_recorded_once(client, stripe_http, gift):
    _stripe_has_paid(stripe_http, gift)
    payload = _completed(gift, event_id="evt_same")

    first = fakes.deliver(client, payload)
    second = fakes.deliver(client, payload)

    assert first.status_code == second.status_code == 200
    assert StripeEvent.objects.filter(event_id="evt_same").count() == 1
    assert Receipt.objects.count() == 1
    assert campaign_totals(campaign=gift.campaign).donor_count == 1


def test_completed_but_unpaid_stays_pending_until_async_payment_succeeds(client, stripe_http, gift):
    fakes.deliver(client, _completed(gift, payment_status="unpaid"))
    gift.refresh_from_db()
    assert gift.status == Donation.Status.PENDING
    assert stripe_http.requests == []

    _stripe_has_paid(stripe_http, gift)
    fakes.deliver(
        client,
        _session_event("checkout.session.async_payment_succeeded", gift, payment_status="paid"),
    )

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert Receipt.objects.count() == 1


def test_async_payment_failed_marks_the_gift_failed_and_it_never_counts(client, stripe_http, gift):
    fakes.deliver(client, _completed(gift, payment_status="unpaid"))
    fakes.deliver(
        client,
        _session_event("checkout.session.async_payment_failed", gift, payment_status="unpaid"),
    )

    gift.refresh_from_db()
    assert gift.status == Donation.Status.FAILED
    assert Receipt.objects.count() == 0
    assert campaign_totals(campaign=gift.campaign).donor_count == 0


def test_expired_session_marks_an_abandoned_gift_expired(client, stripe_http, gift):
    fakes.deliver(
        client,
        _session_event("checkout.session.expired", gift, status="expired", payment_status="unpaid"),
    )

    gift.refresh_from_db()
    assert gift.status == Donation.Status.EXPIRED


def test_late_expired_after_paid_changes_nothing(client, stripe_http, gift):
    _stripe_has_paid(stripe_http, gift)
    fakes.deliver(client, _completed(gift))

    response = fakes.deliver(
        client,
        _session_event("checkout.session.expired", gift, status="expired", payment_status="unpaid"),
    )

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.status == Donation.Status.SUCCEEDED
    assert StripeEvent.objects.count() == 2


def _refunded(gift, amount_refunded: int, *, refunded: bool = False, amount: int = 2500):
    charge = fakes.charge(
        donation=gift,
        amount=amount,
        currency="usd",
        amount_refunded=amount_refunded,
        refunded=refunded,
        balance_transaction_id="txn_known",
    )
    return fakes.event("charge.refunded", charge)


def _paid(client, stripe_http, gift, **charge):
    _stripe_has_paid(stripe_http, gift, **charge)
    fakes.deliver(client, _completed(gift))
    gift.refresh_from_db()


def test_partial_then_full_refund_sets_absolute_amounts_and_stops_counting(
    client, stripe_http, gift
):
    _paid(client, stripe_http, gift)

    fakes.deliver(client, _refunded(gift, 1000))
    gift.refresh_from_db()
    assert gift.amount_refunded == Decimal("10.00")
    assert gift.amount_refunded_converted == Decimal("10.00")
    assert gift.status == Donation.Status.SUCCEEDED
    assert campaign_totals(campaign=gift.campaign).raised == Decimal("15.00")

    fakes.deliver(client, _refunded(gift, 2500, refunded=True))
    gift.refresh_from_db()
    assert gift.amount_refunded == Decimal("25.00")
    assert gift.status == Donation.Status.REFUNDED
    totals = campaign_totals(campaign=gift.campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("0.00"), 0)


def test_refund_events_in_any_order_or_repeated_end_in_the_same_refund(client, stripe_http, gift):
    _paid(client, stripe_http, gift)

    fakes.deliver(client, _refunded(gift, 1500))
    fakes.deliver(client, _refunded(gift, 500))  # an older event, delivered late
    fakes.deliver(client, _refunded(gift, 1500))  # the same news again, under a new event id

    gift.refresh_from_db()
    assert gift.amount_refunded == Decimal("15.00")
    assert campaign_totals(campaign=gift.campaign).raised == Decimal("10.00")


def test_refund_before_paid_records_the_payment_from_stripe_then_the_refund(
    client, stripe_http, gift
):
    _stripe_has_paid(stripe_http, gift, amount_refunded=2500, refunded=True)

    fakes.deliver(client, _refunded(gift, 2500, refunded=True))
    gift.refresh_from_db()
    assert gift.status == Donation.Status.REFUNDED
    assert gift.amount_refunded_converted == Decimal("25.00")
    assert gift.stripe_charge_id == "ch_fake_1"

    fakes.deliver(client, _completed(gift))

    gift.refresh_from_db()
    assert gift.status == Donation.Status.REFUNDED
    assert Receipt.objects.count() == 1
    assert campaign_totals(campaign=gift.campaign).donor_count == 0


def test_refund_naming_a_gift_stripe_has_no_session_for_changes_nothing(client, stripe_http, gift):
    response = fakes.deliver(client, _refunded(gift, 2500, refunded=True))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.status == Donation.Status.PENDING
    assert gift.amount_refunded == 0


def test_refund_of_a_gift_with_covered_fees_never_counts_below_zero(
    client, stripe_http, rates_today
):
    gift = PendingOnlineDonationFactory(
        campaign=CampaignFactory(), amount=Decimal("100.00"), fee_cover_amount=Decimal("3.30")
    )
    _paid(client, stripe_http, gift, amount=10330)

    fakes.deliver(client, _refunded(gift, 10330, refunded=True, amount=10330))

    gift.refresh_from_db()
    assert gift.amount_converted == Decimal("100.00")
    assert gift.amount_refunded == Decimal("103.30")
    assert gift.amount_refunded_converted == Decimal("100.00")
    assert gift.status == Donation.Status.REFUNDED


def test_dispute_flags_the_gift_and_a_lost_dispute_stops_it_counting(client, stripe_http, gift):
    _paid(client, stripe_http, gift)

    fakes.deliver(client, fakes.event("charge.dispute.created", fakes.dispute()))
    gift.refresh_from_db()
    assert gift.dispute_status == Donation.DisputeStatus.NEEDS_RESPONSE
    assert campaign_totals(campaign=gift.campaign).donor_count == 1

    fakes.deliver(client, fakes.event("charge.dispute.closed", fakes.dispute(status="lost")))
    gift.refresh_from_db()
    assert gift.dispute_status == Donation.DisputeStatus.LOST
    totals = campaign_totals(campaign=gift.campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("0.00"), 0)


def test_won_dispute_keeps_the_gift_counting_and_a_late_created_changes_nothing(
    client, stripe_http, gift
):
    _paid(client, stripe_http, gift)

    won = fakes.dispute(status="won")
    stripe_http.disputes[won["id"]] = won  # Stripe, now: the dispute was won
    fakes.deliver(client, fakes.event("charge.dispute.closed", won))
    fakes.deliver(
        client, fakes.event("charge.dispute.created", {**won, "status": "needs_response"})
    )

    gift.refresh_from_db()
    assert gift.dispute_status == Donation.DisputeStatus.WON
    assert campaign_totals(campaign=gift.campaign).raised == Decimal("25.00")


def test_charge_updated_fills_in_a_settlement_that_arrived_late(client, stripe_http, gift):
    _paid(client, stripe_http, gift)  # Stripe had no balance transaction yet
    assert gift.settlement_amount is None
    txn = fakes.balance_transaction(amount=2500, currency="usd", fee=103)
    stripe_http.charges["ch_fake_1"] = fakes.charge(
        donation=gift, amount=2500, currency="usd", settlement=txn
    )
    updated = fakes.charge(
        donation=gift, amount=2500, currency="usd", balance_transaction_id=txn["id"]
    )

    fakes.deliver(client, fakes.event("charge.updated", updated))

    gift.refresh_from_db()
    assert gift.settlement_amount == Decimal("25.00")
    assert gift.stripe_fee == Decimal("1.03")
    assert gift.net_amount == Decimal("23.97")
    assert gift.amount_converted == Decimal("25.00")


def test_gift_in_another_currency_counts_the_settled_amount_when_settled_in_campaign_currency(
    client, stripe_http, rates_today
):
    gift = PendingOnlineDonationFactory(
        campaign=CampaignFactory(currency="USD"), amount=Decimal("20.00"), currency="EUR"
    )
    txn = fakes.balance_transaction(amount=2170, currency="usd", fee=93, exchange_rate=1.085)
    _paid(client, stripe_http, gift, amount=2000, currency="eur", settlement=txn)

    assert gift.amount_converted == Decimal("21.70")
    assert gift.rate_source == Donation.RateSource.STRIPE
    assert gift.conversion_rate == Decimal("1.085")
    assert gift.settlement_exchange_rate == Decimal("1.085")


def test_a_long_stripe_exchange_rate_is_stored_to_ten_places_not_refused(
    client, stripe_http, rates_today
):
    gift = PendingOnlineDonationFactory(
        campaign=CampaignFactory(currency="USD"), amount=Decimal("20.00"), currency="EUR"
    )
    txn = fakes.balance_transaction(
        amount=2170, currency="usd", fee=93, exchange_rate=1.085123456789012
    )
    _paid(client, stripe_http, gift, amount=2000, currency="eur", settlement=txn)

    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.settlement_exchange_rate == Decimal("1.0851234568")


def test_gift_settled_in_another_currency_counts_at_the_stored_ecb_rate(
    client, stripe_http, rates_today
):
    gift = PendingOnlineDonationFactory(
        campaign=CampaignFactory(currency="USD"), amount=Decimal("20.00"), currency="EUR"
    )
    txn = fakes.balance_transaction(amount=2000, currency="eur", fee=80)
    _paid(client, stripe_http, gift, amount=2000, currency="eur", settlement=txn)

    # 20 EUR at 1.0163 USD per EUR = 20.326 → 20.33
    assert gift.amount_converted == Decimal("20.33")
    assert gift.rate_source == Donation.RateSource.ECB
    assert gift.conversion_rate == Decimal("1.0163")


def test_unknown_event_types_are_ignored_with_200(client, stripe_http, gift):
    response = fakes.deliver(client, fakes.example("event"))  # plan.created

    assert response.status_code == 200
    assert StripeEvent.objects.count() == 0


def test_event_about_a_session_we_do_not_know_answers_200_and_logs(
    client, stripe_http, gift, caplog
):
    stranger = PendingOnlineDonationFactory.build(stripe_checkout_session_id="cs_test_stranger")

    with caplog.at_level(logging.WARNING, logger="donations.services.online"):
        response = fakes.deliver(client, _completed(stranger))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert "cs_test_stranger matches no gift" in caplog.text
    assert gift.status == Donation.Status.PENDING
    assert stripe_http.requests == []


def test_refund_for_a_charge_we_do_not_know_answers_200_and_logs(client, stripe_http, gift, caplog):
    stranger = PendingOnlineDonationFactory.build()
    charge = fakes.charge(donation=stranger, amount=500, currency="usd", charge_id="ch_other",
                          payment_intent_id="pi_other", amount_refunded=500)  # fmt: skip

    with caplog.at_level(logging.WARNING, logger="donations.services.online"):
        response = fakes.deliver(client, fakes.event("charge.refunded", charge))

    assert response.status_code == 200
    assert "ch_other matches no gift" in caplog.text
    gift.refresh_from_db()
    assert gift.amount_refunded == 0


@pytest.mark.parametrize(
    "signature",
    [
        "missing",
        "wrong",
        "stale",
        "garbage",
    ],
)
def test_bad_missing_or_stale_signature_is_refused_and_nothing_is_written(
    client, stripe_http, gift, signature
):
    _stripe_has_paid(stripe_http, gift)
    payload = _completed(gift)
    if signature == "wrong":
        body, header = fakes.signed(payload, secret="whsec_someone_else")
    elif signature == "stale":
        body, header = fakes.signed(payload, at=int(time.time()) - 301)
    else:
        body, header = fakes.signed(payload)
        header = "t=1,v1=deadbeef" if signature == "garbage" else None
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header else {}

    response = client.post("/stripe/webhook/", data=body, content_type="application/json", **extra)

    gift.refresh_from_db()
    assert response.status_code == 400
    assert gift.status == Donation.Status.PENDING
    assert StripeEvent.objects.count() == 0
    assert stripe_http.requests == []


def test_signature_within_tolerance_is_accepted(client, stripe_http, gift):
    _stripe_has_paid(stripe_http, gift)

    response = fakes.deliver(client, _completed(gift), at=int(time.time()) - 290)

    assert response.status_code == 200


def test_webhook_only_accepts_post(client):
    assert client.get("/stripe/webhook/").status_code == 405


def test_fault_mid_way_keeps_the_event_failed_writes_nothing_and_the_retry_records_it(
    client, stripe_http, gift
):
    """The webhook answers 200 once the event is in the inbox; processing fails in the
    worker, rolled back and kept as failed; Stripe's redelivery (or the sweep) retries it."""
    stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"] = 400
    payload = _completed(gift)

    failed = fakes.deliver(client, payload)

    gift.refresh_from_db()
    inbox = WebhookDelivery.objects.get(event_id=payload["id"])
    assert failed.status_code == 200
    assert (inbox.outcome, inbox.attempts, inbox.processed_at) == ("failed", 1, None)
    assert "400" in inbox.reason
    assert gift.status == Donation.Status.PENDING
    assert StripeEvent.objects.count() == 0
    assert Receipt.objects.count() == 0

    del stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"]
    _stripe_has_paid(stripe_http, gift)
    retried = fakes.deliver(client, payload)

    gift.refresh_from_db()
    inbox.refresh_from_db()
    assert retried.status_code == 200
    assert (inbox.outcome, inbox.attempts, inbox.reason) == ("recorded", 2, "")
    assert inbox.processed_at is not None
    assert gift.status == Donation.Status.SUCCEEDED
    assert Receipt.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
