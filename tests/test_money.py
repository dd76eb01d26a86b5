from decimal import Decimal

import pytest
from babel import Locale

from money import (
    SUPPORTED_CURRENCIES,
    MoneyError,
    convert_through_euro,
    currency_decimals,
    format_money,
    format_number,
    has_at_most_decimals,
    parse_amount,
    quantize,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "USD", "2.35"),
        ("2.335", "USD", "2.34"),
        ("-2.345", "USD", "-2.35"),
        ("1234.5", "JPY", "1235"),
        ("1233.5", "JPY", "1234"),
        ("10", "EUR", "10.00"),
    ],
)
def test_quantize_rounds_half_up_to_the_currency_decimals(amount, currency, expected):
    result = quantize(Decimal(amount), currency)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_quantize_refuses_a_float():
    with pytest.raises(MoneyError):
        quantize(2.5, "USD")


def test_currency_decimals_come_from_cldr():
    assert currency_decimals("USD") == 2
    assert currency_decimals("JPY") == 0
    assert currency_decimals("MXN") == 2


@pytest.mark.parametrize(
    ("locale", "currency", "expected"),
    [
        ("en_US", "USD", "$1,234.50"),
        ("en_US", "EUR", "€1,234.50"),
        ("en_US", "MXN", "MX$1,234.50"),
        ("en_US", "JPY", "¥1,235"),
        ("es_US", "USD", "$1,234.50"),
        ("es_US", "EUR", "EUR1,234.50"),
        ("es_US", "MXN", "MXN1,234.50"),
        ("es_US", "JPY", "¥1,235"),
    ],
)
def test_format_money_in_english_and_spanish(locale, currency, expected):
    assert format_money(Decimal("1234.5"), currency, locale) == expected


def test_format_money_rounds_half_up_where_babel_alone_would_round_half_even():
    assert format_money(Decimal("0.125"), "USD", "en_US") == "$0.13"
    assert format_money(Decimal("2.5"), "JPY", "en_US") == "¥3"


def test_a_zero_is_never_shown_negative_even_after_a_negative_zero_was_formatted():
    assert format_money(Decimal("-0.001"), "USD", "en_US") == "$0.00"
    assert format_money(Decimal("0"), "USD", "en_US") == "$0.00"
    assert format_money(Decimal("-1.5"), "USD", "en_US") == "-$1.50"


def test_a_locale_object_formats_like_its_name_and_both_are_kept_apart():
    assert format_money(Decimal("7"), "EUR", Locale.parse("es_US")) == "EUR7.00"
    assert format_money(Decimal("7"), "EUR", "en_US") == "€7.00"


def test_format_number_groups_thousands():
    assert format_number(1234567, "en_US") == "1,234,567"
    assert format_number(12345, "es_US") == "12,345"


@pytest.mark.parametrize(("text", "expected"), [("12.50", "12.50"), (" 7 ", "7"), ("0.01", "0.01")])
def test_parse_amount_reads_exact_decimals(text, expected):
    assert parse_amount(text) == Decimal(expected)
    assert isinstance(parse_amount(text), Decimal)


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1,5", "1,000", "NaN", "Infinity", "-inf", "12.5.0", None, "1e3", "1e30",
     "9" * 29, "0." + "1" * 13],
)  # fmt: skip
def test_parse_amount_refuses_what_is_not_a_finite_number(text):
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_has_at_most_decimals_is_false_for_an_amount_too_long_to_quantize():
    assert has_at_most_decimals(Decimal("1e30"), 2) is False
    assert has_at_most_decimals(Decimal("12.50"), 2) is True
    assert has_at_most_decimals(Decimal("12.5"), 0) is False


def test_convert_through_euro_crosses_two_per_euro_rates_and_rounds_once():
    conversion = convert_through_euro(
        Decimal("500"),
        source_currency="MXN",
        target_currency="USD",
        source_per_euro=Decimal("20.8477"),
        target_per_euro=Decimal("1.0163"),
    )
    # 500 * 1.0163 / 20.8477 = 24.3743914…
    assert conversion.amount == Decimal("24.37")
    assert conversion.currency == "USD"
    assert conversion.rate == Decimal("1.0163") / Decimal("20.8477")


def test_convert_through_euro_into_a_zero_decimal_currency():
    conversion = convert_through_euro(
        Decimal("1000.00"),
        source_currency="USD",
        target_currency="JPY",
        source_per_euro=Decimal("1.0163"),
        target_per_euro=Decimal("138.05"),
    )
    # 1000 * 138.05 / 1.0163 = 135835.875…
    assert conversion.amount == Decimal("135836")


def test_convert_through_euro_from_euro_uses_the_target_rate():
    conversion = convert_through_euro(
        Decimal("50.00"),
        source_currency="EUR",
        target_currency="USD",
        source_per_euro=Decimal(1),
        target_per_euro=Decimal("1.0163"),
    )
    assert conversion.amount == Decimal("50.82")
    assert conversion.rate == Decimal("1.0163")


def test_convert_through_euro_in_the_same_currency_only_quantizes():
    conversion = convert_through_euro(
        Decimal("10.005"),
        source_currency="USD",
        target_currency="USD",
        source_per_euro=Decimal("1.0163"),
        target_per_euro=Decimal("1.0163"),
    )
    assert conversion.amount == Decimal("10.01")
    assert conversion.rate == Decimal(1)


def test_convert_through_euro_refuses_a_non_positive_rate():
    with pytest.raises(MoneyError):
        convert_through_euro(
            Decimal("1"),
            source_currency="MXN",
            target_currency="USD",
            source_per_euro=Decimal(0),
            target_per_euro=Decimal("1.0163"),
        )


def test_supported_currencies_have_at_most_two_decimals():
    assert all(currency_decimals(code) <= 2 for code in SUPPORTED_CURRENCIES)
    assert {"USD", "EUR", "MXN", "JPY"} <= set(SUPPORTED_CURRENCIES)
