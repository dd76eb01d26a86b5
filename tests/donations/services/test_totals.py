"""Running totals stay equal to what the gifts add up to, through every kind of change."""

import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from donations.models import Donation, GiftTally
from donations.selectors.givers import campaign_totals
from donations.services.cash import (
    CashGift,
    donation_moderate,
    donation_record_cash,
    donation_update_cash,
    donation_void,
)
from donations.services.totals import totals_add, totals_recount
from tests.donations import stripe_fakes as fakes
from tests.factories import (
    CampaignFactory,
    PendingOnlineDonationFactory,
    TeamMemberFactory,
)

pytestmark = pytest.mark.django_db


def tallies(campaign) -> dict:
    return {
        (row.member_key, row.source): (row.raised, row.gifts)
        for row in GiftTally.objects.filter(campaign=campaign)
        if row.gifts or row.raised
    }


def assert_no_drift():
    assert totals_recount() == []


def cash(campaign, volunteer, amount="20.00", **fields):
    import uuid

    gift = CashGift(
        amount=Decimal(amount), currency="USD", received_on=timezone.localdate(), **fields
    )
    return donation_record_cash(
        campaign=campaign, entered_by=volunteer, gift=gift, form_token=uuid.uuid4()
    )


def test_cash_recorded_edited_moved_and_voided_keeps_every_total_exact(
    cash_campaign, cash_volunteer, cash_organizer
):
    member = cash_campaign.team_members.get()
    other = TeamMemberFactory(campaign=cash_campaign, slug="pilsen")
    first = cash(cash_campaign, cash_volunteer, "20.00", team_member=member)
    cash(cash_campaign, cash_volunteer, "5.50")

    assert tallies(cash_campaign) == {
        (member.pk, "offline"): (Decimal("20.00"), 1),
        (0, "offline"): (Decimal("5.50"), 1),
    }
    donation_update_cash(
        donation=first, by=cash_organizer, values={"amount": Decimal("30"), "team_member": other}
    )
    assert tallies(cash_campaign) == {
        (other.pk, "offline"): (Decimal("30.00"), 1),
        (0, "offline"): (Decimal("5.50"), 1),
    }
    donation_moderate(donation=first, by=cash_organizer, hide_name=True, hide_message=False)
    donation_void(donation=first, by=cash_organizer, reason="counterfeit")

    assert tallies(cash_campaign) == {(0, "offline"): (Decimal("5.50"), 1)}
    totals = campaign_totals(campaign=cash_campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("5.50"), 1)
    assert_no_drift()


def test_online_payment_refunds_and_a_lost_dispute_move_the_totals_once(
    client, stripe_http, rates_today
):
    campaign = CampaignFactory(currency="USD")
    gift = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("25.00"))
    charge = fakes.charge(donation=gift, amount=2500, currency="usd")
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift,
        amount_total=2500,
        currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )
    paid = fakes.event(
        "checkout.session.completed",
        fakes.checkout_session(donation=gift, amount_total=2500, currency="usd"),
    )
    assert tallies(campaign) == {}

    fakes.deliver(client, paid)
    fakes.deliver(client, paid)
    assert tallies(campaign) == {(0, "online"): (Decimal("25.00"), 1)}

    fakes.deliver(client, fakes.event("charge.refunded", dict(charge, amount_refunded=1000)))
    assert tallies(campaign) == {(0, "online"): (Decimal("15.00"), 1)}

    lost = fakes.event("charge.dispute.closed", fakes.dispute(status="lost"))
    fakes.deliver(client, lost)
    assert tallies(campaign) == {}
    assert_no_drift()


def test_a_full_refund_stops_the_gift_counting(client, stripe_http, rates_today):
    campaign = CampaignFactory(currency="USD")
    gift = PendingOnlineDonationFactory(campaign=campaign, amount=Decimal("25.00"))
    charge = fakes.charge(donation=gift, amount=2500, currency="usd")
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift,
        amount_total=2500,
        currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )
    fakes.deliver(
        client,
        fakes.event(
            "checkout.session.completed",
            fakes.checkout_session(donation=gift, amount_total=2500, currency="usd"),
        ),
    )
    refunded = dict(charge, amount_refunded=2500, refunded=True)
    fakes.deliver(client, fakes.event("charge.refunded", refunded))

    assert Donation.objects.get().status == Donation.Status.REFUNDED
    assert tallies(campaign) == {}
    assert_no_drift()


def test_totals_verify_reports_drift_and_fix_repairs_it(cash_campaign, cash_volunteer):
    cash(cash_campaign, cash_volunteer, "20.00")
    GiftTally.objects.filter(campaign=cash_campaign).update(raised=Decimal("999.00"), gifts=7)

    with pytest.raises(CommandError, match="1 totals drifted"):
        call_command("totals_verify")
    call_command("totals_verify", "--fix")

    assert tallies(cash_campaign) == {(0, "offline"): (Decimal("20.00"), 1)}
    call_command("totals_verify")  # no drift left: no error


def test_a_gift_written_behind_the_services_back_shows_as_drift(cash_campaign):
    Donation.objects.create(
        campaign=cash_campaign,
        source="offline",
        status="succeeded",
        amount=Decimal("12.00"),
        currency="USD",
        amount_converted=Decimal("12.00"),
        conversion_rate=Decimal(1),
        rate_date=timezone.localdate(),
        rate_source="same",
        received_at=timezone.now(),
    )

    drifts = totals_recount()

    assert [(d.stored, d.actual) for d in drifts] == [((Decimal(0), 0), (Decimal("12.00"), 1))]


def test_seed_demo_givers_move_the_totals_in_bulk():
    call_command("seed_demo", "--givers", "25")

    assert_no_drift()
    live = GiftTally.objects.filter(campaign__slug="winter-coats-for-new-neighbors")
    assert sum(row.gifts for row in live) == 12 + 25


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
# serialized_rollback like the other transactional tests: a plain flush re-creates content
# types with new ids, and a serialized test after it could not load its snapshot.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_increments_of_one_tally_lose_nothing():
    campaign = CampaignFactory()
    key = (campaign.pk, 0, "online")
    totals_add({key: (Decimal("0.00"), 0)})

    def add_many():
        for _ in range(50):
            totals_add({key: (Decimal("1.25"), 1)})
        connection.close()

    threads = [threading.Thread(target=add_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    row = GiftTally.objects.get(campaign=campaign)
    assert (row.raised, row.gifts) == (Decimal("250.00"), 200)
