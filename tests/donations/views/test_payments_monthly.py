"""Monthly gifts as Stripe reports them, through the webhook, faked at the HTTP edge.

The gift starts from the donate form (Checkout in subscription mode). Stripe's answers are its
example subscription, invoice and invoice payment (tests/data/stripe), set for the gift: an
invoice carries its subscription under `parent` and its payment under `payments`, as the
API version stripe-python 16 pins has them.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from donations.models import (
    Donation,
    DonationChange,
    MonthlyGift,
    Receipt,
    StripeEvent,
    WebhookDelivery,
)
from donations.selectors.givers import campaign_totals
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory
from tests.html import data_values, texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(slug="coats", title="Winter coats", currency="USD")


def start_monthly(client, campaign, *, amount="25", email="rosa@example.org", name="Rosa"):
    """Give monthly through the donate form; returns the pending monthly gift."""
    response = client.post(
        reverse("donations:donate", kwargs={"slug": campaign.slug}),
        {"amount": amount, "currency": "USD", "name": name, "email": email,
         "frequency": "monthly"},
    )  # fmt: skip
    assert response.status_code == 303
    return MonthlyGift.objects.get(email=email)


@pytest.fixture
def gift(client, stripe_http, campaign):
    return start_monthly(client, campaign)


@pytest.fixture
def stripe(stripe_http, gift):
    return fakes.MonthlyStripe(stripe_http, gift)


def first_month(gift) -> Donation:
    return gift.months_given.get(stripe_checkout_session_id=gift.stripe_checkout_session_id)


def completed(stripe, gift, *, invoice_id="in_month_1") -> dict:
    """Stripe has the session complete and paid, with its subscription and first invoice."""
    session = fakes.monthly_session(
        donation=first_month(gift),
        amount_total=2500,
        subscription_obj=stripe.fake.subscriptions["sub_fake_1"],
        invoice_id=invoice_id,
    )
    stripe.fake.sessions[gift.stripe_checkout_session_id] = session
    return fakes.event("checkout.session.completed", session)


def paid(stripe, number, **kwargs) -> dict:
    stripe.pay(number, **kwargs)
    return fakes.event("invoice.paid", stripe.webhook_invoice(number))


def page(client, campaign) -> str:
    return client.get(campaign.get_absolute_url()).content.decode()


def test_the_first_payment_counts_the_first_month_with_its_invoice_charge_and_settlement(
    client, stripe, gift, campaign
):
    stripe.pay(1)

    response = fakes.deliver(client, completed(stripe, gift))

    assert response.status_code == 200
    gift.refresh_from_db()
    month = first_month(gift)
    assert (gift.status, gift.stripe_subscription_id) == ("active", "sub_fake_1")
    assert (gift.months, gift.raised) == (1, Decimal("25.00"))
    assert month.status == Donation.Status.SUCCEEDED
    assert month.stripe_invoice_id == "in_month_1"
    assert month.stripe_payment_intent_id == "pi_month_1"
    assert month.stripe_charge_id == "ch_month_1"
    assert (month.stripe_fee, month.net_amount) == (Decimal("1.03"), Decimal("23.97"))
    assert Receipt.objects.filter(donation=month).count() == 1
    totals = campaign_totals(campaign=campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("25.00"), 1)
    assert (totals.monthly_count, totals.monthly_amount) == (1, Decimal("25.00"))
    html = page(client, campaign)
    assert data_values(html, "monthly-count")[0][0] == "1"
    assert data_values(html, "monthly-amount")[0] == ("25.00", "$25.00 a month")


def test_renewals_are_each_a_counted_gift_shown_once_in_the_giver_list(
    client, stripe, gift, campaign
):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))

    for number in (2, 3):
        assert fakes.deliver(client, paid(stripe, number)).status_code == 200

    gift.refresh_from_db()
    assert (gift.months, gift.raised, gift.status) == (3, Decimal("75.00"), "active")
    months = gift.months_given.order_by("received_at")
    assert [m.stripe_invoice_id for m in months] == ["in_month_1", "in_month_2", "in_month_3"]
    assert all(m.status == "succeeded" for m in months)
    assert Receipt.objects.filter(donation__monthly_gift=gift).count() == 3
    html = page(client, campaign)
    assert data_values(html, "donor-count")[0][0] == "3"
    assert data_values(html, "raised")[0][0] == "75.00"
    assert data_values(html, "monthly-count")[0][0] == "1"
    assert texts(html, ".giver-name") == ["Rosa"]
    assert texts(html, ".giver-monthly .giver-amount") == ["$75.00"]
    assert texts(html, ".giver-monthly-label") == ["Monthly · 3 months so far"]


def test_a_renewal_delivered_twice_and_reported_twice_counts_once(client, stripe, gift):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    event = paid(stripe, 2)

    first = fakes.deliver(client, event)
    again = fakes.deliver(client, event)
    other_event = fakes.event("invoice.paid", stripe.webhook_invoice(2))
    fakes.deliver(client, other_event)

    assert first.status_code == again.status_code == 200
    assert Donation.objects.filter(stripe_invoice_id="in_month_2").count() == 1
    gift.refresh_from_db()
    assert (gift.months, gift.raised) == (2, Decimal("50.00"))
    assert campaign_totals(campaign=gift.campaign).donor_count == 2


def test_the_first_invoice_before_the_checkout_event_records_one_first_month(client, stripe, gift):
    completed_event = completed(stripe, gift)  # Stripe has the session; its event comes late
    stripe.pay(1)

    fakes.deliver(client, fakes.event("invoice.paid", stripe.webhook_invoice(1)))
    fakes.deliver(client, completed_event)

    gift.refresh_from_db()
    assert gift.stripe_subscription_id == "sub_fake_1"
    assert list(gift.months_given.values_list("stripe_invoice_id", "status")) == [
        ("in_month_1", "succeeded")
    ]
    assert (gift.months, gift.raised) == (1, Decimal("25.00"))
    assert campaign_totals(campaign=gift.campaign).donor_count == 1


def test_an_invoice_whose_metadata_names_a_gift_of_another_subscription_is_not_taken(
    client, stripe, gift
):
    completed(stripe, gift)  # the session names sub_fake_1
    stripe.fake.subscriptions["sub_other"] = fakes.subscription(
        gift=gift, subscription_id="sub_other"
    )
    stray = fakes.invoice(
        gift=gift, invoice_id="in_stray", amount=2500, subscription_id="sub_other"
    )

    response = fakes.deliver(client, fakes.event("invoice.paid", stray))

    gift.refresh_from_db()
    assert response.status_code == 200
    assert gift.stripe_subscription_id is None
    assert not Donation.objects.filter(stripe_invoice_id="in_stray").exists()


def test_a_failed_renewal_then_its_success_counts_the_month_once(client, stripe, gift, campaign):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    stripe.pay(2, status="open")

    fakes.deliver(client, fakes.event("invoice.payment_failed", stripe.webhook_invoice(2)))

    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.PAST_DUE
    assert not Donation.objects.filter(stripe_invoice_id="in_month_2").exists()
    assert campaign_totals(campaign=campaign).donor_count == 1
    assert campaign_totals(campaign=campaign).monthly_count == 1  # still giving: Stripe retries

    fakes.deliver(client, paid(stripe, 2))

    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.ACTIVE
    assert Donation.objects.get(stripe_invoice_id="in_month_2").status == "succeeded"
    assert (gift.months, campaign_totals(campaign=campaign).donor_count) == (2, 2)


def test_stripe_cancelling_the_subscription_stops_the_gift_and_keeps_its_months(
    client, stripe, gift, campaign
):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    ended = fakes.subscription(gift=gift, status="canceled")
    stripe.fake.subscriptions[stripe.subscription_id] = ended  # Stripe, now

    fakes.deliver(client, fakes.event("customer.subscription.deleted", ended))

    gift.refresh_from_db()
    assert (gift.status, gift.end_reason) == ("canceled", "stripe")
    assert gift.ended_at is not None
    totals = campaign_totals(campaign=campaign)
    assert (totals.monthly_count, totals.monthly_amount) == (0, Decimal("0.00"))
    assert (totals.donor_count, totals.raised) == (1, Decimal("25.00"))
    assert gift.changes.filter(changes__status=["active", "canceled"]).exists()


def test_subscription_news_applies_in_the_order_stripe_made_it(client, stripe, gift):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    now = int(time.time())
    newer = fakes.event("customer.subscription.updated",
                        fakes.subscription(gift=gift, status="past_due"))  # fmt: skip
    newer["created"] = now + 60
    older = fakes.event("customer.subscription.updated", fakes.subscription(gift=gift))
    older["created"] = now + 30
    ended = fakes.event("customer.subscription.deleted",
                        fakes.subscription(gift=gift, status="canceled"))  # fmt: skip
    ended["created"] = now + 90
    revived = fakes.event("customer.subscription.updated", fakes.subscription(gift=gift))
    revived["created"] = now + 120

    # Stripe, when the first two are delivered: past due (the news of +60 s).
    stripe.fake.subscriptions[stripe.subscription_id] = newer["data"]["object"]
    fakes.deliver(client, newer)
    fakes.deliver(client, older)
    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.PAST_DUE

    # Stripe, when the last two are: cancelled (+90 s); a cancelled subscription stays so.
    stripe.fake.subscriptions[stripe.subscription_id] = ended["data"]["object"]
    fakes.deliver(client, ended)
    fakes.deliver(client, revived)
    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.CANCELED
    assert StripeEvent.objects.filter(monthly_gift=gift).count() == 5


def test_a_refund_of_one_month_lowers_that_month_only(client, stripe, gift, campaign):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    fakes.deliver(client, paid(stripe, 2))
    refund = fakes.refund(charge_id="ch_month_2", amount=1000)
    refund["payment_intent"] = "pi_month_2"
    stripe.fake.refunds[refund["id"]] = refund

    fakes.deliver(client, fakes.event("refund.created", refund))

    month_1 = Donation.objects.get(stripe_invoice_id="in_month_1")
    month_2 = Donation.objects.get(stripe_invoice_id="in_month_2")
    assert (month_1.amount_refunded, month_2.amount_refunded) == (Decimal(0), Decimal("10.00"))
    gift.refresh_from_db()
    assert (gift.raised, gift.months) == (Decimal("40.00"), 2)
    assert campaign_totals(campaign=campaign).raised == Decimal("40.00")


def test_a_refund_delivered_before_its_months_invoice_records_the_month_first(
    client, stripe, gift, campaign
):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    stripe.pay(2)  # paid at Stripe; its invoice.paid is still on its way
    refund = fakes.refund(charge_id="ch_month_2", amount=2500)
    refund["payment_intent"] = "pi_month_2"
    stripe.fake.refunds[refund["id"]] = refund

    fakes.deliver(client, fakes.event("refund.created", refund))
    fakes.deliver(client, fakes.event("invoice.paid", stripe.webhook_invoice(2)))

    month_2 = Donation.objects.get(stripe_invoice_id="in_month_2")
    assert (month_2.status, month_2.amount_refunded) == ("refunded", Decimal("25.00"))
    assert Donation.objects.filter(monthly_gift=gift).count() == 2
    gift.refresh_from_db()
    assert (gift.months, gift.raised) == (1, Decimal("25.00"))
    assert campaign_totals(campaign=campaign).donor_count == 1


def test_a_lost_dispute_of_one_month_uncounts_that_month_only(client, stripe, gift, campaign):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    fakes.deliver(client, paid(stripe, 2))

    lost = fakes.dispute(charge_id="ch_month_1", status="lost")
    fakes.deliver(client, fakes.event("charge.dispute.closed", lost))

    gift.refresh_from_db()
    assert Donation.objects.get(stripe_invoice_id="in_month_1").dispute_status == "lost"
    assert Donation.objects.get(stripe_invoice_id="in_month_2").dispute_status == ""
    assert (gift.raised, gift.months) == (Decimal("25.00"), 1)
    totals = campaign_totals(campaign=campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("25.00"), 1)


def test_a_month_charged_after_the_campaign_closed_is_not_counted_and_stops_the_gift(
    client, stripe, gift, campaign
):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    campaign.status, campaign.completed_on = "completed", campaign.launched_on
    campaign.save()

    fakes.deliver(client, paid(stripe, 2))

    month = Donation.objects.get(stripe_invoice_id="in_month_2")
    assert month.status == Donation.Status.PENDING
    assert month.review_reason == Donation.ReviewReason.CAMPAIGN_CLOSED
    assert month.stripe_charge_id == "ch_month_2"  # kept, for organizers to refund
    gift.refresh_from_db()
    assert (gift.status, gift.end_reason, gift.months) == ("canceled", "campaign", 1)
    assert [r.method for r in stripe.fake.requests if r.path == "/v1/subscriptions/sub_fake_1"] == [
        "DELETE"
    ]
    totals = campaign_totals(campaign=campaign)
    assert (totals.raised, totals.donor_count, totals.monthly_count) == (Decimal("25.00"), 1, 0)
    assert not Receipt.objects.filter(donation=month).exists()


def test_an_invoice_about_to_charge_a_closed_campaign_is_voided(client, stripe, gift, campaign):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    campaign.status, campaign.completed_on = "completed", campaign.launched_on
    campaign.save()
    stripe.pay(2, status="open")

    fakes.deliver(client, fakes.event("invoice.finalized", stripe.webhook_invoice(2)))

    assert stripe.fake.invoices["in_month_2"]["status"] == "void"
    gift.refresh_from_db()
    assert (gift.status, gift.end_reason) == ("canceled", "campaign")
    assert not Donation.objects.filter(stripe_invoice_id="in_month_2").exists()


def test_an_abandoned_monthly_checkout_never_starts(client, stripe, gift):
    session = fakes.monthly_session(donation=first_month(gift), amount_total=2500,
                                    status="expired", payment_status="unpaid",
                                    subscription_obj=None)  # fmt: skip

    fakes.deliver(client, fakes.event("checkout.session.expired", session))

    gift.refresh_from_db()
    assert (gift.status, gift.end_reason) == ("expired", "checkout")
    assert first_month(gift).status == Donation.Status.EXPIRED
    assert campaign_totals(campaign=gift.campaign).monthly_count == 0


def test_news_of_a_subscription_that_is_not_ours_is_unmatched(client, stripe_http, campaign):
    stray = fakes.subscription(gift=MonthlyGift(campaign=campaign, currency="USD"),
                               subscription_id="sub_unknown", status="canceled")  # fmt: skip

    response = fakes.deliver(client, fakes.event("customer.subscription.deleted", stray))

    assert response.status_code == 200
    assert not MonthlyGift.objects.exists()
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.UNMATCHED


def test_the_thank_you_page_records_the_first_month_once_with_the_webhook(client, stripe, gift):
    stripe.pay(1)
    event = completed(stripe, gift)

    response = client.get(
        reverse("donations:thanks") + f"?session_id={gift.stripe_checkout_session_id}"
    )
    fakes.deliver(client, event)

    assert response.status_code == 200
    assert "every month" in " ".join(texts(response.content.decode(), ".thanks-amount"))
    gift.refresh_from_db()
    assert list(gift.months_given.values_list("stripe_invoice_id", "status")) == [
        ("in_month_1", "succeeded")
    ]
    reporters = set(first_month(gift).changes.values_list("reason", flat=True))
    assert "thank-you page" in reporters


def test_every_change_of_a_month_and_of_its_gift_leaves_history(client, stripe, gift):
    stripe.pay(1)
    event = completed(stripe, gift)
    fakes.deliver(client, event)

    month = first_month(gift)
    assert month.changes.filter(action=DonationChange.Action.PAYMENT,
                                stripe_event_id=event["id"]).exists()  # fmt: skip
    actions = list(gift.changes.order_by("changed_at", "id").values_list("action", flat=True))
    assert actions[0] == "start"
    assert "payment" in actions or "stripe" in actions


def test_stripe_ending_a_gift_sends_no_email_of_ours(client, stripe, gift):
    stripe.pay(1)
    fakes.deliver(client, completed(stripe, gift))
    ended = fakes.subscription(gift=gift, status="canceled")
    stripe.fake.subscriptions[stripe.subscription_id] = ended  # Stripe, now

    fakes.deliver(client, fakes.event("customer.subscription.deleted", ended))

    # Stripe ended it (it gave up retrying, or someone cancelled it in the Dashboard): the
    # donor's and the campaign's stops are the ones we announce.
    assert mail.outbox == []
