"""The one grammar for durations: `<number><unit>`, unit `m`, `h` or `d` (CONTRACTS.md).

Commands take durations (`reconcile_stripe --since 72h`, `purge_donor_data --older-than
365d`); rate limits take a count per duration (`5/m`, `20/h`), where seconds are allowed too
and a missing number means one (`m` is `1m`).
"""

from __future__ import annotations

import argparse
import datetime
import re

UNIT_SECONDS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
COMMAND_UNITS = "mhd"
RATE_UNITS = "smhd"
DURATION = re.compile(r"^(?P<number>\d{1,9})?(?P<unit>[a-z])$")


class DurationError(ValueError):
    """Text that is not a duration in the allowed units."""


def parse_duration(text: str, *, units: str = COMMAND_UNITS, number_required: bool = True):
    """'72h' → timedelta(hours=72). Raises DurationError for anything else, zero included."""
    match = DURATION.match(text.strip()) if isinstance(text, str) else None
    if (
        match is None
        or match["unit"] not in units
        or (number_required and match["number"] is None)
        or (match["number"] is not None and int(match["number"]) == 0)
    ):
        unit_list = ", ".join(units[:-1]) + f" or {units[-1]}"
        raise DurationError(
            f"Write a duration as <number><unit>, the unit {unit_list} (e.g. 72h), not {text!r}."
        )
    number = int(match["number"] or 1)
    return datetime.timedelta(seconds=number * UNIT_SECONDS[match["unit"]])


def duration_argument(text: str) -> datetime.timedelta:
    """parse_duration as an argparse `type=`: a bad duration is a usage error, not a crash."""
    try:
        return parse_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
