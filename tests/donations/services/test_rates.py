import datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from donations.models import Donation, ExchangeRate
from donations.services.rates import RateUnavailableError, convert_amount
from tests.factories import ExchangeRateFactory

pytestmark = pytest.mark.django_db

FRIDAY = datetime.date(2022, 7, 8)
SUNDAY = datetime.date(2022, 7, 10)


@pytest.fixture
def friday_rates():
    ExchangeRateFactory(date=FRIDAY, currency="USD", per_euro=Decimal("1.0163"))
    ExchangeRateFactory(date=FRIDAY, currency="MXN", per_euro=Decimal("20.8477"))
    ExchangeRateFactory(date=FRIDAY, currency="JPY", per_euro=Decimal("138.05"))
    ExchangeRateFactory(
        date=FRIDAY - datetime.timedelta(days=1), currency="USD", per_euro=Decimal("1.0")
    )


def test_weekend_date_uses_fridays_rate(friday_rates):
    converted = convert_amount(
        amount=Decimal("50.00"), currency="EUR", to_currency="USD", on=SUNDAY
    )
    assert converted.amount == Decimal("50.82")
    assert converted.rate == Decimal("1.0163000000")
    assert converted.rate_date == FRIDAY
    assert converted.rate_source == Donation.RateSource.ECB


def test_a_demo_rate_is_never_reported_as_an_ecb_rate(friday_rates):
    ExchangeRateFactory(date=SUNDAY, currency="USD", per_euro=Decimal("1.0163"), source="DEMO")
    converted = convert_amount(
        amount=Decimal("50.00"), currency="EUR", to_currency="USD", on=SUNDAY
    )
    assert converted.rate_source == Donation.RateSource.DEMO


def test_a_rate_entered_by_hand_is_reported_as_manual(friday_rates):
    ExchangeRateFactory(date=SUNDAY, currency="USD", per_euro=Decimal("1.02"), source="MANUAL")
    converted = convert_amount(
        amount=Decimal("50.00"), currency="EUR", to_currency="USD", on=SUNDAY
    )
    assert converted.amount == Decimal("51.00")
    assert converted.rate_source == Donation.RateSource.MANUAL


def test_cross_rate_goes_through_euro_and_rounds_once(friday_rates):
    converted = convert_amount(
        amount=Decimal("500.00"), currency="MXN", to_currency="USD", on=FRIDAY
    )
    # 500 * 1.0163 / 20.8477 = 24.3743914…
    assert converted.amount == Decimal("24.37")
    assert converted.rate == Decimal("0.0487487828")
    assert converted.rate_date == FRIDAY


def test_conversion_into_a_zero_decimal_currency_rounds_half_up_to_whole_units(friday_rates):
    converted = convert_amount(
        amount=Decimal("1000.00"), currency="USD", to_currency="JPY", on=FRIDAY
    )
    assert converted.amount == Decimal("135836")


def test_rate_date_is_the_older_of_the_two_rates(friday_rates):
    ExchangeRateFactory(date=SUNDAY, currency="MXN", per_euro=Decimal("21"))
    converted = convert_amount(
        amount=Decimal("21.00"), currency="MXN", to_currency="USD", on=SUNDAY
    )
    assert converted.amount == Decimal("1.02")
    assert converted.rate_date == FRIDAY


def test_a_rate_seven_days_old_is_still_used(friday_rates):
    on = FRIDAY + datetime.timedelta(days=7)
    converted = convert_amount(amount=Decimal("10.00"), currency="EUR", to_currency="USD", on=on)
    assert converted.amount == Decimal("10.16")


def test_a_rate_older_than_seven_days_is_refused(friday_rates):
    on = FRIDAY + datetime.timedelta(days=8)
    with pytest.raises(RateUnavailableError) as error:
        convert_amount(amount=Decimal("10.00"), currency="EUR", to_currency="USD", on=on)
    assert error.value.currency == "USD"
    assert str(error.value) == "No exchange rate for USD on or up to 7 days before 2022-07-16."


def test_a_rate_after_the_date_is_never_used(friday_rates):
    with pytest.raises(RateUnavailableError):
        convert_amount(
            amount=Decimal("10.00"),
            currency="EUR",
            to_currency="MXN",
            on=FRIDAY - datetime.timedelta(days=1),
        )


def test_a_currency_without_any_rate_is_refused(friday_rates):
    with pytest.raises(RateUnavailableError) as error:
        convert_amount(amount=Decimal("10.00"), currency="CAD", to_currency="USD", on=FRIDAY)
    assert error.value.currency == "CAD"


def test_same_currency_needs_no_rate():
    converted = convert_amount(
        amount=Decimal("10.005"), currency="USD", to_currency="USD", on=FRIDAY
    )
    assert converted.amount == Decimal("10.01")
    assert converted.rate == Decimal(1)
    assert converted.rate_date == FRIDAY
    assert converted.rate_source == Donation.RateSource.SAME_CURRENCY


def test_import_rates_loads_the_ecb_daily_file(data_dir, capsys):
    call_command("import_rates", str(data_dir / "eurofxref-daily-2022-07-08.xml"))
    assert ExchangeRate.objects.count() == 31
    assert ExchangeRate.objects.filter(date=FRIDAY).count() == 31
    usd = ExchangeRate.objects.get(date=FRIDAY, currency="USD")
    assert usd.per_euro == Decimal("1.0163")
    assert usd.source == "ECB"
    assert ExchangeRate.objects.get(date=FRIDAY, currency="JPY").per_euro == Decimal("138.05")
    assert "31 new, 0 updated" in capsys.readouterr().out


def test_import_rates_twice_changes_nothing(data_dir, capsys):
    path = str(data_dir / "eurofxref-daily-2022-07-08.xml")
    call_command("import_rates", path)
    call_command("import_rates", path)
    assert ExchangeRate.objects.count() == 31
    assert ExchangeRate.objects.get(date=FRIDAY, currency="MXN").per_euro == Decimal("20.8477")
    assert "0 new, 31 updated" in capsys.readouterr().out


def test_import_rates_then_convert_a_weekend_gift(data_dir):
    call_command("import_rates", str(data_dir / "eurofxref-daily-2022-07-08.xml"))
    converted = convert_amount(
        amount=Decimal("500.00"), currency="MXN", to_currency="USD", on=SUNDAY
    )
    assert converted.amount == Decimal("24.37")


@pytest.mark.parametrize(
    "content",
    [
        b"this is not xml",
        b"<?xml version='1.0'?><root><item/></root>",
        b"<gesmes:Envelope xmlns:gesmes='http://www.gesmes.org/xml/2002-08-01' "
        b"xmlns='http://www.ecb.int/vocabulary/2002-08-01/eurofxref'><Cube><Cube time='2022-07-08'>"
        b"<Cube currency='USD' rate='lots'/></Cube></Cube></gesmes:Envelope>",
    ],
)
def test_import_rates_refuses_a_bad_file_and_stores_nothing(tmp_path, content):
    path = tmp_path / "rates.xml"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="Could not import rates"):
        call_command("import_rates", str(path))
    assert ExchangeRate.objects.count() == 0


def test_import_rates_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Could not import rates"):
        call_command("import_rates", str(tmp_path / "missing.xml"))
