"""Refunds tracked by id and status: one that fails or is canceled after `charge.refunded`
gives back what it took, exactly once and in any order."""

import itertools
from decimal import Decimal

import pytest

from donations.models import Donation, Refund
from donations.selectors.givers import campaign_totals
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(client, stripe_http, rates_today):
    gift = PendingOnlineDonationFactory(campaign=CampaignFactory(currency="USD"))
    charge = fakes.charge(donation=gift, amount=2500, currency="usd")
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift, amount_total=2500, currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )  # fmt: skip
    session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
    fakes.deliver(client, fakes.event("checkout.session.completed", session))
    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    return gift


def _charge_refunded(gift, amount_refunded):
    charge = fakes.charge(
        donation=gift, amount=2500, currency="usd",
        amount_refunded=amount_refunded, refunded=amount_refunded >= 2500,
    )  # fmt: skip
    return fakes.event("charge.refunded", charge)


def test_a_full_refund_that_fails_later_counts_the_gift_again(client, stripe_http, gift):
    stripe_http.refunds["re_1"] = fakes.refund(amount=2500, refund_id="re_1")
    fakes.deliver(client, _charge_refunded(gift, 2500))
    gift.refresh_from_db()
    assert gift.status == Donation.Status.REFUNDED
    assert campaign_totals(campaign=gift.campaign).donor_count == 0

    stripe_http.refunds["re_1"] = fakes.refund(amount=2500, refund_id="re_1", status="failed")
    fakes.deliver(client, fakes.event("refund.failed", stripe_http.refunds["re_1"]))

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.amount_refunded == Decimal("0.00")
    totals = campaign_totals(campaign=gift.campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("25.00"), 1)
    assert Refund.objects.get().status == Refund.Status.FAILED


def test_a_canceled_partial_refund_gives_back_only_its_own_amount(client, stripe_http, gift):
    stripe_http.refunds["re_1"] = fakes.refund(amount=500, refund_id="re_1")
    stripe_http.refunds["re_2"] = fakes.refund(amount=700, refund_id="re_2", status="pending")
    fakes.deliver(client, _charge_refunded(gift, 1200))
    gift.refresh_from_db()
    assert gift.amount_refunded == Decimal("12.00")

    stripe_http.refunds["re_2"]["status"] = "canceled"
    fakes.deliver(client, fakes.event("charge.refund.updated", stripe_http.refunds["re_2"]))

    gift.refresh_from_db()
    assert gift.amount_refunded == Decimal("5.00")
    assert campaign_totals(campaign=gift.campaign).raised == Decimal("20.00")


def _events_of_a_refund_that_failed():
    created = fakes.refund(amount=2500, refund_id="re_9", status="pending")
    succeeded = {**created, "status": "succeeded"}
    failed = {**created, "status": "failed"}
    return [
        fakes.event("refund.created", created),
        fakes.event("refund.updated", succeeded),
        fakes.event("refund.failed", failed),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_refund_events_in_any_order_and_repeated_end_the_same(client, stripe_http, gift, order):
    events = _events_of_a_refund_that_failed()
    stripe_http.refunds["re_9"] = events[2]["data"]["object"]  # Stripe, now: it failed

    for index in [*order, *order]:
        assert fakes.deliver(client, events[index]).status_code == 200

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.amount_refunded == Decimal("0.00")
    assert Refund.objects.get().status == Refund.Status.FAILED
    assert campaign_totals(campaign=gift.campaign).raised == Decimal("25.00")


def test_a_refund_event_before_stripe_lists_it_applies_its_own_news(client, stripe_http, gift):
    refund = fakes.refund(amount=1000, refund_id="re_5")

    fakes.deliver(client, fakes.event("refund.created", refund))

    gift.refresh_from_db()
    assert gift.amount_refunded == Decimal("10.00")
    assert campaign_totals(campaign=gift.campaign).raised == Decimal("15.00")


def test_a_refund_in_another_currency_is_flagged_not_applied(client, stripe_http, gift):
    refund = fakes.refund(amount=1000, refund_id="re_6", currency="eur")

    fakes.deliver(client, fakes.event("refund.created", refund))

    gift.refresh_from_db()
    assert gift.amount_refunded == 0
    assert gift.review_reason == Donation.ReviewReason.REFUND_MISMATCH
