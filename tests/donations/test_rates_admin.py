"""Exchange rates are set by superusers only (or imported), each change kept with who made
it, and a gift keeps the rate it was converted at."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from donations.models import Donation, ExchangeRate, ExchangeRateChange
from donations.services.cash import CashGift, donation_record_cash
from donations.services.rates import exchange_rate_delete, exchange_rate_set
from tests.factories import ExchangeRateFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:donations_exchangerate_changelist")
ADD = reverse("admin:donations_exchangerate_add")


def rate_form(**values) -> dict:
    return {
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "0",
        "_save": "Save",
        **values,
    }


@pytest.fixture
def demo_usd_today(db):
    return ExchangeRateFactory(
        date=timezone.localdate(), currency="USD", per_euro=Decimal("1.0163"), source="DEMO"
    )


def test_the_organizers_group_can_no_longer_add_change_or_delete_rates():
    codenames = set(
        Group.objects.get(name="Organizers").permissions.values_list("codename", flat=True)
    )
    assert "view_exchangerate" in codenames
    assert not codenames & {"add_exchangerate", "change_exchangerate", "delete_exchangerate"}


def test_an_organizer_cannot_change_a_rate_in_the_admin(client, cash_organizer, demo_usd_today):
    client.force_login(cash_organizer)
    url = reverse("admin:donations_exchangerate_change", args=[demo_usd_today.pk])

    response = client.post(url, rate_form(per_euro="0.01"))

    assert response.status_code == 403
    demo_usd_today.refresh_from_db()
    assert demo_usd_today.per_euro == Decimal("1.0163")
    added = client.post(ADD, rate_form(date="2022-07-08", currency="MXN", per_euro="20"))
    assert added.status_code == 403
    assert not ExchangeRateChange.objects.exists()
    # They still see the rates their gifts are converted with.
    assert client.get(url).status_code == 200


def test_an_organizer_holding_the_old_rights_is_still_refused_by_the_service(
    cash_organizer, demo_usd_today
):
    with pytest.raises(PermissionDenied):
        exchange_rate_set(
            date=demo_usd_today.date, currency="USD", per_euro=Decimal("0.01"), by=cash_organizer
        )
    with pytest.raises(PermissionDenied):
        exchange_rate_delete(rate=demo_usd_today, by=cash_organizer)
    demo_usd_today.refresh_from_db()
    assert demo_usd_today.per_euro == Decimal("1.0163")


def test_a_superusers_change_is_a_hand_entered_rate_with_a_history_row_naming_them(
    client, cash_superuser, demo_usd_today
):
    client.force_login(cash_superuser)
    url = reverse("admin:donations_exchangerate_change", args=[demo_usd_today.pk])

    response = client.post(url, rate_form(per_euro="1.1"))

    assert response.status_code == 302
    demo_usd_today.refresh_from_db()
    assert (demo_usd_today.per_euro, demo_usd_today.source) == (Decimal("1.1"), "MANUAL")
    change = ExchangeRateChange.objects.get()
    assert (change.action, change.changed_by) == ("edit", cash_superuser)
    assert change.rate == demo_usd_today
    assert change.changes == {
        "per_euro": ["1.016300", "1.100000"],
        "source": ["DEMO", "MANUAL"],
    }
    html = client.get(url).content.decode()
    assert "History" in html and "root-cash" in html and "1.016300" in html


def test_a_superuser_adds_and_deletes_rates_and_the_history_outlives_the_rate(
    client, cash_superuser
):
    client.force_login(cash_superuser)

    response = client.post(ADD, rate_form(date="2022-07-08", currency="MXN", per_euro="20.5"))

    assert response.status_code == 302
    rate = ExchangeRate.objects.get(currency="MXN")
    assert rate.source == "MANUAL"
    delete_url = reverse("admin:donations_exchangerate_delete", args=[rate.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not ExchangeRate.objects.exists()
    history = list(
        ExchangeRateChange.objects.order_by("id").values_list("action", "currency", "changes")
    )
    assert history == [
        ("add", "MXN", {"per_euro": [None, "20.500000"], "source": [None, "MANUAL"]}),
        ("delete", "MXN", {"per_euro": ["20.500000", None], "source": ["MANUAL", None]}),
    ]
    assert client.get(reverse("admin:donations_exchangeratechange_changelist")).status_code == 200


def test_a_gift_keeps_the_rate_it_was_converted_at_after_the_rate_changes(
    cash_campaign, cash_volunteer, cash_superuser, demo_usd_today
):
    gift = donation_record_cash(
        campaign=cash_campaign,
        entered_by=cash_volunteer,
        gift=CashGift(amount=Decimal("10"), currency="EUR", received_on=timezone.localdate()),
        form_token=uuid.uuid4(),
    )
    assert (gift.amount_converted, gift.rate_source) == (Decimal("10.16"), "demo")

    exchange_rate_set(
        date=demo_usd_today.date, currency="USD", per_euro=Decimal("0.01"), by=cash_superuser
    )

    gift.refresh_from_db()
    assert (gift.amount_converted, gift.conversion_rate, gift.rate_source) == (
        Decimal("10.16"),
        Decimal("1.0163000000"),
        "demo",
    )
    later = donation_record_cash(
        campaign=cash_campaign,
        entered_by=cash_volunteer,
        gift=CashGift(amount=Decimal("20"), currency="EUR", received_on=timezone.localdate()),
        form_token=uuid.uuid4(),
    )
    # Gifts after the change say the rate was entered by hand, never "demo".
    assert (later.amount_converted, later.rate_source) == (Decimal("0.20"), "manual")
    assert Donation.objects.count() == 2


def test_an_import_keeps_a_history_row_for_each_new_or_changed_rate_only(data_dir):
    path = str(data_dir / "eurofxref-daily-2022-07-08.xml")
    call_command("import_rates", path)
    assert ExchangeRateChange.objects.filter(action="import", changed_by=None).count() == 31

    call_command("import_rates", path)
    assert ExchangeRateChange.objects.count() == 31

    usd = ExchangeRate.objects.get(currency="USD")
    usd.per_euro, usd.source = Decimal("0.01"), "MANUAL"
    usd.save()
    call_command("import_rates", path)
    latest = ExchangeRateChange.objects.filter(currency="USD").first()
    assert latest.changes == {
        "per_euro": ["0.010000", "1.016300"],
        "source": ["MANUAL", "ECB"],
    }
    assert ExchangeRateChange.objects.count() == 32
    assert datetime.date(2022, 7, 8) == latest.date
