"""The online service enforces its own rules, whoever calls it (not only the donate form)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from campaigns.models import Campaign
from donations.models import Donation, DonationChange
from donations.services.online import donation_start_checkout
from tests.factories import CampaignFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db


def start(campaign, **overrides):
    values = {
        "campaign": campaign,
        "team_member": None,
        "amount": Decimal("25.00"),
        "currency": "USD",
        "giver_name": "Ana",
        "email": "ana@example.org",
        "anonymous": False,
        "hide_amount": False,
        "message": "",
        "cover_fees": False,
        "language": "en",
    } | overrides
    return donation_start_checkout(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": Decimal("1.00")}, "amount"),
        ({"amount": Decimal("100001.00")}, "amount"),
        ({"amount": Decimal("25.005")}, "amount"),
        ({"amount": Decimal("-5")}, "amount"),
        ({"currency": "JPY", "amount": Decimal("3000.5")}, "amount"),
        ({"currency": "GBP"}, "currency"),
    ],
)
def test_the_service_refuses_a_gift_the_rules_forbid_and_stores_nothing(
    stripe_http, rates_today, overrides, field
):
    campaign = CampaignFactory(accepted_currencies="JPY")

    with pytest.raises(ValidationError) as raised:
        start(campaign, **overrides)

    assert field in raised.value.message_dict
    assert not Donation.objects.exists()
    assert stripe_http.requests == []


def test_the_service_refuses_a_team_member_of_another_campaign(stripe_http, rates_today):
    campaign = CampaignFactory()

    with pytest.raises(ValidationError) as raised:
        start(campaign, team_member=TeamMemberFactory())

    assert "team_member" in raised.value.message_dict
    assert not Donation.objects.exists()


@pytest.mark.parametrize("state", ["draft", "completed", "past end date"])
def test_the_service_refuses_a_campaign_that_is_not_open_for_giving(
    stripe_http, rates_today, state
):
    today = timezone.localdate()
    campaign = {
        "draft": lambda: CampaignFactory(status=Campaign.Status.DRAFT),
        "completed": lambda: CampaignFactory(status=Campaign.Status.COMPLETED, completed_on=today),
        "past end date": lambda: CampaignFactory(ends_on=today - datetime.timedelta(days=1)),
    }[state]()

    with pytest.raises(ValidationError) as raised:
        start(campaign)

    assert NON_FIELD_ERRORS in raised.value.message_dict
    assert not Donation.objects.exists()
    assert stripe_http.requests == []


def test_a_gift_within_the_rules_is_started_with_its_first_history_row(stripe_http, rates_today):
    campaign = CampaignFactory()

    started = start(campaign)

    gift = started.donation
    assert gift.status == Donation.Status.PENDING
    actions = list(gift.changes.order_by("id").values_list("action", "changes"))
    assert actions == [
        (DonationChange.Action.START, {"status": [None, "pending"]}),
        (
            DonationChange.Action.START,
            {"stripe_checkout_session_id": [None, gift.stripe_checkout_session_id]},
        ),
    ]


def test_a_refused_checkout_session_leaves_a_failure_in_the_history(stripe_http, rates_today):
    stripe_http.errors["/v1/checkout/sessions"] = 400
    campaign = CampaignFactory()

    with pytest.raises(Exception):  # noqa: B017  (GatewayError; what matters is the row)
        start(campaign)

    gift = Donation.objects.get()
    assert gift.status == Donation.Status.FAILED
    failure = gift.changes.get(action=DonationChange.Action.FAILURE)
    assert failure.changes == {"status": ["pending", "failed"]}
    assert failure.changed_by is None
