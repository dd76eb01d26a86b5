"""Reads for organizers: the campaign report and the CSV export of every donation.

Each function returns evaluated data (the export streams it), so templates run no query.
The export reads rows with `iterator(chunk_size=...)` and writes them through a
pseudo-buffer, so a campaign with 100,000 gifts never sits in memory. Cells a spreadsheet
would read as a formula are neutralised (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from donations.models import RAISED, ZERO, Donation
from money import quantize


@dataclass(frozen=True)
class ReportRow:
    label: str
    count: int
    raised: Decimal


@dataclass(frozen=True)
class FeeRow:
    currency: str
    count: int
    fees: Decimal
    net: Decimal


@dataclass(frozen=True)
class CampaignReport:
    raised: Decimal
    count: int
    by_source: list[ReportRow]
    by_member: list[ReportRow]
    by_day: list[ReportRow]
    online_fees: list[FeeRow]
    online_unsettled: int
    cash_deposited: Decimal
    cash_undeposited: Decimal
    voided: ReportRow


def _money(value, currency: str) -> Decimal:
    return quantize(Decimal(value), currency)


def campaign_report(*, campaign: Campaign) -> CampaignReport:
    """Counted totals by source, team member and day, online fees and net, cash deposits.

    Amounts are in the campaign currency, except Stripe's fees and net, which are in the
    currency Stripe settled in (one row per settlement currency).
    """
    currency = campaign.currency
    gifts = Donation.objects.for_campaign(campaign)
    counted = gifts.counted()
    totals = counted.aggregate(raised=RAISED, count=Count("id"))
    sources = dict(Donation.Source.choices)
    by_source = [
        ReportRow(str(sources[row["source"]]), row["count"], _money(row["raised"], currency))
        for row in counted.values("source").annotate(raised=RAISED, count=Count("id")).order_by()
    ]
    by_member = [
        ReportRow(row["team_member__name"] or "", row["count"], _money(row["raised"], currency))
        for row in counted.values("team_member_id", "team_member__name", "team_member__position")
        .annotate(raised=RAISED, count=Count("id"))
        .order_by(F("team_member__position").asc(nulls_last=True), "team_member__name")
    ]
    day = TruncDate("received_at", tzinfo=timezone.get_current_timezone())
    by_day = [
        ReportRow(row["day"].isoformat(), row["count"], _money(row["raised"], currency))
        for row in counted.annotate(day=day)
        .values("day")
        .annotate(raised=RAISED, count=Count("id"))
        .order_by("day")
    ]
    online = counted.filter(source=Donation.Source.ONLINE)
    online_fees = [
        FeeRow(
            row["settlement_currency"],
            row["count"],
            _money(row["fees"], row["settlement_currency"]),
            _money(row["net"], row["settlement_currency"]),
        )
        for row in online.exclude(settlement_currency="")
        .values("settlement_currency")
        # A dispute's fee is Stripe's too: it adds to the fees and comes off the net.
        .annotate(
            fees=Coalesce(Sum("stripe_fee"), ZERO) + Coalesce(Sum("dispute_fee"), ZERO),
            net=Coalesce(Sum("net_amount"), ZERO) - Coalesce(Sum("dispute_fee"), ZERO),
        )
        .annotate(count=Count("id"))
        .order_by("settlement_currency")
    ]
    cash = counted.filter(source=Donation.Source.OFFLINE).aggregate(
        deposited=Coalesce(Sum("amount_converted", filter=Q(deposited_on__isnull=False)), ZERO),
        undeposited=Coalesce(Sum("amount_converted", filter=Q(deposited_on__isnull=True)), ZERO),
    )
    voided = gifts.filter(status=Donation.Status.VOIDED).aggregate(
        count=Count("id"), raised=Coalesce(Sum("amount_converted"), ZERO)
    )
    return CampaignReport(
        raised=_money(totals["raised"], currency),
        count=totals["count"],
        by_source=by_source,
        by_member=by_member,
        by_day=by_day,
        online_fees=online_fees,
        online_unsettled=online.filter(settlement_currency="").count(),
        cash_deposited=_money(cash["deposited"], currency),
        cash_undeposited=_money(cash["undeposited"], currency),
        voided=ReportRow(
            str(sources["offline"]), voided["count"], _money(voided["raised"], currency)
        ),
    )


CHUNK_SIZE = 2000
# A cell starting with one of these is run as a formula (OWASP "CSV injection"), and so is
# one starting with a look-alike that Unicode NFKC folds into one of them (the fullwidth and
# small forms, U+FF1D, U+FE66, ...) or with either after leading whitespace.
FORMULA_PREFIXES = ("=", "+", "-", "@")
# Control characters that start a formula or a new cell in some spreadsheets.
CONTROL_PREFIXES = ("\t", "\r", "\n")
# Column headers are in the organizer's language; the values are the stored codes
# (`online`, `voided`), so that a spreadsheet can filter on them in any language.
COLUMNS = [
    (_("Donation ID"), lambda d: d.id),
    (_("Received at"), lambda d: timezone.localtime(d.received_at).isoformat()),
    (_("Source"), lambda d: d.source),
    (_("Status"), lambda d: d.status),
    (_("Dispute"), lambda d: d.dispute_status),
    (_("Name"), lambda d: d.giver_name),
    (_("Anonymous"), lambda d: d.anonymous),
    (_("Name hidden by organizer"), lambda d: d.name_hidden_by_organizer),
    (_("Email"), lambda d: d.email),
    (_("Public message"), lambda d: d.message),
    (_("Message hidden by organizer"), lambda d: d.message_hidden_by_organizer),
    (_("Amount hidden"), lambda d: d.hide_amount),
    (_("Team member"), lambda d: d.team_member.name if d.team_member else ""),
    (_("Amount"), lambda d: d.amount),
    (_("Currency"), lambda d: d.currency),
    (_("Amount in campaign currency"), lambda d: d.amount_converted),
    (_("Campaign currency"), lambda d: d.campaign.currency),
    (_("Conversion rate"), lambda d: d.conversion_rate),
    (_("Rate date"), lambda d: d.rate_date),
    (_("Rate source"), lambda d: d.rate_source),
    (_("Refunded in campaign currency"), lambda d: d.amount_refunded_converted),
    (_("Fee cover"), lambda d: d.fee_cover_amount),
    (_("Amount charged"), lambda d: d.amount_charged),
    (_("Currency charged"), lambda d: d.currency_charged),
    (_("Stripe fee"), lambda d: d.stripe_fee),
    (_("Dispute fee"), lambda d: d.dispute_fee),
    (_("Net amount"), lambda d: d.net_amount),
    (_("Settlement currency"), lambda d: d.settlement_currency),
    (_("Location"), lambda d: d.location),
    (_("Private note"), lambda d: d.note),
    (_("Entered by"), lambda d: d.entered_by.get_username() if d.entered_by else ""),
    (_("Deposited"), lambda d: d.deposited_on is not None),
    (_("Deposited on"), lambda d: d.deposited_on),
    (_("Voided at"), lambda d: timezone.localtime(d.voided_at).isoformat() if d.voided_at else ""),
    (_("Voided by"), lambda d: d.voided_by.get_username() if d.voided_by else ""),
    (_("Void reason"), lambda d: d.void_reason),
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
    return f"'{text}" if _runs_as_formula(text) else text


def _runs_as_formula(text: str) -> bool:
    if text.startswith(CONTROL_PREFIXES):
        return True
    first = text.lstrip()[:1]
    return bool(first) and unicodedata.normalize("NFKC", first).startswith(FORMULA_PREFIXES)


def export_rows(*, campaign: Campaign) -> Iterator[list[str]]:
    """The header (in the active language, read now), then every donation of the campaign
    (voided ones too), oldest first, as the caller iterates."""
    header = [str(label) for label, _value in COLUMNS]
    return _rows(campaign, header)


def _rows(campaign: Campaign, header: list[str]) -> Iterator[list[str]]:
    yield header
    donations = (
        Donation.objects.for_campaign(campaign)
        .select_related("campaign", "team_member", "entered_by", "voided_by")
        .order_by("received_at", "id")
    )
    for donation in donations.iterator(chunk_size=CHUNK_SIZE):
        yield [neutralize_cell(value(donation)) for _name, value in COLUMNS]


def export_csv_lines(*, campaign: Campaign) -> Iterator[str]:
    """CSV lines to stream; the header's language is fixed when this is called."""
    writer = csv.writer(Echo())
    return (writer.writerow(row) for row in export_rows(campaign=campaign))
