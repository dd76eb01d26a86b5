import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from donations.selectors.reporting import campaign_report
from tests.factories import DonationFactory, OfflineDonationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gifts(cash_campaign, cash_volunteer):
    member = cash_campaign.team_members.get()
    today = timezone.now()
    yesterday = today - datetime.timedelta(days=1)
    DonationFactory(
        campaign=cash_campaign,
        amount=Decimal("100.00"),
        stripe_fee=Decimal("3.20"),
        net_amount=Decimal("96.80"),
        settlement_currency="USD",
        team_member=member,
        received_at=yesterday,
    )
    DonationFactory(
        campaign=cash_campaign,
        amount=Decimal("50.00"),
        amount_refunded=Decimal("10.00"),
        amount_refunded_converted=Decimal("10.00"),
        stripe_fee=Decimal("1.75"),
        net_amount=Decimal("48.25"),
        settlement_currency="USD",
        received_at=today,
    )
    DonationFactory(campaign=cash_campaign, amount=Decimal("30.00"), received_at=today)
    DonationFactory(campaign=cash_campaign, amount=Decimal("999.00"), status="failed")
    OfflineDonationFactory(
        campaign=cash_campaign,
        amount=Decimal("20.00"),
        team_member=member,
        deposited_on=timezone.localdate(),
        received_at=yesterday,
    )
    OfflineDonationFactory(campaign=cash_campaign, amount=Decimal("15.00"), received_at=today)
    OfflineDonationFactory(
        campaign=cash_campaign,
        amount=Decimal("7.00"),
        status="voided",
        voided_at=today,
        received_at=today,
    )
    return {"today": timezone.localdate(today), "yesterday": timezone.localdate(yesterday)}


def test_the_report_totals_by_source_member_and_day(cash_campaign, gifts):
    report = campaign_report(campaign=cash_campaign)

    assert report.raised == Decimal("205.00")
    assert report.count == 5
    assert {(row.label, row.count, row.raised) for row in report.by_source} == {
        ("Online", 3, Decimal("170.00")),
        ("Offline", 2, Decimal("35.00")),
    }
    assert [(row.label, row.count, row.raised) for row in report.by_member] == [
        ("Little Village", 2, Decimal("120.00")),
        ("", 3, Decimal("85.00")),
    ]
    assert [(row.label, row.count, row.raised) for row in report.by_day] == [
        (gifts["yesterday"].isoformat(), 2, Decimal("120.00")),
        (gifts["today"].isoformat(), 3, Decimal("85.00")),
    ]
    assert [(row.currency, row.count, row.fees, row.net) for row in report.online_fees] == [
        ("USD", 2, Decimal("4.95"), Decimal("145.05"))
    ]
    assert report.online_unsettled == 1
    assert (report.cash_deposited, report.cash_undeposited) == (Decimal("20.00"), Decimal("15.00"))
    assert (report.voided.count, report.voided.raised) == (1, Decimal("7.00"))


def test_the_report_page_shows_the_figures(client, cash_campaign, cash_organizer, gifts):
    client.force_login(cash_organizer)

    response = client.get(reverse("donations:report", kwargs={"slug": cash_campaign.slug}))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<data class="report-raised" value="205.00">$205.00</data>' in html
    assert '<data class="fees" value="4.95">$4.95</data>' in html
    assert '<data class="net" value="145.05">$145.05</data>' in html
    assert '<data class="cash-undeposited" value="15.00">$15.00</data>' in html
    assert "Little Village" in html and "No team member" in html
    assert reverse("donations:export-csv", kwargs={"slug": cash_campaign.slug}) in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "style=" not in html
