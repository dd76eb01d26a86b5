"""The organizers' CSV export: every donation of a campaign, streamed row by row.

Rows are read with `iterator(chunk_size=...)` and written through a pseudo-buffer, so a
campaign with 100,000 gifts never sits in memory. Cells a spreadsheet would read as a formula
are neutralised (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.utils import timezone

from campaigns.models import Campaign
from donations.models import Donation

CHUNK_SIZE = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = [
    ("id", lambda d: d.id),
    ("received_at", lambda d: timezone.localtime(d.received_at).isoformat()),
    ("source", lambda d: d.source),
    ("status", lambda d: d.status),
    ("dispute_status", lambda d: d.dispute_status),
    ("name", lambda d: d.giver_name),
    ("anonymous", lambda d: d.anonymous),
    ("name_hidden_by_organizer", lambda d: d.name_hidden_by_organizer),
    ("email", lambda d: d.email),
    ("message", lambda d: d.message),
    ("message_hidden_by_organizer", lambda d: d.message_hidden_by_organizer),
    ("hide_amount", lambda d: d.hide_amount),
    ("team_member", lambda d: d.team_member.name if d.team_member else ""),
    ("amount", lambda d: d.amount),
    ("currency", lambda d: d.currency),
    ("amount_converted", lambda d: d.amount_converted),
    ("campaign_currency", lambda d: d.campaign.currency),
    ("conversion_rate", lambda d: d.conversion_rate),
    ("rate_date", lambda d: d.rate_date),
    ("rate_source", lambda d: d.rate_source),
    ("amount_refunded_converted", lambda d: d.amount_refunded_converted),
    ("fee_cover_amount", lambda d: d.fee_cover_amount),
    ("amount_charged", lambda d: d.amount_charged),
    ("currency_charged", lambda d: d.currency_charged),
    ("stripe_fee", lambda d: d.stripe_fee),
    ("net_amount", lambda d: d.net_amount),
    ("settlement_currency", lambda d: d.settlement_currency),
    ("location", lambda d: d.location),
    ("note", lambda d: d.note),
    ("entered_by", lambda d: d.entered_by.get_username() if d.entered_by else ""),
    ("deposited", lambda d: d.deposited_on is not None),
    ("deposited_on", lambda d: d.deposited_on),
    ("voided_at", lambda d: timezone.localtime(d.voided_at).isoformat() if d.voided_at else ""),
    ("voided_by", lambda d: d.voided_by.get_username() if d.voided_by else ""),
    ("void_reason", lambda d: d.void_reason),
]


class Echo:
    """A file-like object whose write() hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def neutralize_cell(value: object) -> str:
    """The cell as text, with a leading apostrophe if a spreadsheet would run it."""
    if value is None:
        return ""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def export_rows(*, campaign: Campaign) -> Iterator[list[str]]:
    """The header, then every donation of the campaign (voided ones too), oldest first."""
    yield [name for name, _value in COLUMNS]
    donations = (
        Donation.objects.for_campaign(campaign)
        .select_related("campaign", "team_member", "entered_by", "voided_by")
        .order_by("received_at", "id")
    )
    for donation in donations.iterator(chunk_size=CHUNK_SIZE):
        yield [neutralize_cell(value(donation)) for _name, value in COLUMNS]


def export_csv_lines(*, campaign: Campaign) -> Iterator[str]:
    writer = csv.writer(Echo())
    for row in export_rows(campaign=campaign):
        yield writer.writerow(row)
