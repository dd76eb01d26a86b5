import csv
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from donations.models import ExportLog
from donations.selectors.reporting import neutralize_cell
from donations.services.cash import donation_void
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    donations_bulk_create,
)

pytestmark = pytest.mark.django_db


def export(client, campaign) -> tuple[StreamingHttpResponse, list[dict]]:
    response = client.get(reverse("donations:export-csv", kwargs={"slug": campaign.slug}))
    text = b"".join(response.streaming_content).decode()
    return response, list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("\ncmd", "'\ncmd"),
        ("\uff1dHYPERLINK(1)", "'\uff1dHYPERLINK(1)"),  # fullwidth equals sign
        ("\uff0b1", "'\uff0b1"),  # fullwidth plus sign
        ("\uff0d1", "'\uff0d1"),  # fullwidth hyphen-minus
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),  # fullwidth commercial at
        ("\ufe66cmd", "'\ufe66cmd"),  # small equals sign
        (" =cmd", "' =cmd"),
        ("\u3000\uff1dcmd", "'\u3000\uff1dcmd"),  # ideographic space, then fullwidth equals
        ("Rosa = generous", "Rosa = generous"),
        ("Rosa \uff1d generous", "Rosa \uff1d generous"),
        (Decimal("12.50"), "12.50"),
        (None, ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_neutralised(value, expected):
    assert neutralize_cell(value) == expected


def test_the_export_has_every_donation_with_real_names(
    client, cash_campaign, cash_volunteer, cash_organizer
):
    DonationFactory(
        campaign=cash_campaign,
        giver_name="Hidden Hannah",
        anonymous=True,
        email="hannah@example.org",
        stripe_fee=Decimal("1.03"),
        net_amount=Decimal("23.97"),
        settlement_currency="USD",
    )
    cash = OfflineDonationFactory(
        campaign=cash_campaign,
        giver_name="=cmd|' /C calc'!A0",
        entered_by=cash_volunteer,
        deposited_on=timezone.localdate(),
    )
    voided = OfflineDonationFactory(campaign=cash_campaign, entered_by=cash_volunteer)
    donation_void(donation=voided, by=cash_organizer, reason="@counterfeit")
    DonationFactory(campaign=CampaignFactory(), giver_name="Other campaign")
    client.force_login(cash_organizer)

    response, rows = export(client, cash_campaign)

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="donations-cash-drive.csv"' in response["Content-Disposition"]
    by_name = {row["Name"]: row for row in rows}
    assert set(by_name) == {"Hidden Hannah", "'=cmd|' /C calc'!A0", voided.giver_name}
    hannah = by_name["Hidden Hannah"]
    assert (hannah["Anonymous"], hannah["Email"], hannah["Source"]) == (
        "True",
        "hannah@example.org",
        "online",
    )
    assert (hannah["Stripe fee"], hannah["Net amount"]) == ("1.03", "23.97")
    offline = by_name["'=cmd|' /C calc'!A0"]
    assert offline["Entered by"] == "vol-assigned"
    assert (offline["Deposited"], offline["Deposited on"]) == ("True", str(cash.deposited_on))
    assert (offline["Amount"], offline["Currency"], offline["Conversion rate"]) == (
        "25.00",
        "USD",
        "1.0000000000",
    )
    gone = by_name[voided.giver_name]
    assert (gone["Status"], gone["Void reason"], gone["Voided by"]) == (
        "voided",
        "'@counterfeit",
        "organizer-cash",
    )


def test_each_export_is_logged(client, cash_campaign, cash_organizer):
    client.force_login(cash_organizer)

    export(client, cash_campaign)
    export(client, cash_campaign)

    logs = ExportLog.objects.all()
    assert logs.count() == 2
    assert {(log.user, log.campaign) for log in logs} == {(cash_organizer, cash_campaign)}


def test_a_refused_export_is_not_logged(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)

    response = client.get(reverse("donations:export-csv", kwargs={"slug": cash_campaign.slug}))

    assert response.status_code == 403
    assert not ExportLog.objects.exists()


def test_the_export_streams_thousands_of_rows(client, cash_campaign, cash_organizer):
    now = timezone.now()
    donations_bulk_create(
        DonationFactory.build(campaign=cash_campaign, received_at=now, email="")
        for _index in range(4500)
    )
    client.force_login(cash_organizer)

    response = client.get(reverse("donations:export-csv", kwargs={"slug": cash_campaign.slug}))

    assert isinstance(response, StreamingHttpResponse)
    lines = iter(response.streaming_content)
    assert next(lines).startswith(b"Donation ID,Received at,Source,Status")
    assert sum(1 for _line in lines) == 4500


def test_the_export_headers_follow_the_organizers_language(client, cash_campaign, cash_organizer):
    DonationFactory(campaign=cash_campaign, giver_name="Rosa")
    client.force_login(cash_organizer)
    client.cookies["solidaria_language"] = "es"

    _response, rows = export(client, cash_campaign)

    assert rows[0]["Nombre"] == "Rosa"
    assert rows[0]["Estado"] == "succeeded"
