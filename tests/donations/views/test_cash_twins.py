"""A volunteer saves a cash gift, presses Back and saves again: the page came with a new form
token, so only the entry itself can tell. An identical entry saved minutes ago is asked about
before it is stored twice."""

import datetime
import uuid

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from donations.models import Donation
from donations.services.cash import donation_void
from tests.donations.views.test_cash import batch_data, cash_data
from tests.html import soup

pytestmark = pytest.mark.django_db


@pytest.fixture
def cash_url(cash_campaign):
    return reverse("donations:cash-new", args=[cash_campaign.slug])


def test_saving_the_same_gift_again_after_back_asks_before_storing_it_twice(
    client, cash_campaign, cash_volunteer, cash_url
):
    client.force_login(cash_volunteer)
    first = client.post(cash_url, cash_data())
    assert first.status_code == 302

    again = client.post(cash_url, cash_data())  # Back, then Save: a new form token

    assert again.status_code == 200
    assert Donation.objects.count() == 1
    page = soup(again.content)
    checkbox = page.select_one('input[type="checkbox"][name="another_gift"]')
    assert checkbox is not None and not checkbox.has_attr("checked")
    assert "same giver, amount, currency and date" in page.select_one(".cash-form").get_text()


def test_a_volunteer_who_confirms_another_gift_records_it(
    client, cash_campaign, cash_volunteer, cash_url
):
    client.force_login(cash_volunteer)
    client.post(cash_url, cash_data())
    token = str(uuid.uuid4())
    client.post(cash_url, cash_data(form_token=token))

    confirmed = client.post(cash_url, cash_data(form_token=token, another_gift="on"))
    repeated = client.post(cash_url, cash_data(form_token=token, another_gift="on"))

    assert confirmed.status_code == repeated.status_code == 302
    assert Donation.objects.count() == 2


@pytest.mark.parametrize(
    "change",
    [{"amount": "21.00"}, {"name": "Rosa D."}, {"currency": "MXN"}, {"received_on": "yesterday"}],
)
def test_a_gift_that_differs_in_giver_amount_currency_or_date_is_not_asked_about(
    client, cash_campaign, cash_volunteer, cash_url, change, rates_today
):
    client.force_login(cash_volunteer)
    if change.get("received_on") == "yesterday":
        change = {"received_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat()}
        rates_today[0].__class__.objects.create(
            date=timezone.localdate() - datetime.timedelta(days=1), currency="MXN",
            per_euro="20.9", source="ECB",
        )  # fmt: skip
    client.post(cash_url, cash_data())

    response = client.post(cash_url, cash_data(**change))

    assert response.status_code == 302
    assert Donation.objects.count() == 2


def test_the_same_gift_saved_more_than_ten_minutes_later_or_after_a_void_is_not_asked_about(
    client, cash_campaign, cash_volunteer, cash_url
):
    client.force_login(cash_volunteer)
    client.post(cash_url, cash_data())
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=11)):
        later = client.post(cash_url, cash_data())
    assert later.status_code == 302
    for entry in Donation.objects.all():
        donation_void(donation=entry, by=cash_volunteer, reason="typed twice")

    after_void = client.post(cash_url, cash_data())

    assert after_void.status_code == 302
    assert Donation.objects.count() == 3


def test_another_volunteers_identical_entry_is_not_asked_about(
    client, cash_campaign, cash_volunteer, cash_url
):
    from donations.services.cash import volunteer_assign
    from tests.factories import UserFactory

    colleague = UserFactory(username="colleague")
    volunteer_assign(by=None, user=colleague, campaign=cash_campaign)
    client.force_login(colleague)
    client.post(cash_url, cash_data())
    client.force_login(cash_volunteer)

    response = client.post(cash_url, cash_data())

    assert response.status_code == 302
    assert Donation.objects.count() == 2


def test_a_tally_sheet_row_identical_to_a_recent_entry_is_asked_about_per_row(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)
    url = reverse("donations:cash-batch", args=[cash_campaign.slug])
    rows = [{"name": "Ana", "amount": "10"}, {"name": "Luis", "amount": "5"}]
    assert client.post(url, batch_data(rows)).status_code == 302

    again = client.post(url, batch_data([*rows, {"name": "Eva", "amount": "7"}]))

    assert again.status_code == 200
    assert Donation.objects.count() == 2
    page = soup(again.content)
    asked = page.select('input[type="checkbox"][name$="-another_gift"]')
    assert [box["name"] for box in asked] == ["form-0-another_gift", "form-1-another_gift"]
    assert "Row 1:" in page.get_text() and "Row 3:" not in page.get_text()
    header_cells = len(page.select("table.batch-table thead th"))
    assert all(len(row.find_all(["th", "td"])) == header_cells
               for row in page.select("table.batch-table tbody tr:not(.row-errors)"))  # fmt: skip

    token = again.context["token_form"]["batch_token"].value()
    confirmed = batch_data(
        [{**rows[0], "another_gift": "on"}, {**rows[1], "another_gift": "on"}, {"amount": "7"}],
        token=str(token),
    )
    assert client.post(url, confirmed).status_code == 302
    assert Donation.objects.count() == 5
