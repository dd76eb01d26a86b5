"""The giver list with monthly gifts: one entry per monthly gift, with its running total, in
one query whatever the number of gifts and months; the totals count every month."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from donations.selectors.givers import campaign_totals, giver_page
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    MonthlyGiftFactory,
    TeamMemberFactory,
    months_of,
)
from tests.html import data_values, texts

pytestmark = pytest.mark.django_db


def test_a_monthly_gift_is_one_entry_with_the_running_total_of_its_months():
    campaign = CampaignFactory()
    gift = MonthlyGiftFactory(campaign=campaign, giver_name="Rosa")
    months_of(gift, 3)
    DonationFactory(campaign=campaign, giver_name="Sam", amount=Decimal("40.00"))

    page = giver_page(campaign=campaign)

    assert [(g.giver_name, g.monthly, g.months, g.counted_amount) for g in page.givers] == [
        ("Sam", False, 0, Decimal("40.00")),
        ("Rosa", True, 3, Decimal("60.00")),
    ]
    totals = campaign_totals(campaign=campaign)
    assert (totals.raised, totals.donor_count) == (Decimal("100.00"), 4)
    assert (totals.monthly_count, totals.monthly_amount) == (1, Decimal("20.00"))


def test_a_refunded_month_lowers_the_entry_and_a_gift_with_no_counted_month_is_not_listed():
    campaign = CampaignFactory()
    kept = MonthlyGiftFactory(campaign=campaign, giver_name="Kept")
    months_of(kept, 2)
    DonationFactory(
        campaign=campaign, monthly_gift=kept, status="refunded", stripe_invoice_id="in_refunded"
    )
    MonthlyGiftFactory(campaign=campaign, giver_name="Nothing counted yet")

    page = giver_page(campaign=campaign)

    assert [(g.giver_name, g.months, g.counted_amount) for g in page.givers] == [
        ("Kept", 2, Decimal("40.00"))
    ]


def test_keyset_pages_walk_single_gifts_and_monthly_gifts_once_each_newest_first():
    campaign = CampaignFactory()
    moment = timezone.now()
    entries = []
    for index in range(7):
        at = moment - datetime.timedelta(hours=index // 2)  # ties on the time, broken by id
        if index % 3 == 0:
            gift = MonthlyGiftFactory(campaign=campaign, started_at=at)
            months_of(gift, 2)
            entries.append((at, gift.pk))
        else:
            entries.append((at, DonationFactory(campaign=campaign, received_at=at).pk))
    expected = [pk for _at, pk in sorted(entries, reverse=True)]

    seen, cursor = [], None
    for _page in range(10):
        page = giver_page(campaign=campaign, after=cursor, size=3)
        seen += [giver.id for giver in page.givers]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == expected


def test_a_members_list_has_their_monthly_gifts_only():
    campaign = CampaignFactory()
    member = TeamMemberFactory(campaign=campaign)
    mine = MonthlyGiftFactory(campaign=campaign, team_member=member, giver_name="Mine")
    months_of(mine, 2)
    months_of(MonthlyGiftFactory(campaign=campaign, giver_name="Not mine"), 2)

    page = giver_page(campaign=campaign, member=member)

    assert [giver.giver_name for giver in page.givers] == ["Mine"]


def test_the_giver_list_is_one_query_with_monthly_gifts_and_their_months(
    django_assert_num_queries,
):
    campaign = CampaignFactory()
    DonationFactory.create_batch(20, campaign=campaign)
    for _gift in range(10):
        months_of(MonthlyGiftFactory(campaign=campaign), 6)

    with django_assert_num_queries(1):
        page = giver_page(campaign=campaign)
        [(g.public_name_hidden, g.counted_amount, g.public_message) for g in page.givers]

    assert len(page.givers) == 30


def campaign_page_queries(client, *, monthly_gifts: int, months: int) -> tuple[int, str]:
    campaign = CampaignFactory()
    TeamMemberFactory.create_batch(2, campaign=campaign)
    DonationFactory.create_batch(5, campaign=campaign)
    for _gift in range(monthly_gifts):
        months_of(MonthlyGiftFactory(campaign=campaign), months)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(campaign.get_absolute_url())
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_campaign_page_costs_the_same_few_queries_with_1_or_30_monthly_gifts(client):
    few, few_html = campaign_page_queries(client, monthly_gifts=1, months=1)
    many, many_html = campaign_page_queries(client, monthly_gifts=30, months=12)

    assert few == many <= 6
    assert data_values(many_html, "monthly-count")[0][0] == "30"
    assert data_values(many_html, "monthly-amount")[0][0] == "600.00"
    assert data_values(many_html, "donor-count")[0][0] == str(5 + 30 * 12)
    assert len(texts(many_html, ".giver-monthly")) == 10  # the ten latest entries
    assert texts(few_html, ".giver-monthly-label") == ["Monthly · 1 month so far"]


def test_a_hidden_amount_stays_hidden_on_a_monthly_entry(client):
    campaign = CampaignFactory()
    months_of(MonthlyGiftFactory(campaign=campaign, hide_amount=True, anonymous=True), 2)

    html = client.get(campaign.get_absolute_url()).content.decode()

    assert texts(html, ".giver-monthly .giver-name") == ["Anonymous"]
    assert texts(html, ".giver-monthly .giver-amount") == []
    assert texts(html, ".giver-monthly .giver-hidden") == ["Amount hidden"]
