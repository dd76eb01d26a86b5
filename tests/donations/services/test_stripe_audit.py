"""What an audit of the monthly gifts against Stripe's documentation found, each fixed with a
test; and the fake behaving like Stripe where those fixes depend on it."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import Campaign
from donations import stripe_gateway as gateway
from donations.models import Donation, MonthlyGift, MonthlyGiftChange, StripeEvent
from donations.selectors.givers import campaign_totals
from donations.services.donors import monthly_gift_stop_by_donor
from donations.services.monthly import campaign_complete, monthly_gift_stop_task
from donations.services.reconcile import ReconcileReport, donations_reconcile, events_reconcile
from tests.donations import stripe_fakes as fakes
from tests.donations.monthly_helpers import active_monthly
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(slug="coats", title="Winter coats", organizer_email="org@example.org")


def _close(campaign) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.COMPLETED, completed_on=yesterday
    )
    campaign.refresh_from_db()


# The fake, like Stripe


def test_the_fake_refuses_to_void_a_paid_invoice_as_stripe_does(stripe_http, campaign, client):
    active_monthly(client, stripe_http, campaign)
    client_ = gateway._client()

    with pytest.raises(Exception) as refused:
        client_.v1.invoices.void_invoice("in_m1_1")

    assert refused.value.http_status == 400
    assert json.loads(refused.value.http_body)["error"]["type"] == "invalid_request_error"
    assert stripe_http.invoices["in_m1_1"]["status"] == "paid"


def test_the_fake_answers_404_to_cancelling_a_cancelled_subscription(stripe_http, campaign, client):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    stripe_http.subscriptions[gift.stripe_subscription_id]["status"] = "canceled"

    with pytest.raises(Exception) as refused:
        gateway._client().v1.subscriptions.cancel(gift.stripe_subscription_id)

    assert refused.value.http_status == 404


def test_the_fake_replays_an_idempotency_keys_first_answer_for_24_hours(stripe_http):
    path = "/v1/subscriptions/sub_gone"
    stripe_http.errors[path] = 500
    headers = {"Idempotency-Key": "cancel-sub_gone"}

    first = stripe_http.request("delete", f"https://api.stripe.com{path}", headers)
    del stripe_http.errors[path]
    replayed = stripe_http.request("delete", f"https://api.stripe.com{path}", headers)
    stripe_http.now = lambda: time.time() + 24 * 60 * 60 + 1
    later = stripe_http.request("delete", f"https://api.stripe.com{path}", headers)

    assert (first[1], replayed[1], later[1]) == (500, 500, 404)


# Voiding an invoice already paid


def test_an_invoice_paid_before_it_could_be_voided_is_final_not_an_error(
    client, stripe_http, campaign
):
    gift, stripe = active_monthly(client, stripe_http, campaign)
    draft = stripe.pay(2, status="open")
    draft["status"] = "draft"
    created = fakes.event("invoice.created", stripe.webhook_invoice(2))
    _close(campaign)
    stripe.pay(2)  # paid at Stripe before our worker got to the draft

    response = fakes.deliver(client, created)

    assert response.status_code == 200
    assert StripeEvent.objects.filter(event_id=created["id"]).exists()  # processed, not failed
    assert stripe_http.posts_to("/v1/invoices/in_m1_2/void") == []
    month = Donation.objects.get(stripe_invoice_id="in_m1_2")
    assert month.review_reason == Donation.ReviewReason.CAMPAIGN_CLOSED
    assert month.status == Donation.Status.PENDING  # not counted: refund it
    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.CANCELED


def test_stopping_an_invoice_stripe_will_not_void_is_final(client, stripe_http, campaign):
    _gift, stripe = active_monthly(client, stripe_http, campaign)
    stripe.pay(2, status="open")
    stripe_http.errors["/v1/invoices/in_m1_2/void"] = 400

    facts = gateway.stop_invoice("in_m1_2")

    assert facts.status == "open"
    assert len(stripe_http.posts_to("/v1/invoices/in_m1_2/void")) == 1


def test_reconciliation_logs_and_skips_an_event_that_fails(client, stripe_http, campaign):
    failing = PendingOnlineDonationFactory(campaign=campaign)
    working = PendingOnlineDonationFactory(campaign=campaign)
    stripe_http.errors[f"/v1/checkout/sessions/{failing.stripe_checkout_session_id}"] = 500
    stripe_http.sessions[working.stripe_checkout_session_id] = fakes.checkout_session(
        donation=working, amount_total=2500, currency="usd"
    )
    for gift in (failing, working):
        session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
        undelivered = fakes.event("checkout.session.completed", session)
        undelivered["created"] = int(time.time())
        stripe_http.events.append((undelivered, False))
    report = ReconcileReport()

    events_reconcile(since=timezone.now() - datetime.timedelta(days=1), report=report)

    working.refresh_from_db()
    assert working.status == Donation.Status.SUCCEEDED
    assert len(report.events_failed) == 1 and report.events_recorded == 1


# Completing a campaign


def test_completion_cancels_past_due_gifts_stops_the_draft_and_expires_open_sessions(
    client, stripe_http, campaign, django_capture_on_commit_callbacks
):
    active, active_stripe = active_monthly(client, stripe_http, campaign)
    draft = active_stripe.pay(2, status="open")
    draft["status"] = "draft"
    stripe_http.subscriptions[active.stripe_subscription_id]["status"] = "active"
    late, late_stripe = active_monthly(client, stripe_http, campaign, email="ana@example.org")
    late_stripe.pay(2, status="open")  # a renewal failed: Stripe retries it
    fakes.deliver(client, fakes.event("invoice.payment_failed", late_stripe.webhook_invoice(2)))
    late.refresh_from_db()
    assert late.status == MonthlyGift.Status.PAST_DUE
    one_off = PendingOnlineDonationFactory(campaign=campaign)
    stripe_http.sessions[one_off.stripe_checkout_session_id] = fakes.checkout_session(
        donation=one_off, amount_total=2500, currency="usd", status="open", payment_status="unpaid"
    )

    with django_capture_on_commit_callbacks(execute=True):
        campaign_complete(campaign=campaign, today=timezone.localdate())

    active.refresh_from_db()
    late.refresh_from_db()
    assert active.status == MonthlyGift.Status.ENDING
    assert stripe_http.invoices[f"in_{active_stripe.prefix}_2"]["auto_advance"] is False
    assert late.status == MonthlyGift.Status.CANCELED
    assert stripe_http.subscriptions[late.stripe_subscription_id]["status"] == "canceled"
    assert stripe_http.invoices[f"in_{late_stripe.prefix}_2"]["status"] == "void"
    assert stripe_http.sessions[one_off.stripe_checkout_session_id]["status"] == "expired"


# The donor's stop


def test_a_failed_stop_is_kept_retried_with_a_new_key_and_organizers_are_told(
    client, stripe_http, campaign
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    path = f"/v1/subscriptions/{gift.stripe_subscription_id}"
    stripe_http.errors[path] = 500
    mail.outbox.clear()

    with pytest.raises(gateway.GatewayError):
        monthly_gift_stop_by_donor(gift=gift, email=gift.email)

    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.ACTIVE and gift.stop_requested_at is not None
    assert gift.changes.filter(action=MonthlyGiftChange.Action.STOP_REQUEST).count() == 1
    assert [message.to for message in mail.outbox] == [["org@example.org"]]

    del stripe_http.errors[path]
    monthly_gift_stop_task.call(str(gift.pk))

    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.CANCELED
    keys = [r.headers["Idempotency-Key"] for r in stripe_http.requests if r.method == "DELETE"]
    assert len(set(keys)) >= 2  # each attempt its own key (stripe-python's retries reuse it)


def test_stopping_a_subscription_stripe_cancelled_already_stops_the_gift(
    client, stripe_http, campaign
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    stripe_http.subscriptions[gift.stripe_subscription_id]["status"] = "canceled"

    monthly_gift_stop_by_donor(gift=gift, email=gift.email)

    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.CANCELED


def test_page_requests_wait_on_stripe_briefly_and_do_not_retry(stripe_http):
    with gateway.page_request():
        client = gateway._client()

    assert client is not gateway._client()
    assert client._requestor._options.max_network_retries == 0


# billing_reason, unpaid and paused, the latest invoice


def test_an_invoice_for_another_reason_than_a_month_is_recorded_and_flagged(
    client, stripe_http, campaign
):
    gift, stripe = active_monthly(client, stripe_http, campaign)
    stripe.pay(2)
    stripe_http.invoices["in_m1_2"]["billing_reason"] = "manual"

    fakes.deliver(client, fakes.event("invoice.paid", stripe.webhook_invoice(2)))

    month = Donation.objects.get(stripe_invoice_id="in_m1_2")
    assert month.review_reason == Donation.ReviewReason.INVOICE_REASON
    assert month.monthly_gift_id == gift.pk


@pytest.mark.parametrize("status", ["unpaid", "paused"])
def test_unpaid_and_paused_subscriptions_are_not_counted_as_active(
    client, stripe_http, campaign, status
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    held = fakes.subscription(gift=gift, subscription_id=gift.stripe_subscription_id,
                              status=status)  # fmt: skip
    stripe_http.subscriptions[gift.stripe_subscription_id] = held

    fakes.deliver(client, fakes.event("customer.subscription.updated", held))

    gift.refresh_from_db()
    assert gift.status == status
    assert campaign_totals(campaign=campaign).monthly_count == 0


def test_reconciliation_finds_a_renewal_paid_after_its_window_by_the_latest_invoice(
    client, stripe_http, campaign
):
    _gift, stripe = active_monthly(client, stripe_http, campaign)
    stripe.pay(2, created=int(time.time()) - 10 * 24 * 60 * 60)  # retried for days

    donations_reconcile(since=timezone.now() - datetime.timedelta(hours=72))

    month = Donation.objects.get(stripe_invoice_id="in_m1_2")
    assert month.status == Donation.Status.SUCCEEDED


def test_reconciliation_stops_a_gift_whose_latest_month_came_after_close(
    client, stripe_http, campaign
):
    gift, stripe = active_monthly(client, stripe_http, campaign)
    _close(campaign)
    stripe.pay(2, created=int(time.time()) - 10 * 24 * 60 * 60)

    donations_reconcile(since=timezone.now() - datetime.timedelta(hours=72))

    gift.refresh_from_db()
    month = Donation.objects.get(stripe_invoice_id="in_m1_2")
    assert month.review_reason == Donation.ReviewReason.CAMPAIGN_CLOSED
    assert gift.status == MonthlyGift.Status.CANCELED


def test_completing_a_campaign_with_only_one_off_gifts_expires_their_open_sessions(
    stripe_http, campaign, django_capture_on_commit_callbacks
):
    one_off = PendingOnlineDonationFactory(campaign=campaign)
    stripe_http.sessions[one_off.stripe_checkout_session_id] = fakes.checkout_session(
        donation=one_off, amount_total=2500, currency="usd", status="open",
        payment_status="unpaid",
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        completion = campaign_complete(campaign=campaign, today=timezone.localdate())

    assert completion.monthly_to_stop == 0
    assert stripe_http.sessions[one_off.stripe_checkout_session_id]["status"] == "expired"


def test_completing_a_campaign_whose_only_monthly_gift_stripe_holds_unpaid_cancels_it(
    client, stripe_http, campaign, django_capture_on_commit_callbacks
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    held = fakes.subscription(
        gift=gift, subscription_id=gift.stripe_subscription_id, status="unpaid"
    )
    stripe_http.subscriptions[gift.stripe_subscription_id] = held
    fakes.deliver(client, fakes.event("customer.subscription.updated", held))
    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.UNPAID

    with django_capture_on_commit_callbacks(execute=True):
        campaign_complete(campaign=campaign, today=timezone.localdate())

    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.CANCELED
