"""Changes that used to leave no history row: a campaign's completion (and the monthly gifts
it stops), a receipt sent again, a refund whose status moves while the gift's amount does
not."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignChange
from donations.models import (
    Donation,
    DonationChange,
    MonthlyGiftChange,
    Receipt,
)
from donations.permissions import DonorLink
from donations.services.access import organizer_assign
from donations.services.monthly import campaign_complete
from donations.services.receipts import receipt_resend
from tests.campaigns.test_admin import FormFields
from tests.donations import stripe_fakes as fakes
from tests.donations.monthly_helpers import active_monthly
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    PendingOnlineDonationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(slug="coats", title="Winter coats")


@pytest.fixture
def organizer(campaign):
    user = UserFactory(username="org-coats", is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    organizer_assign(by=None, user=user, campaign=campaign)
    return user


def test_completing_a_campaign_keeps_who_did_it_and_what_it_stopped(
    client, stripe_http, campaign, organizer, django_capture_on_commit_callbacks
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)

    with django_capture_on_commit_callbacks(execute=True):  # the worker's task, at once
        campaign_complete(campaign=campaign, today=timezone.localdate(), by=organizer)

    completion = CampaignChange.objects.get(campaign=campaign)
    assert (completion.action, completion.changed_by) == ("complete", organizer)
    assert completion.changes == {
        "status": ["live", "completed"],
        "completed_on": [None, timezone.localdate().isoformat()],
    }
    stop = MonthlyGiftChange.objects.get(monthly_gift=gift, action="stop")
    assert stop.changed_by == organizer
    assert stop.changes["status"] == ["active", "ending"]

    campaign_complete(campaign=campaign, today=timezone.localdate(), by=organizer)
    assert CampaignChange.objects.count() == 1


def test_the_scheduled_completion_names_its_command(stripe_http, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )

    call_command("campaigns_complete_ended")

    completion = CampaignChange.objects.get(campaign=campaign)
    assert (completion.changed_by, completion.reason) == (None, "campaigns_complete_ended")


def test_completing_a_campaign_by_editing_its_status_is_recorded_too(
    client, stripe_http, campaign, organizer, django_capture_on_commit_callbacks
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    client.force_login(organizer)
    change_url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    fields = FormFields()
    fields.feed(client.get(change_url).content.decode())
    today = timezone.localdate().isoformat()
    data = {**fields.data, "status": "completed", "completed_on": today, "_save": "Save"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url, data)

    assert response.status_code == 302
    completion = CampaignChange.objects.get(campaign=campaign)
    assert completion.changed_by == organizer
    assert completion.changes["status"] == ["live", "completed"]
    assert MonthlyGiftChange.objects.get(monthly_gift=gift, action="stop").changed_by == organizer


def test_a_receipt_sent_again_leaves_a_history_row_naming_who_asked(campaign, organizer):
    gift = DonationFactory(campaign=campaign, email="rosa@example.org")
    receipt = Receipt.objects.create(
        donation=gift, status=Receipt.Status.FAILED, attempts=6, next_attempt_at=None
    )

    receipt_resend(receipt=receipt, by=organizer)

    change = DonationChange.objects.get(donation=gift)
    assert (change.action, change.changed_by) == ("receipt", organizer)
    assert change.changes == {"receipt_status": ["failed", "queued"], "receipt_attempts": [6, 0]}


def test_the_admins_resend_action_leaves_the_history_row(client, campaign, organizer):
    gift = DonationFactory(campaign=campaign, email="rosa@example.org")
    receipt = Receipt.objects.create(donation=gift, status=Receipt.Status.SENT, attempts=1)
    client.force_login(organizer)

    client.post(
        reverse("admin:donations_receipt_changelist"),
        {"action": "resend", "_selected_action": [str(receipt.pk)], "index": "0"},
    )

    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.QUEUED
    assert DonationChange.objects.get(donation=gift).action == "receipt"


@pytest.fixture
def paid(client, stripe_http, rates_today):
    gift = PendingOnlineDonationFactory(campaign=CampaignFactory(currency="USD"))
    charge = fakes.charge(donation=gift, amount=2500, currency="usd")
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift,
        amount_total=2500,
        currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )
    session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
    fakes.deliver(client, fakes.event("checkout.session.completed", session))
    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    return gift


def test_a_refund_whose_status_moves_but_not_the_amount_leaves_a_history_row(
    client, stripe_http, paid
):
    pending = fakes.refund(amount=500, refund_id="re_7", status="pending")
    fakes.deliver(client, fakes.event("refund.created", pending))
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("5.00")
    rows = DonationChange.objects.filter(donation=paid, action="refund")
    assert [row.changes["refund re_7"] for row in rows] == [[None, "pending"]]

    succeeded = {**pending, "status": "succeeded"}
    fakes.deliver(client, fakes.event("refund.updated", succeeded))

    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("5.00")
    latest = DonationChange.objects.filter(donation=paid).first()
    assert latest.action == "refund"
    assert latest.changes == {"refund re_7": ["pending", "succeeded"]}
    assert latest.stripe_event_id.startswith("evt_")
    count = DonationChange.objects.filter(donation=paid).count()

    fakes.deliver(client, fakes.event("refund.updated", succeeded))  # the same news again

    assert DonationChange.objects.filter(donation=paid).count() == count


def test_a_receipt_the_donor_asks_for_again_says_so_in_the_history(campaign):
    gift = DonationFactory(campaign=campaign, email="rosa@example.org")
    receipt = Receipt.objects.create(donation=gift, status=Receipt.Status.SENT, attempts=1)

    receipt_resend(receipt=receipt, by=DonorLink(receipt.donation.email))

    change = DonationChange.objects.get(donation=gift)
    assert (change.action, change.changed_by) == ("receipt", None)
    assert change.reason == "the donor, through their link"
