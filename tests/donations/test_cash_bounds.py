"""Cash follows the online gifts' bounds and parsing: no amount above the largest gift
(DONATION_MAX_USD) unless an organizer of the campaign gives a reason, and no exponent,
NaN or Infinity."""

import re
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from donations.models import Donation, DonationChange
from donations.services.cash import (
    ABOVE_MAXIMUM_REASON_FIELD,
    CashBatchError,
    CashGift,
    donation_record_cash,
    donation_record_cash_batch,
    donation_update_cash,
    volunteer_assign,
)
from tests.factories import OfflineDonationFactory

pytestmark = pytest.mark.django_db

HUNDRED_MILLION = Decimal("100000000")


def cash(amount: Decimal, **overrides) -> CashGift:
    return CashGift(amount=amount, currency="USD", received_on=timezone.localdate(), **overrides)


def record(campaign, user, amount: Decimal, **overrides) -> Donation:
    return donation_record_cash(
        campaign=campaign, entered_by=user, gift=cash(amount, **overrides), form_token=uuid.uuid4()
    )


def cash_data(**overrides) -> dict:
    data = {
        "amount": "20.00",
        "currency": "USD",
        "received_on": timezone.localdate().isoformat(),
        "form_token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def raised(client, campaign) -> str:
    html = client.get(campaign.get_absolute_url()).content.decode()
    return re.search(r'<data class="raised" value="([^"]+)"', html).group(1)


@pytest.fixture
def recording_organizer(cash_organizer, cash_campaign):
    """The campaign's organizer, also assigned to record cash for it."""
    volunteer_assign(by=None, user=cash_organizer, campaign=cash_campaign)
    return cash_organizer


def test_a_volunteer_cannot_record_cash_above_the_largest_gift(cash_campaign, cash_volunteer):
    with pytest.raises(ValidationError) as refused:
        record(cash_campaign, cash_volunteer, HUNDRED_MILLION)

    assert refused.value.error_dict["amount"][0].code == "maximum"
    assert "The largest gift is $100,000.00" in refused.value.message_dict["amount"][0]
    assert not Donation.objects.exists()


def test_a_volunteer_records_the_largest_gift_itself(cash_campaign, cash_volunteer, settings):
    settings.DONATION_MAX_USD = Decimal(500)

    entry = record(cash_campaign, cash_volunteer, Decimal("500.00"))

    assert entry.amount_converted == Decimal("500.00")
    with pytest.raises(ValidationError):
        record(cash_campaign, cash_volunteer, Decimal("500.01"))


def test_a_volunteers_reason_does_not_lift_the_largest_gift(cash_campaign, cash_volunteer):
    with pytest.raises(ValidationError) as refused:
        record(cash_campaign, cash_volunteer, HUNDRED_MILLION, above_maximum_reason="trust me")

    assert refused.value.error_dict["amount"][0].code == "maximum"
    assert not Donation.objects.exists()


def test_a_tally_sheet_row_above_the_largest_gift_saves_no_row(cash_campaign, cash_volunteer):
    with pytest.raises(CashBatchError) as refused:
        donation_record_cash_batch(
            campaign=cash_campaign,
            entered_by=cash_volunteer,
            gifts={0: cash(Decimal("10")), 1: cash(HUNDRED_MILLION)},
            batch_token=uuid.uuid4(),
        )

    assert list(refused.value.errors) == [1]
    assert not Donation.objects.exists()


def test_an_organizer_records_a_larger_sum_only_with_a_reason_kept_in_its_history(
    cash_campaign, recording_organizer
):
    with pytest.raises(ValidationError) as asked:
        record(cash_campaign, recording_organizer, Decimal("150000"))
    assert asked.value.error_dict[ABOVE_MAXIMUM_REASON_FIELD][0].code == "reason_needed"
    assert not Donation.objects.exists()

    entry = record(
        cash_campaign,
        recording_organizer,
        Decimal("150000"),
        above_maximum_reason="The union's strike fund, counted by two of us",
    )

    assert entry.amount_converted == Decimal("150000.00")
    change = DonationChange.objects.get(donation=entry)
    assert (change.action, change.changed_by) == ("record", recording_organizer)
    assert change.reason == "The union's strike fund, counted by two of us"


def test_an_organizers_edit_above_the_largest_gift_needs_a_reason(cash_campaign, cash_organizer):
    entry = OfflineDonationFactory(campaign=cash_campaign, amount=Decimal("10.00"))

    with pytest.raises(ValidationError) as asked:
        donation_update_cash(donation=entry, by=cash_organizer, values={"amount": HUNDRED_MILLION})
    assert ABOVE_MAXIMUM_REASON_FIELD in asked.value.error_dict
    entry.refresh_from_db()
    assert entry.amount == Decimal("10.00")

    donation_update_cash(
        donation=entry,
        by=cash_organizer,
        values={"amount": Decimal("200000")},
        reason="two envelopes entered as one",
    )
    entry.refresh_from_db()
    assert entry.amount_converted == Decimal("200000.00")
    assert DonationChange.objects.get(donation=entry).reason == "two envelopes entered as one"


@pytest.mark.parametrize(
    "typed", ["1e9", "1E+9", "2e2", "NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN"]
)
def test_the_cash_form_refuses_exponents_and_non_numbers(
    client, cash_campaign, cash_volunteer, typed
):
    client.force_login(cash_volunteer)

    response = client.post(
        reverse("donations:cash-new", args=[cash_campaign.slug]), cash_data(amount=typed)
    )

    assert response.status_code == 200
    assert "Enter the amount as a plain number, like 25 or 25.50." in response.content.decode()
    assert not Donation.objects.exists()


def test_the_cash_form_shows_the_largest_gift_and_the_total_stays_put(
    client, cash_campaign, cash_volunteer
):
    client.force_login(cash_volunteer)

    response = client.post(
        reverse("donations:cash-new", args=[cash_campaign.slug]),
        cash_data(amount="100000000"),
    )

    assert response.status_code == 200
    assert "The largest gift is $100,000.00" in response.content.decode()
    assert not Donation.objects.exists()
    assert raised(client, cash_campaign) == "0.00"


def test_the_tally_sheet_refuses_an_exponent(client, cash_campaign, cash_volunteer):
    client.force_login(cash_volunteer)
    data = {
        "batch_token": str(uuid.uuid4()),
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "30",
        "form-0-amount": "1e9",
        "form-0-currency": "USD",
        "form-0-received_on": timezone.localdate().isoformat(),
    }

    response = client.post(reverse("donations:cash-batch", args=[cash_campaign.slug]), data)

    assert response.status_code == 200
    assert "Enter the amount as a plain number" in response.content.decode()
    assert not Donation.objects.exists()


def test_the_cash_form_asks_an_organizer_for_a_reason_then_records_the_gift(
    client, cash_campaign, recording_organizer
):
    client.force_login(recording_organizer)
    url = reverse("donations:cash-new", args=[cash_campaign.slug])
    data = cash_data(amount="150000")

    asked = client.post(url, data).content.decode()

    assert "Say why in the reason box" in asked
    assert f'<textarea name="{ABOVE_MAXIMUM_REASON_FIELD}"' in asked
    assert not Donation.objects.exists()

    response = client.post(url, {**data, ABOVE_MAXIMUM_REASON_FIELD: "Strike fund"})

    assert response.status_code == 302
    entry = Donation.objects.get()
    assert entry.amount == Decimal("150000.00")
    assert entry.changes.get().reason == "Strike fund"


def test_an_admin_edit_above_the_largest_gift_asks_for_the_reason_box(
    client, cash_campaign, cash_organizer
):
    from tests.donations.test_admin import change_url, offline_form

    entry = OfflineDonationFactory(campaign=cash_campaign, amount=Decimal("10.00"))
    client.force_login(cash_organizer)

    asked = client.post(change_url(entry), offline_form(entry, amount="100000000"))

    assert asked.status_code == 200
    assert "Say why in the reason box" in asked.content.decode()
    entry.refresh_from_db()
    assert entry.amount == Decimal("10.00")

    response = client.post(
        change_url(entry),
        offline_form(entry, amount="100000000", **{ABOVE_MAXIMUM_REASON_FIELD: "bank transfer"}),
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.amount == HUNDRED_MILLION
    assert DonationChange.objects.get(donation=entry).reason == "bank transfer"
