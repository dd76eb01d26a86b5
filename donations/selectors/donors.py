"""Reads for donor self-service: a donor's own gifts, by the email of their signed link."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign
from donations.models import Donation

# Gifts a donor sees on their page: the ones that went through (refunded ones too, since
# a refund is part of the story of that gift).
DONOR_VISIBLE = (Donation.Status.SUCCEEDED, Donation.Status.REFUNDED)


@dataclass(frozen=True)
class DonorCampaign:
    campaign: Campaign
    gifts: list[Donation]


def donor_gifts(*, email: str) -> list[DonorCampaign]:
    """The donor's gifts, grouped by campaign, newest first."""
    gifts = (
        Donation.objects.filter(email__iexact=email.strip(), status__in=DONOR_VISIBLE)
        .select_related("campaign", "receipt")
        .order_by("-received_at", "-id")
    )
    grouped: dict[int, list[Donation]] = defaultdict(list)
    campaigns: dict[int, Campaign] = {}
    for gift in gifts:
        grouped[gift.campaign_id].append(gift)
        campaigns[gift.campaign_id] = gift.campaign
    return [DonorCampaign(campaigns[pk], grouped[pk]) for pk in grouped]


def donor_gift(*, email: str, donation_id) -> Donation | None:
    """One of the donor's own gifts, or None (also for somebody else's)."""
    return (
        Donation.objects.filter(
            pk=donation_id, email__iexact=email.strip(), status__in=DONOR_VISIBLE
        )
        .select_related("campaign", "receipt")
        .first()
    )


@dataclass(frozen=True)
class Statement:
    year: int
    gifts: list[Donation]
    totals: dict[str, Decimal]  # per currency given, less refunds


def donor_statement(*, email: str, year: int) -> Statement:
    """Every gift of the year that went through, with totals per currency (for taxes)."""
    start = timezone.make_aware(datetime.datetime(year, 1, 1))
    end = timezone.make_aware(datetime.datetime(year + 1, 1, 1))
    gifts = list(
        Donation.objects.filter(
            email__iexact=email.strip(),
            status__in=DONOR_VISIBLE,
            received_at__gte=start,
            received_at__lt=end,
        )
        .select_related("campaign")
        .order_by("received_at", "id")
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for gift in gifts:
        totals[gift.currency] += gift.amount - gift.amount_refunded
    return Statement(year=year, gifts=gifts, totals=dict(totals))


def statement_years(*, email: str) -> list[int]:
    """The years in which the donor has gifts that went through, newest first."""
    received = Donation.objects.filter(
        email__iexact=email.strip(), status__in=DONOR_VISIBLE
    ).values_list("received_at", flat=True)
    return sorted({timezone.localtime(moment).year for moment in received}, reverse=True)
