"""Where a Stripe event was trusted more than it should be: what was charged, not what was
pledged, counts; a charge's news reaches only the gift recorded with that charge."""

import logging
from decimal import Decimal

import pytest

from donations.models import Donation, DonationChange, Receipt, StripeEvent
from donations.selectors.givers import campaign_totals
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(currency="USD")


def _paid_at_stripe(fake, gift, *, amount, currency, charge_id="ch_fake_1", pi="pi_fake_1", **kw):
    charge = fakes.charge(
        donation=gift, amount=amount, currency=currency, charge_id=charge_id,
        payment_intent_id=pi, **kw,
    )  # fmt: skip
    fake.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift,
        amount_total=amount,
        currency=currency,
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )
    return charge


def _completed(gift, *, amount, currency):
    session = fakes.checkout_session(donation=gift, amount_total=amount, currency=currency)
    return fakes.event("checkout.session.completed", session)


def test_a_session_paid_in_another_currency_counts_what_was_charged_and_is_flagged(
    client, stripe_http, campaign
):
    gift = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("100.00"), currency="USD")
    # Adaptive Pricing: the giver paid MXN 1,000.00 (about USD 48.53 at the stored rates).
    _paid_at_stripe(stripe_http, gift, amount=100000, currency="mxn")

    response = fakes.deliver(client, _completed(gift, amount=100000, currency="mxn"))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.status == Donation.Status.SUCCEEDED
    assert (gift.amount_charged, gift.currency_charged) == (Decimal("1000.00"), "MXN")
    assert (gift.amount, gift.currency) == (Decimal("1000.00"), "MXN")
    # 1000 MXN at 1.0163 USD / 20.9438 MXN per EUR = 48.525...
    assert gift.amount_converted == Decimal("48.53")
    assert gift.rate_source == Donation.RateSource.ECB
    assert gift.review_reason == Donation.ReviewReason.CHARGE_MISMATCH
    assert campaign_totals(campaign=campaign).raised == Decimal("48.53")
    change = DonationChange.objects.get(donation=gift, action=DonationChange.Action.PAYMENT)
    assert change.changes["amount"] == ["100.00", "1000.00"]
    assert change.changes["currency"] == ["USD", "MXN"]
    assert "not the pledged 100.00 USD" in change.reason


def test_a_mismatched_charge_keeps_its_fee_cover_share_apart(client, stripe_http, campaign):
    gift = PendingOnlineDonationFactory(
        campaign=campaign, amount=Decimal("100.00"), fee_cover_amount=Decimal("3.30")
    )
    _paid_at_stripe(stripe_http, gift, amount=206600, currency="mxn")

    fakes.deliver(client, _completed(gift, amount=206600, currency="mxn"))

    gift.refresh_from_db()
    # 2066.00 MXN charged; the gift's share is 100 / 103.30 of it.
    assert gift.amount == Decimal("2000.00")
    assert gift.fee_cover_amount == Decimal("66.00")
    assert gift.amount + gift.fee_cover_amount == gift.amount_charged


def test_a_session_paid_in_the_same_currency_for_less_counts_only_what_was_charged(
    client, stripe_http, campaign
):
    gift = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("100.00"))
    _paid_at_stripe(stripe_http, gift, amount=2500, currency="usd")

    fakes.deliver(client, _completed(gift, amount=2500, currency="usd"))

    gift.refresh_from_db()
    assert gift.amount_converted == Decimal("25.00")
    assert gift.review_reason == Donation.ReviewReason.CHARGE_MISMATCH
    assert campaign_totals(campaign=campaign).raised == Decimal("25.00")


def test_a_charge_in_a_currency_we_cannot_count_is_refused_and_flagged_not_credited(
    client, stripe_http, campaign, caplog
):
    gift = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("100.00"))
    _paid_at_stripe(stripe_http, gift, amount=900000, currency="ngn")

    with caplog.at_level(logging.ERROR):
        response = fakes.deliver(client, _completed(gift, amount=900000, currency="ngn"))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.status == Donation.Status.PENDING
    assert (gift.amount_charged, gift.currency_charged) == (Decimal("9000.00"), "NGN")
    assert gift.review_reason == Donation.ReviewReason.CHARGE_UNCOUNTABLE
    assert "cannot be counted" in caplog.text
    assert Receipt.objects.count() == 0
    assert campaign_totals(campaign=campaign).donor_count == 0


def _recorded_gift(client, stripe_http, campaign, **factory):
    gift = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("25.00"), **factory)
    _paid_at_stripe(stripe_http, gift, amount=2500, currency="usd")
    fakes.deliver(client, _completed(gift, amount=2500, currency="usd"))
    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    return gift


def test_a_refund_of_another_charge_naming_our_gift_in_its_metadata_changes_nothing(
    client, stripe_http, campaign
):
    gift = _recorded_gift(client, stripe_http, campaign)
    stranger = fakes.charge(
        donation=gift, amount=2500, currency="usd", charge_id="ch_stranger",
        payment_intent_id="pi_stranger", amount_refunded=2500, refunded=True,
    )  # fmt: skip

    response = fakes.deliver(client, fakes.event("charge.refunded", stranger))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.amount_refunded == 0
    assert gift.status == Donation.Status.SUCCEEDED
    assert campaign_totals(campaign=campaign).raised == Decimal("25.00")


@pytest.mark.parametrize(
    "charge_fields",
    [{"currency": "eur"}, {"amount": 250000, "amount_refunded": 250000}],
    ids=["another currency", "another amount"],
)
def test_a_refund_of_our_charge_in_another_currency_or_amount_is_flagged_not_applied(
    client, stripe_http, campaign, charge_fields
):
    gift = _recorded_gift(client, stripe_http, campaign)
    charge = fakes.charge(donation=gift, amount=2500, currency="usd", amount_refunded=2500,
                          refunded=True)  # fmt: skip
    charge.update(charge_fields)

    response = fakes.deliver(client, fakes.event("charge.refunded", charge))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.amount_refunded == 0
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.review_reason == Donation.ReviewReason.REFUND_MISMATCH
    assert campaign_totals(campaign=campaign).raised == Decimal("25.00")
    assert "not applied" in DonationChange.objects.filter(donation=gift).first().reason


def test_a_paid_session_whose_charge_belongs_to_another_gift_is_flagged_without_a_500(
    client, stripe_http, campaign
):
    first = _recorded_gift(client, stripe_http, campaign)
    second = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("25.00"))
    _paid_at_stripe(stripe_http, second, amount=2500, currency="usd")  # ch_fake_1, pi_fake_1
    payload = _completed(second, amount=2500, currency="usd")

    answers = [fakes.deliver(client, payload).status_code for _ in range(2)]

    second.refresh_from_db()
    assert answers == [200, 200]
    assert second.stripe_charge_id is None
    assert second.review_reason == Donation.ReviewReason.STRIPE_ID_CONFLICT
    assert StripeEvent.objects.filter(event_id=payload["id"]).count() == 1
    first.refresh_from_db()
    assert first.stripe_charge_id == "ch_fake_1"


@pytest.mark.parametrize(
    "event_type, fields",
    [
        ("checkout.session.expired", {"status": "expired", "payment_status": "unpaid"}),
        ("checkout.session.async_payment_failed", {"payment_status": "unpaid"}),
    ],
)
def test_an_ending_delivered_before_the_payment_never_ends_a_gift_stripe_reports_paid(
    client, stripe_http, campaign, event_type, fields
):
    gift = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("25.00"))
    _paid_at_stripe(stripe_http, gift, amount=2500, currency="usd")
    session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd", **fields)

    fakes.deliver(client, fakes.event(event_type, session))
    fakes.deliver(client, _completed(gift, amount=2500, currency="usd"))

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert Receipt.objects.filter(donation=gift).count() == 1
    assert campaign_totals(campaign=campaign).raised == Decimal("25.00")
