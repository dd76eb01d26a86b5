"""Reads for pages: everything the campaign page shows about gifts, in a fixed number of queries."""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, models
from django.db.models import F, Q, Sum, Value
from django.db.models.functions import Cast

from donations.models import Donation, GiftTally, MonthlyGift, PublicFace
from money import quantize

GIVERS_PER_PAGE = 50
# The campaign and member pages open with the most recent gifts only: a short page on a
# phone, and a cheap one to render again after every gift (docs/performance.md).
RECENT_GIVERS = 10
# The columns of a giver list entry, in the same order for both kinds of entry (a UNION
# ALL needs it): a single gift, or a monthly gift with the running total of its months.
ENTRY_COLUMNS = (
    "id",
    "source",
    "giver_name",
    "anonymous",
    "name_hidden_by_organizer",
    "hide_amount",
    "message",
    "message_hidden_by_organizer",
    "amount",
    "currency",
    "counted",
    "listed_at",
    "months",
)
# The constant columns are cast to exactly the type of the other branch's column: PostgreSQL
# flattens a UNION ALL into one ordered scan of both indexes only when no column needs a
# type coercion.
SOURCE_TYPE = models.CharField(max_length=Donation._meta.get_field("source").max_length)


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class CampaignTotals:
    raised: Decimal
    donor_count: int
    raised_by_member: dict[int, Decimal] = field(default_factory=dict)
    # Active monthly gifts, and what they give each month in the campaign currency.
    monthly_count: int = 0
    monthly_amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class Giver(PublicFace):
    """One entry of the giver list: a gift, or a monthly gift once (`months` > 0) with the
    running total of its months in `counted_amount` and its first month in `received_at`."""

    id: uuid.UUID
    source: str
    giver_name: str
    anonymous: bool
    name_hidden_by_organizer: bool
    hide_amount: bool
    message: str
    message_hidden_by_organizer: bool
    amount: Decimal  # the gift, or what the monthly gift gives each month
    currency: str
    counted_amount: Decimal
    received_at: datetime.datetime
    months: int = 0

    @property
    def monthly(self) -> bool:
        return self.months > 0


@dataclass(frozen=True)
class GiverPage:
    givers: list[Giver]
    next_cursor: str | None


def campaign_totals(*, campaign) -> CampaignTotals:
    """Raised, gift count and per-member totals, from the campaign's running tallies.

    One query over a handful of rows (one per team member and source), whatever the number
    of gifts; services/totals.py keeps the tallies in step with every gift.
    """
    raised_by_member: dict[int, Decimal] = {}
    raised, donor_count = Decimal(0), 0
    monthly_count, monthly_amount = 0, Decimal(0)
    tallies = GiftTally.objects.filter(campaign=campaign).only(
        "member_key", "raised", "gifts", "monthly_active", "monthly_amount"
    )
    for tally in tallies:
        raised += tally.raised
        donor_count += tally.gifts
        monthly_count += tally.monthly_active
        monthly_amount += tally.monthly_amount
        if tally.member_key:
            member_raised = raised_by_member.get(tally.member_key, Decimal(0)) + tally.raised
            raised_by_member[tally.member_key] = quantize(member_raised, campaign.currency)
    return CampaignTotals(
        raised=quantize(raised, campaign.currency),
        donor_count=donor_count,
        raised_by_member=raised_by_member,
        monthly_count=monthly_count,
        monthly_amount=quantize(monthly_amount, campaign.currency),
    )


def encode_cursor(giver: Giver | Donation) -> str:
    raw = f"{giver.received_at.isoformat()}|{giver.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        received_at, donation_id = base64.urlsafe_b64decode(padded).decode().split("|")
        moment, donation_uuid = datetime.datetime.fromisoformat(received_at), uuid.UUID(donation_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursorError(cursor) from error
    if moment.tzinfo is None:  # we only make aware cursors; a naive one would be misread
        raise InvalidCursorError(cursor)
    try:
        # In UTC: PostgreSQL refuses offsets of 16 hours or more, which Python accepts.
        return moment.astimezone(datetime.UTC), donation_uuid
    except OverflowError as error:  # a moment near year 1 or 9999 that UTC cannot hold
        raise InvalidCursorError(cursor) from error


def _older_than(moment_field: str, moment: datetime.datetime, giver_id: uuid.UUID) -> Q:
    """Keyset pagination: entries older than (moment, id) in newest-first order. The
    redundant `<=` gives the database a range to seek in the index (see
    DonationQuerySet.before_cursor)."""
    return Q(**{f"{moment_field}__lte": moment}) & (
        Q(**{f"{moment_field}__lt": moment}) | Q(id__lt=giver_id)
    )


def giver_page(
    *, campaign, member=None, after: str | None = None, size: int = GIVERS_PER_PAGE
) -> GiverPage:
    """The giver list, newest first, `size` at a time; keyset-paginated by (time, id).

    One entry per counted single gift, and one per monthly gift with a counted month (at
    the time of its first month, with the running total of all its months), never one per
    month. One query: a UNION ALL of two index range scans (`donation_giver_list_single`,
    which leaves months out, and `monthly_giver_list`), each bounded by the cursor and
    ordered like the index, under one ORDER BY ... LIMIT that asks for one row more than
    the page to know whether older givers exist. Its cost does not grow with the number of
    gifts or months. Raises InvalidCursorError for a cursor we did not make, or one that
    points at no gift or monthly gift of the campaign (made up: each would be a page of its
    own, rendered and cached for nothing).
    """
    singles = Donation.objects.for_campaign(campaign).counted().filter(monthly_gift__isnull=True)
    monthly = MonthlyGift.objects.filter(campaign=campaign, months__gt=0, started_at__isnull=False)
    if member is not None:
        singles = singles.filter(team_member=member)
        monthly = monthly.filter(team_member=member)
    if after:
        moment, giver_id = decode_cursor(after)
        if not _listed(campaign, moment, giver_id):
            raise InvalidCursorError(after)
        singles = singles.filter(_older_than("received_at", moment, giver_id))
        monthly = monthly.filter(_older_than("started_at", moment, giver_id))
    singles = (
        singles.annotate(
            counted=F("amount_converted") - F("amount_refunded_converted"),
            listed_at=F("received_at"),
            months=Cast(Value(0), models.BigIntegerField()),
        )
        .values_list(*ENTRY_COLUMNS)
        .order_by()
    )
    monthly = (
        monthly.annotate(
            source=Cast(Value(Donation.Source.ONLINE.value), SOURCE_TYPE),
            counted=F("raised"),
            listed_at=F("started_at"),
        )
        .values_list(*ENTRY_COLUMNS)
        .order_by()
    )
    wanted = size + 1
    if connection.features.supports_slicing_ordering_in_compound:
        # Each branch reads at most a page, in its index's order (PostgreSQL plans the
        # branches of a UNION apart: without its own ORDER BY ... LIMIT a branch would read
        # every gift of the campaign before the outer sort).
        singles = singles.order_by("-listed_at", "-id")[:wanted]
        monthly = monthly.order_by("-listed_at", "-id")[:wanted]
    # SQLite merges the branches itself, each in its index's order, and stops at the LIMIT.
    both = singles.union(monthly, all=True).order_by("-listed_at", "-id")
    rows = [_giver(row) for row in both[:wanted]]
    givers = rows[:size]
    next_cursor = encode_cursor(givers[-1]) if len(rows) > size else None
    return GiverPage(givers=givers, next_cursor=next_cursor)


def _listed(campaign, moment: datetime.datetime, giver_id: uuid.UUID) -> bool:
    """Whether (moment, id) is where an entry of the campaign's giver list stands: a gift
    received then, or a monthly gift that started then (one query, by primary key)."""
    gifts = Donation.objects.filter(campaign=campaign, pk=giver_id, received_at=moment)
    monthly = MonthlyGift.objects.filter(campaign=campaign, pk=giver_id, started_at=moment)
    return gifts.values("pk").union(monthly.values("pk"), all=True).exists()


CENTS = Decimal("0.01")  # the scale of every money column (models.MONEY)


def _giver(row: tuple) -> Giver:
    values = dict(zip(ENTRY_COLUMNS, row, strict=True))
    listed_at = values.pop("listed_at")
    counted = Decimal(values.pop("counted")).quantize(CENTS)  # SQLite's NUMERIC drops the scale
    return Giver(**values, counted_amount=counted, received_at=listed_at)


def raised_by_campaign(*, campaign_ids: list[int]) -> dict[int, Decimal]:
    """Raised per campaign for a list page, in one grouped query over the tallies."""
    rows = (
        GiftTally.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(raised=Sum("raised"))
        .order_by()
    )
    return {row["campaign_id"]: Decimal(row["raised"]) for row in rows}
