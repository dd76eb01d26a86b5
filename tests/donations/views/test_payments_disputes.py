"""Disputes as Stripe reports them: its own statuses, in the order Stripe made them, the
dispute fee, and a gift counted again when a lost dispute is won after all."""

from decimal import Decimal

import pytest

from donations.models import Donation
from donations.selectors.givers import campaign_totals
from donations.selectors.reporting import campaign_report
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(client, stripe_http, rates_today):
    gift = PendingOnlineDonationFactory(campaign=CampaignFactory(currency="USD"))
    txn = fakes.balance_transaction(amount=2500, currency="usd", fee=103)
    charge = fakes.charge(donation=gift, amount=2500, currency="usd", settlement=txn)
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift, amount_total=2500, currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )  # fmt: skip
    session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
    fakes.deliver(client, fakes.event("checkout.session.completed", session))
    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    return gift


def _dispute_event(event_type, status, *, created, dispute_id="dp_1", fee=None, **fields):
    dispute = fakes.dispute(status=status)
    dispute.update(id=dispute_id, **fields)
    if fee is not None:
        withdrawal = fakes.balance_transaction(amount=-2500, currency="usd", fee=fee)
        dispute["balance_transactions"] = [withdrawal]
    payload = fakes.event(event_type, dispute)
    payload["created"] = created
    return payload


@pytest.mark.parametrize(
    "status",
    ["warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
     "under_review", "prevented", "appeal_needs_response", "appeal_under_review"],
)  # fmt: skip
def test_stripes_own_dispute_status_is_stored(client, gift, status):
    fakes.deliver(client, _dispute_event("charge.dispute.updated", status, created=1000))

    gift.refresh_from_db()
    assert gift.dispute_status == status


def test_a_lost_dispute_later_won_counts_the_gift_again(client, gift):
    fakes.deliver(client, _dispute_event("charge.dispute.created", "needs_response", created=1000))
    fakes.deliver(client, _dispute_event("charge.dispute.closed", "lost", created=2000, fee=1500))
    gift.refresh_from_db()
    assert (gift.dispute_status, campaign_totals(campaign=gift.campaign).donor_count) == ("lost", 0)

    fakes.deliver(
        client, _dispute_event("charge.dispute.funds_reinstated", "won", created=3000, fee=1500)
    )

    gift.refresh_from_db()
    assert gift.dispute_status == Donation.DisputeStatus.WON
    totals = campaign_totals(campaign=gift.campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("25.00"), 1)


def test_dispute_events_apply_in_the_order_stripe_made_them(client, gift):
    fakes.deliver(client, _dispute_event("charge.dispute.closed", "lost", created=2000))
    fakes.deliver(client, _dispute_event("charge.dispute.created", "needs_response", created=1000))
    fakes.deliver(client, _dispute_event("charge.dispute.updated", "under_review", created=1500))

    gift.refresh_from_db()
    assert gift.dispute_status == Donation.DisputeStatus.LOST
    assert campaign_totals(campaign=gift.campaign).donor_count == 0


def test_the_dispute_fee_is_recorded_and_the_report_fees_and_net_include_it(client, gift):
    fakes.deliver(client, _dispute_event("charge.dispute.closed", "won", created=2000, fee=1500))

    gift.refresh_from_db()
    assert gift.dispute_fee == Decimal("15.00")
    (row,) = campaign_report(campaign=gift.campaign).online_fees
    assert row.fees == Decimal("16.03")  # 1.03 card fee + 15.00 dispute fee
    assert row.net == Decimal("8.97")  # 23.97 - 15.00


def test_a_dispute_finds_its_gift_by_payment_intent_when_the_charge_is_unknown(client, gift):
    payload = _dispute_event(
        "charge.dispute.created", "needs_response", created=1000,
        charge="ch_not_recorded", payment_intent="pi_fake_1",
    )  # fmt: skip

    fakes.deliver(client, payload)

    gift.refresh_from_db()
    assert gift.dispute_status == Donation.DisputeStatus.NEEDS_RESPONSE
