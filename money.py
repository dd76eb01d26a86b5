"""Exact money helpers shared by every app. Imports no app of ours.

Amounts are `Decimal` with an ISO 4217 code, from the form to the database and back. Decimal
places and symbols come from CLDR through Babel; Stripe's own unit rules live in
`donations/stripe_gateway.py`, not here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel import Locale
from babel.numbers import format_currency, format_decimal
from babel.numbers import get_currency_precision as cldr_precision

# Currencies we accept: those the European Central Bank publishes reference rates for (so a
# gift in any of them can be converted into any campaign's currency) and that Stripe can
# charge with at most two decimals. The ECB list is in its eurofxref feed; Stripe's is at
# https://docs.stripe.com/currencies.
SUPPORTED_CURRENCIES: tuple[str, ...] = (
    "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF",
    "IDR", "ILS", "INR", "ISK", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN",
    "RON", "SEK", "SGD", "THB", "TRY", "USD", "ZAR",
)  # fmt: skip

CURRENCY_CHOICES = [(code, code) for code in SUPPORTED_CURRENCIES]


class MoneyError(ValueError):
    """An amount or currency that cannot be handled exactly."""


def currency_decimals(currency: str) -> int:
    """Decimal places CLDR uses for `currency` (2 for USD, 0 for JPY)."""
    return cldr_precision(currency)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round once, half up, to the currency's decimal places."""
    if not isinstance(amount, Decimal):
        raise MoneyError(f"Money must be a Decimal, not {type(amount).__name__}.")
    exponent = Decimal(1).scaleb(-currency_decimals(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


# A person's amount: digits, at most one decimal point, no exponent and no grouping commas
# ("1,000" and "1,5" mean different things in different languages, so neither is guessed).
PLAIN_AMOUNT = re.compile(r"^[+-]?(\d{1,12})(\.\d{0,12})?$|^[+-]?\.\d{1,12}$")


def parse_amount(text: str) -> Decimal:
    """Read a plain decimal number ("12.50") typed by a person; never goes through float.

    At most 12 digits before and after the point, so that every amount fits the database
    columns and exact Decimal arithmetic; anything else raises MoneyError.
    """
    if not isinstance(text, str) or not PLAIN_AMOUNT.match(text.strip()):
        raise MoneyError(f"{text!r} is not a plain decimal number.")
    return Decimal(text.strip())


def has_at_most_decimals(amount: Decimal, places: int) -> bool:
    try:
        return amount == amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # too many digits to quantize: certainly not a valid amount
        return False


def format_money(amount: Decimal, currency: str, locale: Locale | str) -> str:
    """Format for display in `locale`, rounded half up first (Babel alone rounds half even).

    A zero is never shown negative. Formatted amounts are kept (the same few amounts recur
    all through a giver list, and Babel takes tens of microseconds for each).
    """
    rounded = quantize(amount, currency)
    return _formatted(rounded if rounded else abs(rounded), currency, locale)


@functools.lru_cache(maxsize=4096)
def _formatted(amount: Decimal, currency: str, locale: Locale | str) -> str:
    return format_currency(amount, currency, locale=locale)


def format_money_short(amount: Decimal, currency: str, locale: Locale | str) -> str:
    """Like format_money, without the decimals when the amount is whole ($25, not $25.00):
    for suggested amounts, where the cents only add noise."""
    if amount != amount.to_integral_value():
        return format_money(amount, currency, locale)
    pattern = Locale.parse(locale).currency_formats["standard"].pattern
    whole = re.sub(r"\.0+", "", pattern)
    return format_currency(amount, currency, format=whole, locale=locale, currency_digits=False)


def format_number(number: int | Decimal, locale: Locale | str) -> str:
    """A count with the locale's grouping separators (12,345 or 12 345)."""
    return format_decimal(number, locale=locale)


@dataclass(frozen=True)
class Conversion:
    """An amount converted into another currency, with the facts needed to audit it."""

    amount: Decimal
    currency: str
    rate: Decimal


def convert_through_euro(
    amount: Decimal,
    *,
    source_currency: str,
    target_currency: str,
    source_per_euro: Decimal,
    target_per_euro: Decimal,
) -> Conversion:
    """Convert with two per-EUR reference rates, rounding once at the end.

    `rate` is the exact cross rate (target units per source unit) before rounding; it is
    stored beside the converted amount so that the conversion can be audited later.
    """
    if source_per_euro <= 0 or target_per_euro <= 0:
        raise MoneyError("Exchange rates must be positive.")
    if source_currency == target_currency:
        return Conversion(quantize(amount, target_currency), target_currency, Decimal(1))
    cross_rate = target_per_euro / source_per_euro
    converted = amount * target_per_euro / source_per_euro
    return Conversion(quantize(converted, target_currency), target_currency, cross_rate)
