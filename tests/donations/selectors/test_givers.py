import base64
import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from donations.models import Donation
from donations.selectors.givers import (
    InvalidCursorError,
    campaign_totals,
    decode_cursor,
    encode_cursor,
    giver_page,
    raised_by_campaign,
)
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    TeamMemberFactory,
)

pytestmark = pytest.mark.django_db


def test_campaign_totals_count_succeeded_online_and_unvoided_offline_gifts():
    campaign = CampaignFactory()
    DonationFactory(campaign=campaign, amount=Decimal("40.00"))
    OfflineDonationFactory(campaign=campaign, amount=Decimal("12.34"))
    OfflineDonationFactory(
        campaign=campaign, status="voided", voided_at=timezone.now(), amount=Decimal("99.00")
    )
    for status in ("pending", "failed", "expired", "refunded"):
        DonationFactory(campaign=campaign, status=status, amount=Decimal("1000.00"))
    DonationFactory(amount=Decimal("500.00"))  # another campaign
    totals = campaign_totals(campaign=campaign)
    assert totals.raised == Decimal("52.34")
    assert totals.donor_count == 2


def test_campaign_totals_subtract_refunds_and_lost_disputes_but_not_fee_cover():
    campaign = CampaignFactory()
    DonationFactory(
        campaign=campaign,
        amount=Decimal("100.00"),
        amount_refunded=Decimal("25.50"),
        amount_refunded_converted=Decimal("25.50"),
    )
    DonationFactory(campaign=campaign, amount=Decimal("30.00"), fee_cover_amount=Decimal("1.20"))
    DonationFactory(campaign=campaign, amount=Decimal("70.00"), dispute_status="lost")
    DonationFactory(campaign=campaign, amount=Decimal("5.00"), dispute_status="won")
    DonationFactory(campaign=campaign, amount=Decimal("5.00"), dispute_status="needs_response")
    totals = campaign_totals(campaign=campaign)
    assert totals.raised == Decimal("114.50")
    assert totals.donor_count == 4


def test_campaign_totals_sum_converted_amounts_in_the_campaign_currency():
    campaign = CampaignFactory(currency="USD")
    DonationFactory(
        campaign=campaign,
        amount=Decimal("500.00"),
        currency="MXN",
        amount_converted=Decimal("24.37"),
        rate_source=Donation.RateSource.ECB,
    )
    DonationFactory(campaign=campaign, amount=Decimal("0.63"))
    assert campaign_totals(campaign=campaign).raised == Decimal("25.00")


def test_campaign_totals_of_a_campaign_without_gifts_are_zero():
    totals = campaign_totals(campaign=CampaignFactory())
    assert totals.raised == Decimal("0.00")
    assert totals.donor_count == 0
    assert totals.raised_by_member == {}


def test_campaign_totals_per_member_count_only_counted_gifts():
    campaign = CampaignFactory()
    village, pilsen = TeamMemberFactory.create_batch(2, campaign=campaign)
    DonationFactory(campaign=campaign, team_member=village, amount=Decimal("10.10"))
    OfflineDonationFactory(campaign=campaign, team_member=village, amount=Decimal("5.00"))
    DonationFactory(campaign=campaign, team_member=pilsen, status="failed")
    DonationFactory(campaign=campaign, amount=Decimal("1.00"))
    totals = campaign_totals(campaign=campaign)
    assert totals.raised_by_member == {village.id: Decimal("15.10")}


def test_raised_by_campaign_groups_counted_gifts():
    first, second, empty = CampaignFactory.create_batch(3)
    DonationFactory(campaign=first, amount=Decimal("10.00"))
    DonationFactory(campaign=first, amount=Decimal("2.50"), status="refunded")
    DonationFactory(campaign=second, amount=Decimal("7.25"))
    raised = raised_by_campaign(campaign_ids=[first.id, second.id, empty.id])
    assert raised == {first.id: Decimal("10.00"), second.id: Decimal("7.25")}


def test_cursor_round_trips_time_and_id():
    gift = DonationFactory()
    received_at, donation_id = decode_cursor(encode_cursor(gift))
    assert received_at == gift.received_at
    assert donation_id == gift.id


NAIVE_CURSOR = base64.urlsafe_b64encode(
    b"2022-01-01T00:00:00|6f1c1d4e-3c39-4c5e-9d0f-5b0f4f0a9e11"
).decode()


@pytest.mark.parametrize(
    "cursor", ["", "x", "bm90IGEgY3Vyc29y", "MjAyMi0wMS0wMXwxMjM", NAIVE_CURSOR]
)
def test_a_cursor_we_did_not_make_is_refused(cursor):
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


def test_giver_pages_walk_every_counted_gift_once_newest_first():
    campaign = CampaignFactory()
    moment = timezone.now()
    gifts = [
        DonationFactory(campaign=campaign, received_at=moment - datetime.timedelta(hours=n // 3))
        for n in range(11)
    ]
    DonationFactory(campaign=campaign, status="pending", received_at=moment)
    expected = sorted(gifts, key=lambda gift: (gift.received_at, gift.id), reverse=True)
    seen, cursor = [], None
    for _page in range(10):
        page = giver_page(campaign=campaign, after=cursor, size=4)
        seen += page.givers
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [gift.id for gift in seen] == [gift.id for gift in expected]


def test_last_full_page_has_no_next_cursor():
    campaign = CampaignFactory()
    DonationFactory.create_batch(4, campaign=campaign)
    page = giver_page(campaign=campaign, size=4)
    assert len(page.givers) == 4
    assert page.next_cursor is None


def test_giver_page_for_a_member_lists_only_their_gifts():
    campaign = CampaignFactory()
    member = TeamMemberFactory(campaign=campaign)
    mine = DonationFactory(campaign=campaign, team_member=member)
    DonationFactory(campaign=campaign)
    page = giver_page(campaign=campaign, member=member)
    assert [gift.id for gift in page.givers] == [mine.id]


def test_giver_page_is_one_query(django_assert_num_queries):
    campaign = CampaignFactory()
    DonationFactory.create_batch(60, campaign=campaign)
    with django_assert_num_queries(1):
        page = giver_page(campaign=campaign)
        [
            (gift.public_name_hidden, gift.counted_amount, gift.public_message)
            for gift in page.givers
        ]
