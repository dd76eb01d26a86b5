"""One duration grammar for commands and rate limits (CONTRACTS.md: <number><unit>)."""

import datetime

import pytest

from donations.durations import RATE_UNITS, DurationError, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime.timedelta(minutes=30)),
        ("72h", datetime.timedelta(hours=72)),
        ("365d", datetime.timedelta(days=365)),
        (" 5m ", datetime.timedelta(minutes=5)),
    ],
)
def test_command_durations_take_minutes_hours_and_days(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30s", "72", "h", "0h", "-1h", "1.5h", "72 h", "1w", "", "72H"])
def test_anything_else_is_refused_with_the_grammar_in_the_message(text):
    with pytest.raises(DurationError) as raised:
        parse_duration(text)
    assert "<number><unit>, the unit m, h or d" in str(raised.value)


def test_rate_limit_windows_also_take_seconds_and_an_implied_one():
    assert parse_duration("m", units=RATE_UNITS, number_required=False) == datetime.timedelta(
        minutes=1
    )
    assert parse_duration("30s", units=RATE_UNITS) == datetime.timedelta(seconds=30)
