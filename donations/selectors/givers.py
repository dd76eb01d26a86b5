"""Reads for pages: everything the campaign page shows about gifts, in a fixed number of queries."""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from donations.models import Donation, GiftTally
from money import quantize

GIVERS_PER_PAGE = 50
GIVER_LIST_FIELDS = (
    "id",
    "campaign_id",
    "source",
    "giver_name",
    "anonymous",
    "name_hidden_by_organizer",
    "hide_amount",
    "message",
    "message_hidden_by_organizer",
    "amount",
    "currency",
    "amount_converted",
    "amount_refunded_converted",
    "received_at",
)


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class CampaignTotals:
    raised: Decimal
    donor_count: int
    raised_by_member: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class GiverPage:
    givers: list[Donation]
    next_cursor: str | None


def campaign_totals(*, campaign) -> CampaignTotals:
    """Raised, gift count and per-member totals, from the campaign's running tallies.

    One query over a handful of rows (one per team member and source), whatever the number
    of gifts; services/totals.py keeps the tallies in step with every gift.
    """
    raised_by_member: dict[int, Decimal] = {}
    raised, donor_count = Decimal(0), 0
    for tally in GiftTally.objects.filter(campaign=campaign).only("member_key", "raised", "gifts"):
        raised += tally.raised
        donor_count += tally.gifts
        if tally.member_key:
            member_raised = raised_by_member.get(tally.member_key, Decimal(0)) + tally.raised
            raised_by_member[tally.member_key] = quantize(member_raised, campaign.currency)
    return CampaignTotals(
        raised=quantize(raised, campaign.currency),
        donor_count=donor_count,
        raised_by_member=raised_by_member,
    )


def encode_cursor(donation: Donation) -> str:
    raw = f"{donation.received_at.isoformat()}|{donation.id}".encode()
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


def giver_page(
    *, campaign, member=None, after: str | None = None, size: int = GIVERS_PER_PAGE
) -> GiverPage:
    """Counted gifts, newest first, `size` at a time; keyset-paginated by (received_at, id).

    One query: it asks for one row more than the page to know whether older givers exist.
    Raises InvalidCursorError for a cursor we did not make.
    """
    gifts = Donation.objects.for_campaign(campaign).counted().only(*GIVER_LIST_FIELDS)
    if member is not None:
        gifts = gifts.filter(team_member=member)
    if after:
        gifts = gifts.before_cursor(*decode_cursor(after))
    rows = list(gifts.newest_first()[: size + 1])
    givers = rows[:size]
    next_cursor = encode_cursor(givers[-1]) if len(rows) > size else None
    return GiverPage(givers=givers, next_cursor=next_cursor)


def raised_by_campaign(*, campaign_ids: list[int]) -> dict[int, Decimal]:
    """Raised per campaign for a list page, in one grouped query over the tallies."""
    rows = (
        GiftTally.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(raised=Sum("raised"))
        .order_by()
    )
    return {row["campaign_id"]: Decimal(row["raised"]) for row in rows}
