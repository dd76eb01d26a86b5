"""Every change of a gift, online ones included, leaves a history row saying who or what."""

from decimal import Decimal

import pytest

from donations.models import Donation, DonationChange
from donations.services.online import demo_checkout_complete, donation_confirm_return
from donations.services.reconcile import donations_reconcile
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(rates_today):
    return PendingOnlineDonationFactory(
        campaign=CampaignFactory(currency="USD"), amount=Decimal("25.00"), currency="USD"
    )


def stripe_has_paid(fake, donation, **charge_fields):
    settled = fakes.balance_transaction(amount=2500, currency="usd", fee=103)
    charge = fakes.charge(
        donation=donation, amount=2500, currency="usd", settlement=settled, **charge_fields
    )
    fake.sessions[donation.stripe_checkout_session_id] = fakes.checkout_session(
        donation=donation,
        amount_total=2500,
        currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )
    return charge


def history(donation) -> list[tuple[str, str, str]]:
    return list(
        donation.changes.order_by("changed_at", "id").values_list(
            "action", "stripe_event_id", "reason"
        )
    )


def test_webhook_events_are_named_in_the_history_of_the_gift_they_changed(
    client, stripe_http, gift
):
    charge = stripe_has_paid(stripe_http, gift)
    paid = fakes.event(
        "checkout.session.completed",
        fakes.checkout_session(donation=gift, amount_total=2500, currency="usd"),
        event_id="evt_paid",
    )
    assert fakes.deliver(client, paid).status_code == 200
    refunded = dict(charge, amount_refunded=1000)
    stripe_http.refunds["re_1"] = fakes.refund(amount=1000, refund_id="re_1")
    refund = fakes.event("charge.refunded", refunded, event_id="evt_refund")
    dispute = fakes.event("charge.dispute.created", fakes.dispute(), event_id="evt_dispute")

    for payload in (refund, dispute, paid, refund):
        assert fakes.deliver(client, payload).status_code == 200

    assert history(gift) == [
        ("payment", "evt_paid", "Stripe event checkout.session.completed"),
        ("refund", "evt_refund", "Stripe event charge.refunded"),
        ("dispute", "evt_dispute", "Stripe event charge.dispute.created"),
    ]
    payment = gift.changes.get(action="payment")
    assert payment.changes["status"] == ["pending", "succeeded"]
    assert payment.changes["stripe_charge_id"] == [None, "ch_fake_1"]
    assert payment.changed_by is None
    refund_row = gift.changes.get(action="refund")
    assert refund_row.changes["amount_refunded"] == ["0.00", "10.00"]


def test_the_thank_you_page_and_reconciliation_are_named_when_there_is_no_event(
    stripe_http, gift, rates_today
):
    other = PendingOnlineDonationFactory(campaign=gift.campaign, amount=Decimal("25.00"))
    stripe_has_paid(stripe_http, gift)
    stripe_has_paid(stripe_http, other, charge_id="ch_fake_2", payment_intent_id="pi_fake_2")

    donation_confirm_return(session_id=gift.stripe_checkout_session_id)
    donations_reconcile(since=other.created_at.replace(year=2000))

    assert history(gift) == [("payment", "", "thank-you page")]
    assert history(other) == [("payment", "", "reconcile_stripe")]


def test_a_repeated_report_adds_no_history(stripe_http, gift):
    stripe_has_paid(stripe_http, gift)

    donation_confirm_return(session_id=gift.stripe_checkout_session_id)
    gift.refresh_from_db()
    gift.status = Donation.Status.PENDING  # the page's view of it is stale; the row is not
    donation_confirm_return(session_id=gift.stripe_checkout_session_id)

    assert DonationChange.objects.filter(donation=gift).count() == 1


def test_a_demo_payment_is_recorded_with_its_origin(demo_payments, rates_today):
    gift = PendingOnlineDonationFactory(
        campaign=CampaignFactory(), stripe_checkout_session_id="demo_abc"
    )

    demo_checkout_complete(donation=gift, paid=True)

    assert history(gift) == [("payment", "", "demo checkout")]
