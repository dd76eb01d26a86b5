"""Exchange rates: importing ECB reference rates and converting with them."""

from __future__ import annotations

import datetime
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from donations.models import Donation, ExchangeRate
from money import convert_through_euro, quantize

# How old a rate may be and still be used: covers weekends and the ECB's holidays.
MAX_RATE_AGE = datetime.timedelta(days=7)
RATE_PLACES = Decimal("0.0000000001")
ECB_NAMESPACE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"

# The one message people see when a gift cannot be converted (donate form, cash forms, admin).
NO_RATE_ERROR = _(
    "There is no stored exchange rate for %(currency)s on %(date)s, so a gift in %(currency)s "
    "cannot be counted in %(campaign_currency)s. Please use %(campaign_currency)s, or ask the "
    "organizers to load the rates."
)


class RateUnavailableError(Exception):
    """No usable reference rate: the gift cannot be converted and must not be stored."""

    def __init__(self, currency: str, date: datetime.date):
        self.currency = currency
        self.date = date
        super().__init__(f"No exchange rate for {currency} on or up to 7 days before {date}.")


def no_rate_error(
    *, currency: str, campaign_currency: str, on: datetime.date, field: str
) -> ValidationError:
    """The ValidationError, on `field`, for a gift in `currency` that cannot be converted."""
    params = {"currency": currency, "date": on.isoformat(), "campaign_currency": campaign_currency}
    return ValidationError({field: ValidationError(NO_RATE_ERROR, code="no_rate", params=params)})


@dataclass(frozen=True)
class ConvertedAmount:
    amount: Decimal
    rate: Decimal
    rate_date: datetime.date
    rate_source: str


def conversion_apply(*, donation: Donation, converted: ConvertedAmount) -> None:
    """Set the gift's amount in the campaign currency with the facts of its conversion.

    The only place the four conversion columns are written; the caller saves the gift.
    """
    donation.amount_converted = converted.amount
    donation.conversion_rate = converted.rate
    donation.rate_date = converted.rate_date
    donation.rate_source = converted.rate_source


# How a stored rate's source is recorded on the gift converted with it.
RATE_SOURCES = {
    ExchangeRate.Source.ECB: Donation.RateSource.ECB,
    ExchangeRate.Source.DEMO: Donation.RateSource.DEMO,
    ExchangeRate.Source.MANUAL: Donation.RateSource.MANUAL,
}


def _per_euro(currency: str, on: datetime.date) -> ExchangeRate:
    if currency == "EUR":
        return ExchangeRate(
            date=on, currency="EUR", per_euro=Decimal(1), source=ExchangeRate.Source.ECB
        )
    rate = (
        ExchangeRate.objects.filter(currency=currency, date__lte=on, date__gte=on - MAX_RATE_AGE)
        .order_by("-date")
        .only("per_euro", "date", "source")
        .first()
    )
    if rate is None:
        raise RateUnavailableError(currency, on)
    return rate


def convert_amount(
    *, amount: Decimal, currency: str, to_currency: str, on: datetime.date
) -> ConvertedAmount:
    """Convert with the latest ECB rates on or before `on` (at most 7 days older).

    Crosses through EUR and rounds once, half up, to `to_currency`'s decimals. The rate date
    returned is the older of the two rates used. Raises RateUnavailableError.
    """
    if currency == to_currency:
        return ConvertedAmount(
            quantize(amount, to_currency), Decimal(1), on, Donation.RateSource.SAME_CURRENCY
        )
    source = _per_euro(currency, on)
    target = _per_euro(to_currency, on)
    conversion = convert_through_euro(
        amount,
        source_currency=currency,
        target_currency=to_currency,
        source_per_euro=source.per_euro,
        target_per_euro=target.per_euro,
    )
    # A gift converted with a demo or hand-entered rate says so, never "ECB".
    kinds = {RATE_SOURCES.get(rate.source, Donation.RateSource.MANUAL) for rate in (source, target)}
    for kind in (Donation.RateSource.DEMO, Donation.RateSource.MANUAL, Donation.RateSource.ECB):
        if kind in kinds:
            break
    return ConvertedAmount(
        conversion.amount,
        conversion.rate.quantize(RATE_PLACES),
        min(source.date, target.date),
        kind,
    )


class RatesFileError(ValueError):
    """The file is not an ECB eurofxref document."""


def parse_ecb_xml(data: bytes) -> list[tuple[datetime.date, str, Decimal]]:
    """Read (date, currency, units per EUR) rows from an ECB eurofxref daily or history file."""
    try:
        root = ET.fromstring(data)  # noqa: S314  (ECB XML has no DTD; expat resolves no entities)
    except ET.ParseError as error:
        raise RatesFileError(f"Not XML: {error}") from error
    rows = []
    for day in root.iter(f"{ECB_NAMESPACE}Cube"):
        if "time" not in day.attrib:
            continue
        try:
            date = datetime.date.fromisoformat(day.attrib["time"])
        except ValueError as error:
            raise RatesFileError(f"Bad date {day.attrib['time']!r}") from error
        for cube in day:
            try:
                rows.append((date, cube.attrib["currency"], Decimal(cube.attrib["rate"])))
            except (KeyError, InvalidOperation) as error:
                raise RatesFileError(f"Bad rate entry {cube.attrib!r} on {date}") from error
    if not rows:
        raise RatesFileError("No rates found: is this an ECB eurofxref file?")
    return rows


def read_rates_source(file_or_url: str) -> bytes:
    if file_or_url.startswith(("https://", "http://")):
        with urllib.request.urlopen(file_or_url, timeout=30) as response:  # noqa: S310
            return response.read()
    with open(file_or_url, "rb") as handle:
        return handle.read()


def rates_import_ecb(*, data: bytes) -> tuple[int, int]:
    """Store every rate in an ECB eurofxref document; returns (created, updated).

    Idempotent: a rate already stored for that day and currency is updated in place.
    Currencies we cannot accept are stored too: they cost nothing and keep the file whole.
    """
    created = updated = 0
    with transaction.atomic():
        for date, currency, per_euro in parse_ecb_xml(data):
            _rate, was_created = ExchangeRate.objects.update_or_create(
                date=date,
                currency=currency,
                defaults={"per_euro": per_euro, "source": ExchangeRate.Source.ECB},
            )
            created += was_created
            updated += not was_created
    return created, updated
