import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from donations.models import Donation, Receipt, StripeEvent
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, DonationFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db

SESSIONS = "/v1/checkout/sessions"
DAY = 24 * 60 * 60


@pytest.fixture
def campaign():
    return CampaignFactory(currency="USD")


def _pending(campaign, amount="25.00"):
    return PendingOnlineDonationFactory(campaign=campaign, amount=Decimal(amount), currency="USD")


def _stripe_has_paid(fake, donation, *, settlement=True, created=None, n=1, **charge_fields):
    """Stripe's session for `donation`, paid, with its charge (and settlement) expanded."""
    amount = int(donation.amount * 100)
    txn = fakes.balance_transaction(amount=amount, currency="usd", fee=103) if settlement else None
    charge_obj = fakes.charge(
        donation=donation,
        amount=amount,
        currency="usd",
        settlement=txn,
        charge_id=f"ch_fake_{n}",
        payment_intent_id=f"pi_fake_{n}",
        **charge_fields,
    )
    intent = fakes.expanded_intent(charge_obj=charge_obj)
    intent["id"] = f"pi_fake_{n}"
    fake.sessions[donation.stripe_checkout_session_id] = fakes.checkout_session(
        donation=donation,
        amount_total=amount,
        currency="usd",
        payment_intent=intent,
        created=created,
    )
    return charge_obj


def _reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile_stripe", *args, stdout=out)
    return out.getvalue()


def _rows() -> list[dict]:
    return [
        model_to_dict(gift, fields=[f.name for f in Donation._meta.fields]) | {
            "updated_at": gift.updated_at
        }
        for gift in Donation.objects.order_by("id")
    ]  # fmt: skip


def test_reconcile_records_a_paid_gift_whose_webhook_never_came(stripe_http, campaign):
    gift = _pending(campaign)
    _stripe_has_paid(stripe_http, gift)
    before = time.time()

    output = _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.amount_charged == Decimal("25.00")
    assert gift.stripe_charge_id == "ch_fake_1"
    assert gift.settlement_amount == Decimal("25.00")
    assert gift.stripe_fee == Decimal("1.03")
    assert gift.amount_converted == Decimal("25.00")
    assert Receipt.objects.filter(donation=gift, status=Receipt.Status.QUEUED).count() == 1
    assert f"donation {gift.id}: pending → succeeded" in output
    assert "gifts changed: 1." in output
    (listing,) = stripe_http.gets_of(SESSIONS)
    assert abs(int(listing.query["created[gte]"][0]) - (before - 72 * 3600)) < 5
    assert listing.query["limit"] == ["100"]
    assert "data.payment_intent.latest_charge.balance_transaction" in str(listing.query)
    assert stripe_http.posts_to(SESSIONS) == []


def test_second_run_changes_nothing_and_prints_no_change(stripe_http, campaign):
    gift = _pending(campaign)
    _stripe_has_paid(stripe_http, gift)
    _reconcile("--since", "72h")
    rows = _rows()

    output = _reconcile("--since", "72h")

    assert _rows() == rows
    assert "→" not in output
    assert "settlement filled" not in output
    assert "gifts changed: 0." in output
    assert Receipt.objects.count() == 1


def test_reconcile_after_the_webhook_already_recorded_the_gift_changes_nothing(
    client, stripe_http, campaign
):
    gift = _pending(campaign)
    _stripe_has_paid(stripe_http, gift)
    session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
    fakes.deliver(client, fakes.event("checkout.session.completed", session))
    rows = _rows()

    output = _reconcile("--since", "1h")

    assert _rows() == rows
    assert "gifts changed: 0." in output
    assert Receipt.objects.count() == 1


def test_reconcile_repairs_a_refund_whose_webhook_never_came(stripe_http, campaign):
    gift = _pending(campaign)
    _stripe_has_paid(stripe_http, gift)
    _reconcile("--since", "72h")
    _stripe_has_paid(stripe_http, gift, amount_refunded=1000)

    output = _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.amount_refunded == Decimal("10.00")
    assert gift.amount_refunded_converted == Decimal("10.00")
    assert f"donation {gift.id}: refunded 0.00 → 10.00" in output
    assert "gifts changed: 1." in output

    _stripe_has_paid(stripe_http, gift, amount_refunded=2500, refunded=True)
    _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.REFUNDED
    assert gift.amount_refunded_converted == Decimal("25.00")


def test_reconcile_reads_every_page_of_sessions(stripe_http, campaign):
    gifts = [_pending(campaign, amount) for amount in ("10.00", "20.00", "30.00")]
    for age, gift in enumerate(gifts):
        _stripe_has_paid(stripe_http, gift, created=int(time.time()) - age, n=age)
    stripe_http.page_size = 2

    output = _reconcile("--since", "3d")

    first, second = stripe_http.gets_of(SESSIONS)
    assert "starting_after" not in first.query
    assert second.query["starting_after"] == [gifts[1].stripe_checkout_session_id]
    assert set(Donation.objects.values_list("status", flat=True)) == {Donation.Status.SUCCEEDED}
    assert "Checked 3 Checkout Sessions" in output
    assert "gifts changed: 3." in output


def test_sessions_older_than_the_window_are_not_fed(stripe_http, campaign):
    gift = _pending(campaign)
    _stripe_has_paid(stripe_http, gift, created=int(time.time()) - 4 * DAY)

    output = _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.PENDING
    assert "Checked 0 Checkout Sessions" in output


def test_reconcile_fills_missing_settlement_of_a_succeeded_gift(stripe_http, campaign):
    gift = DonationFactory(
        campaign=campaign,
        stripe_checkout_session_id="cs_test_settle",
        stripe_payment_intent_id="pi_fake_1",
        stripe_charge_id="ch_fake_1",
        amount_charged=Decimal("25.00"),
        currency_charged="USD",
    )
    _stripe_has_paid(stripe_http, gift)

    output = _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert (gift.settlement_amount, gift.settlement_currency) == (Decimal("25.00"), "USD")
    assert (gift.stripe_fee, gift.net_amount) == (Decimal("1.03"), Decimal("23.97"))
    assert f"settlement filled for {gift.id}" in output
    assert "→" not in output
    assert Receipt.objects.count() == 0  # its receipt was queued when it succeeded


def test_settlement_missing_from_the_listing_is_fetched_from_the_charge(stripe_http, campaign):
    gift = _pending(campaign)
    _stripe_has_paid(stripe_http, gift, settlement=False, balance_transaction_id="txn_later")
    txn = fakes.balance_transaction(amount=2500, currency="usd", fee=103)
    stripe_http.charges["ch_fake_1"] = fakes.charge(
        donation=gift, amount=2500, currency="usd", settlement=txn
    )

    output = _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert gift.net_amount == Decimal("23.97")
    assert len(stripe_http.gets_of("/v1/charges/ch_fake_1")) == 1
    assert f"donation {gift.id}: pending → succeeded" in output
    assert f"settlement filled for {gift.id}" in output


def test_a_recent_gift_whose_session_is_older_gets_its_settlement_from_the_charge(
    stripe_http, campaign
):
    gift = DonationFactory(campaign=campaign, stripe_charge_id="ch_fake_1")
    txn = fakes.balance_transaction(amount=2500, currency="usd", fee=103)
    stripe_http.charges["ch_fake_1"] = fakes.charge(
        donation=gift, amount=2500, currency="usd", settlement=txn
    )

    output = _reconcile("--since", "1d")

    gift.refresh_from_db()
    assert gift.stripe_fee == Decimal("1.03")
    assert f"settlement filled for {gift.id}" in output
    assert "gifts changed: 1." in output


def test_expired_sessions_expire_their_gifts_and_foreign_sessions_are_skipped(
    stripe_http, campaign
):
    gift = _pending(campaign)
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift,
        amount_total=2500,
        currency="usd",
        status="expired",
        payment_status="unpaid",
        payment_intent=None,
    )
    foreign = fakes.example("checkout_session")
    foreign.update(id="cs_test_other_shop", client_reference_id=None, metadata={})
    foreign["created"] = int(time.time())
    stripe_http.sessions[foreign["id"]] = foreign

    output = _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.EXPIRED
    assert f"donation {gift.id}: pending → expired" in output
    assert "Checked 2 Checkout Sessions since" in output
    assert "(1 ours)" in output


@pytest.mark.parametrize("since", ["72", "3w", "h", "0h", "-1d", "1.5h"])
def test_a_bad_duration_is_refused(stripe_http, since):
    with pytest.raises(CommandError, match="duration"):
        _reconcile(f"--since={since}")
    assert stripe_http.requests == []


def test_demo_mode_has_nothing_to_reconcile(demo_payments):
    with pytest.raises(CommandError, match="demo mode"):
        _reconcile()


def test_stripe_refusing_the_listing_is_an_error_and_changes_nothing(stripe_http, campaign):
    gift = _pending(campaign)
    _stripe_has_paid(stripe_http, gift)
    stripe_http.errors[SESSIONS] = 401

    with pytest.raises(CommandError, match="Stripe did not answer"):
        _reconcile("--since", "72h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.PENDING
    assert Receipt.objects.count() == 0


def _old_paid_gift(stripe_http, campaign):
    """A gift paid a week ago: its session is older than the window reconcile lists."""
    gift = _pending(campaign)
    charge = _stripe_has_paid(stripe_http, gift, created=int(time.time()) - 7 * 86400)
    session = stripe_http.sessions[gift.stripe_checkout_session_id]
    stripe_http.events.append(
        (
            fakes.event("checkout.session.completed", {**session, "payment_intent": "pi_fake_1"}),
            True,
        )
    )
    _reconcile("--since", "30d")
    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    return gift, charge


def test_reconcile_records_an_undelivered_refund_of_a_gift_older_than_its_window(
    stripe_http, campaign
):
    gift, charge = _old_paid_gift(stripe_http, campaign)
    refunded = {**charge, "amount_refunded": 2500, "refunded": True}
    lost = fakes.event("charge.refunded", refunded)
    lost["created"] = int(time.time()) - 3600
    stripe_http.events.append((lost, False))

    out = _reconcile("--since", "2h")

    gift.refresh_from_db()
    assert gift.status == Donation.Status.REFUNDED
    assert "Undelivered Stripe events (last 30 days): 1; recorded now: 1." in out
    assert stripe_http.gets_of("/v1/events")[-1].query["delivery_success"] == ["false"]
    assert _reconcile("--since", "2h").endswith("recorded now: 0.\n")


def test_reconcile_records_an_undelivered_dispute_and_skips_delivered_events(stripe_http, campaign):
    gift, _charge = _old_paid_gift(stripe_http, campaign)
    dispute = fakes.event("charge.dispute.closed", fakes.dispute(status="lost"))
    delivered = fakes.event("charge.dispute.created", fakes.dispute(status="needs_response"))
    for event in (delivered, dispute):
        event["created"] = int(time.time()) - 60
    stripe_http.events += [(delivered, True), (dispute, False)]

    _reconcile("--since", "1h")

    gift.refresh_from_db()
    assert gift.dispute_status == Donation.DisputeStatus.LOST
    assert not StripeEvent.objects.filter(event_id=delivered["id"]).exists()
