"""Exchange rates: importing ECB reference rates, a superuser's own rates, converting.

A rate converts the gifts of every campaign, so only superusers set one by hand
(`exchange_rate_set`, `exchange_rate_delete`; permissions.may_change_rates) and the ECB
import runs as a command. Every change leaves an ExchangeRateChange row saying who or what
made it. A gift keeps the rate it was converted at (its own columns): a later change of the
stored rate converts only the gifts recorded after it.
"""

from __future__ import annotations

import datetime
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from donations import permissions
from donations.models import Donation, ExchangeRate, ExchangeRateChange
from donations.services.history import (
    exchange_rate_change_recorded,
    exchange_rate_changes_recorded,
    exchange_rate_snapshot,
)
from money import convert_through_euro, currency_decimals, quantize

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


RATES_SUPERUSERS_ONLY = _("Only superusers change exchange rates.")
ECB_IMPORT_REASON = "ECB reference rates (import_rates)"


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


def largest_gift(*, currency: str, on: datetime.date) -> Decimal:
    """DONATION_MAX_USD in `currency` at the stored rate of `on`, rounded down to the
    currency's decimals: the largest gift, online or cash. Raises RateUnavailableError."""
    if currency == "USD":
        return settings.DONATION_MAX_USD
    rate = convert_amount(amount=Decimal(1), currency="USD", to_currency=currency, on=on).rate
    step = Decimal(1).scaleb(-currency_decimals(currency))
    return (settings.DONATION_MAX_USD * rate).quantize(step, rounding=ROUND_FLOOR)


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

    Idempotent: a rate already stored for that day and currency is updated in place (and
    becomes an ECB rate). Each rate that is new or whose value or source changed gets a
    history row. Currencies we cannot accept are stored too: they cost nothing and keep the
    file whole.
    """
    created = updated = 0
    changed: list[tuple[ExchangeRate, dict | None]] = []
    with transaction.atomic():
        for date, currency, per_euro in parse_ecb_xml(data):
            rate = ExchangeRate.objects.select_for_update().filter(date=date, currency=currency)
            rate = rate.first()
            if rate is None:
                rate = ExchangeRate.objects.create(
                    date=date, currency=currency, per_euro=per_euro, source=ExchangeRate.Source.ECB
                )
                changed.append((rate, None))
                created += 1
                continue
            updated += 1
            before = exchange_rate_snapshot(rate)
            rate.per_euro, rate.source = per_euro, ExchangeRate.Source.ECB
            if exchange_rate_snapshot(rate) != before:
                rate.save(update_fields=["per_euro", "source"])
                changed.append((rate, before))
        exchange_rate_changes_recorded(
            changed=changed, action=ExchangeRateChange.Action.IMPORT, reason=ECB_IMPORT_REASON
        )
    return created, updated


def exchange_rate_set(
    *, date: datetime.date, currency: str, per_euro: Decimal, by, reason: str = ""
) -> ExchangeRate:
    """A superuser's own rate for a day and currency (new, or replacing the stored one).

    It is stored as a hand-entered rate (source MANUAL), so gifts converted with it say so,
    never "ECB" or "demo". The change is kept in the rate's history with who made it. Gifts
    already converted keep their rate. Raises PermissionDenied for anyone but a superuser,
    ValidationError for a rate that is not a positive number or a currency that is not a code.
    """
    if not permissions.may_change_rates(by):
        raise PermissionDenied(RATES_SUPERUSERS_ONLY)
    with transaction.atomic():
        rate = ExchangeRate.objects.select_for_update().filter(date=date, currency=currency).first()
        before = None if rate is None else exchange_rate_snapshot(rate)
        if rate is None:
            rate = ExchangeRate(date=date, currency=currency)
        rate.per_euro = per_euro
        rate.source = ExchangeRate.Source.MANUAL
        rate.full_clean(validate_unique=before is None)
        rate.save()
        action = ExchangeRateChange.Action.ADD if before is None else ExchangeRateChange.Action.EDIT
        exchange_rate_change_recorded(rate=rate, before=before, action=action, by=by, reason=reason)
    return rate


def exchange_rate_delete(*, rate: ExchangeRate, by, reason: str = "") -> None:
    """A superuser removes a stored rate; its history keeps what it was and who removed it.
    Gifts converted with it keep their rate. Raises PermissionDenied for anyone else."""
    if not permissions.may_change_rates(by):
        raise PermissionDenied(RATES_SUPERUSERS_ONLY)
    with transaction.atomic():
        locked = ExchangeRate.objects.select_for_update().filter(pk=rate.pk).first()
        if locked is None:
            return
        exchange_rate_change_recorded(
            rate=locked,
            before=exchange_rate_snapshot(locked),
            action=ExchangeRateChange.Action.DELETE,
            by=by,
            reason=reason,
            deleted=True,
        )
        locked.delete()
