import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from donations.models import Donation
from donations.services.cash import volunteer_assign
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    ExchangeRateFactory,
    OfflineDonationFactory,
    UserFactory,
)
from tests.html import texts

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "assigned", "unassigned", "organizer", "superuser"]


@pytest.fixture
def users(cash_volunteer, cash_other_volunteer, cash_organizer, cash_superuser):
    return {
        "anonymous": None,
        "assigned": cash_volunteer,
        "unassigned": cash_other_volunteer,
        "organizer": cash_organizer,
        "superuser": cash_superuser,
    }


def today() -> str:
    return timezone.localdate().isoformat()


def cash_data(**overrides) -> dict:
    data = {
        "name": "Rosa Díaz",
        "amount": "20.00",
        "currency": "USD",
        "received_on": today(),
        "team_member": "little-village",
        "message": "¡Adelante!",
        "note": "in the blue envelope",
        "location": "Sunday pantry",
        "form_token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def batch_data(rows: list[dict], token: str | None = None) -> dict:
    data = {
        "batch_token": token or str(uuid.uuid4()),
        "form-TOTAL_FORMS": "30",
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "30",
    }
    for index in range(30):
        data[f"form-{index}-currency"] = "USD"
        data[f"form-{index}-received_on"] = today()
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"form-{index}-{name}"] = value
    return data


def campaign_page(client, campaign) -> str:
    return client.get(campaign.get_absolute_url()).content.decode()


def raised(html: str) -> str:
    return re.search(r'<data class="raised" value="([^"]+)"', html).group(1)


# The permission matrix: every volunteer, export and report URL for every role.
EXPECTED = {
    #            anonymous, assigned, unassigned, organizer, superuser
    "home": (302, 200, 200, 200, 200),
    "cash": (302, 200, 403, 403, 200),
    "batch": (302, 200, 403, 403, 200),
    "cash-post": (302, 302, 403, 403, 302),
    "void": (302, 302, 404, 404, 404),
    "export": (302, 403, 403, 200, 200),
    "report": (302, 403, 403, 200, 200),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("target", list(EXPECTED))
def test_permission_matrix(client, users, cash_campaign, cash_volunteer, role, target):
    entry = OfflineDonationFactory(
        campaign=cash_campaign, amount=Decimal(5), entered_by=cash_volunteer
    )
    slug = {"slug": cash_campaign.slug}
    if users[role] is not None:
        client.force_login(users[role])
    requests = {
        "home": lambda: client.get(reverse("donations:volunteer-home")),
        "cash": lambda: client.get(reverse("donations:cash-new", kwargs=slug)),
        "batch": lambda: client.get(reverse("donations:cash-batch", kwargs=slug)),
        "cash-post": lambda: client.post(reverse("donations:cash-new", kwargs=slug), cash_data()),
        "void": lambda: client.post(
            reverse("donations:cash-void", kwargs={"donation_id": entry.pk}), {"reason": "x"}
        ),
        "export": lambda: client.get(reverse("donations:export-csv", kwargs=slug)),
        "report": lambda: client.get(reverse("donations:report", kwargs=slug)),
    }

    response = requests[target]()

    assert response.status_code == EXPECTED[target][ROLES.index(role)]
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")
    entry.refresh_from_db()
    voided = role == "assigned" and target == "void"
    assert entry.status == ("voided" if voided else "succeeded")
    created = target == "cash-post" and role in ("assigned", "superuser")
    assert Donation.objects.count() == (2 if created else 1)


@pytest.mark.parametrize("role", ["assigned", "unassigned"])
def test_volunteers_never_reach_the_admin(client, users, role):
    client.force_login(users[role])

    for url in (reverse("admin:index"), reverse("admin:donations_donation_changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_cash_appears_on_the_campaign_page_as_offline_donation(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)

    response = client.post(reverse("donations:cash-new", args=[cash_campaign.slug]), cash_data())

    entry = Donation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/volunteer/{cash_campaign.slug}/cash/?saved={entry.pk}"
    assert entry.team_member.slug == "little-village"
    assert (entry.note, entry.entered_by) == ("in the blue envelope", cash_volunteer)
    client.logout()
    html = campaign_page(client, cash_campaign)
    assert raised(html) == "20.00"
    assert '<data class="donor-count" value="1">' in html
    assert "Offline donation" in html and "Rosa Díaz" in html and "¡Adelante!" in html
    assert "blue envelope" not in html


def test_after_saving_the_form_shows_the_entry_and_keeps_currency_date_and_location(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)
    day = timezone.localdate() - datetime.timedelta(days=1)
    yesterday = day.isoformat()
    url = reverse("donations:cash-new", args=[cash_campaign.slug])
    data = cash_data(currency="JPY", amount="1000", received_on=yesterday, location="Church hall")
    for currency, rate in (("USD", "1.0163"), ("JPY", "138.05")):
        ExchangeRateFactory(date=day, currency=currency, per_euro=Decimal(rate))

    response = client.post(url, data, follow=True)

    html = response.content.decode()
    assert "Saved" in html and "Add another" in html
    assert "¥1,000" in html and "$7.36" in html
    assert f'value="{yesterday}"' in html
    assert '<option value="JPY" selected>JPY</option>' in html
    assert 'value="Church hall"' in html
    assert 'name="amount"' in html and 'name="form_token"' in html
    assert data["form_token"] not in html  # a fresh token for the next gift


def test_a_double_submit_shows_the_existing_entry(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)
    url = reverse("donations:cash-new", args=[cash_campaign.slug])
    data = cash_data()

    first = client.post(url, data)
    second = client.post(url, data)

    assert Donation.objects.count() == 1
    assert second.status_code == 302
    assert second["Location"] == first["Location"]


def test_a_missing_rate_is_a_clear_form_error_and_nothing_is_stored(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)

    response = client.post(
        reverse("donations:cash-new", args=[cash_campaign.slug]), cash_data(currency="EUR")
    )

    assert response.status_code == 200
    assert "There is no stored exchange rate for EUR" in response.content.decode()
    assert not Donation.objects.exists()


def test_a_future_date_is_refused_on_the_form(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()

    response = client.post(
        reverse("donations:cash-new", args=[cash_campaign.slug]),
        cash_data(received_on=tomorrow),
    )

    assert "cannot be in the future" in response.content.decode()
    assert not Donation.objects.exists()


def test_the_cash_form_defaults_to_today_in_the_campaign_currency(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)

    html = client.get(reverse("donations:cash-new", args=[cash_campaign.slug])).content.decode()

    assert f'name="received_on" value="{today()}"' in html
    assert f'max="{today()}"' in html
    assert f'min="{cash_campaign.launched_on.isoformat()}"' in html
    assert '<option value="USD" selected>USD</option>' in html
    for name in ("name", "anonymous", "amount", "currency", "team_member", "message", "note"):
        assert f'name="{name}"' in html
    assert 'name="location"' in html and 'name="form_token"' in html
    assert "<script>" not in html and "style=" not in html


def test_a_tally_sheet_saves_every_filled_row(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)
    rows = [
        {"name": "Ana", "amount": "10"},
        {"name": "Luis", "amount": "5.50", "anonymous": "on"},
        {"amount": "2", "location": "Market"},
    ]

    response = client.post(
        reverse("donations:cash-batch", args=[cash_campaign.slug]), batch_data(rows)
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("donations:volunteer-home")
    assert sorted(Donation.objects.values_list("amount", flat=True)) == [
        Decimal("2.00"),
        Decimal("5.50"),
        Decimal("10.00"),
    ]
    assert Donation.objects.get(giver_name="Luis").anonymous
    assert raised(campaign_page(client, cash_campaign)) == "17.50"


def test_a_tally_sheet_with_a_bad_row_saves_nothing_and_points_at_the_row(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    rows = [{"amount": "10"}, {"amount": "5", "received_on": tomorrow}, {"amount": "abc"}]

    response = client.post(
        reverse("donations:cash-batch", args=[cash_campaign.slug]), batch_data(rows)
    )

    html = response.content.decode()
    assert response.status_code == 200
    summary = texts(html, ".error-summary li")
    # Every row's errors in one pass: the unreadable amount and the service's date rule.
    assert [line.split(":")[0] for line in summary] == ["Row 2", "Row 3"]
    assert "cannot be in the future" in summary[0]
    assert texts(html, ".batch-row-invalid h2") == ["Row 2", "Row 3"]
    assert not Donation.objects.exists()
    rows[1]["received_on"] = timezone.localdate().isoformat()
    rows[2]["amount"] = "3"
    response = client.post(
        reverse("donations:cash-batch", args=[cash_campaign.slug]), batch_data(rows)
    )
    assert response.status_code == 302
    assert Donation.objects.count() == 3


def test_a_tally_sheet_submitted_twice_is_saved_once(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)
    data = batch_data([{"amount": "10"}, {"amount": "20"}])
    url = reverse("donations:cash-batch", args=[cash_campaign.slug])

    client.post(url, data)
    client.post(url, data)

    assert Donation.objects.count() == 2


def test_the_tally_sheet_page_has_thirty_rows_in_the_sheet_order(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)

    html = client.get(reverse("donations:cash-batch", args=[cash_campaign.slug])).content.decode()

    assert 'name="form-29-amount"' in html and 'name="form-30-amount"' not in html
    columns = ["name", "anonymous", "amount", "currency", "received_on", "team_member"]
    columns += ["message", "note", "location"]
    positions = [html.index(f'name="form-0-{column}"') for column in columns]
    assert positions == sorted(positions)


def test_voiding_from_the_volunteer_page_removes_the_gift_from_page_and_totals(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)
    client.post(reverse("donations:cash-new", args=[cash_campaign.slug]), cash_data())
    entry = Donation.objects.get()
    home = client.get(reverse("donations:volunteer-home")).content.decode()
    assert reverse("donations:cash-void", args=[entry.pk]) in home

    response = client.post(
        reverse("donations:cash-void", args=[entry.pk]), {"reason": "wrong campaign"}, follow=True
    )

    assert "The entry was voided." in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Donation.Status.VOIDED
    html = campaign_page(client, cash_campaign)
    assert raised(html) == "0.00"
    assert "Rosa Díaz" not in html and "Offline donation" not in html


def test_voiding_without_a_reason_is_refused(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)
    client.post(reverse("donations:cash-new", args=[cash_campaign.slug]), cash_data())
    entry = Donation.objects.get()

    response = client.post(
        reverse("donations:cash-void", args=[entry.pk]), {"reason": ""}, follow=True
    )

    assert "Say why this entry is voided." in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Donation.Status.SUCCEEDED


def test_an_entry_older_than_a_day_has_no_void_button(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)
    client.post(reverse("donations:cash-new", args=[cash_campaign.slug]), cash_data())
    entry = Donation.objects.get()
    Donation.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=2)
    )

    home = client.get(reverse("donations:volunteer-home")).content.decode()
    response = client.post(reverse("donations:cash-void", args=[entry.pk]), {"reason": "late"})

    assert reverse("donations:cash-void", args=[entry.pk]) not in home
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == Donation.Status.SUCCEEDED


def test_the_volunteer_page_lists_own_campaigns_and_entries_only(
    client, cash_campaign, cash_volunteer
):
    other_campaign = CampaignFactory(title="Not yours")
    DonationFactory(campaign=cash_campaign, giver_name="Online Olga", email="olga@example.org")
    colleague = UserFactory()
    volunteer_assign(by=None, user=colleague, campaign=cash_campaign)
    client.force_login(colleague)
    client.post(
        reverse("donations:cash-new", args=[cash_campaign.slug]), cash_data(name="Colleague Cy")
    )
    client.force_login(cash_volunteer)

    html = client.get(reverse("donations:volunteer-home")).content.decode()

    assert cash_campaign.title in html and other_campaign.title not in html
    assert "Online Olga" not in html and "olga@example.org" not in html
    assert "Colleague Cy" not in html
    assert reverse("campaigns:tally", args=[cash_campaign.slug]) in html


def test_draft_campaigns_have_no_cash_form(client, cash_volunteer):
    draft = CampaignFactory(status="draft")
    volunteer_assign(by=None, user=cash_volunteer, campaign=draft)
    client.force_login(cash_volunteer)

    assert client.get(reverse("donations:cash-new", args=[draft.slug])).status_code == 404


def test_anonymous_cash_shows_as_anonymous_on_the_campaign_page(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)

    client.post(
        reverse("donations:cash-new", args=[cash_campaign.slug]),
        cash_data(name="Secret Sam", anonymous="on"),
    )

    client.logout()
    html = campaign_page(client, cash_campaign)
    assert "Secret Sam" not in html
    assert "Anonymous" in html and "Offline donation" in html
    assert raised(html) == "20.00"
