"""Reads for donor self-service: a donor's own gifts, by the email of their signed link."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign
from donations import permissions
from donations.models import Donation, MonthlyGift

# Gifts a donor sees on their page: the ones that went through (refunded ones too, since
# a refund is part of the story of that gift).
DONOR_VISIBLE = (Donation.Status.SUCCEEDED, Donation.Status.REFUNDED)


def _given_with(rows, email: str) -> list:
    """The rows given with the link's address. The query narrows by `email__iexact`, which
    matches at least those (and, on PostgreSQL, a dotless i for an i too);
    permissions.link_reaches decides."""
    return [row for row in rows if permissions.link_reaches(email=email, gift=row)]


@dataclass(frozen=True)
class DonorMonthly:
    """A monthly gift on its donor's page: the gift, with its running total, and each month
    that went through, newest first."""

    gift: MonthlyGift
    months: list[Donation]


@dataclass(frozen=True)
class DonorCampaign:
    campaign: Campaign
    gifts: list[Donation]  # single gifts
    monthly: list[DonorMonthly] = field(default_factory=list)


def donor_gifts(*, email: str) -> list[DonorCampaign]:
    """The donor's gifts, grouped by campaign, newest first: single gifts one by one, and
    each monthly gift once, with its months (two queries whatever the number of gifts)."""
    gifts = (
        Donation.objects.filter(email__iexact=email.strip(), status__in=DONOR_VISIBLE)
        .select_related("campaign", "receipt", "monthly_gift")
        .order_by("-received_at", "-id")
    )
    grouped: dict[int, list[Donation]] = defaultdict(list)
    months: dict = defaultdict(list)
    campaigns: dict[int, Campaign] = {}
    for gift in _given_with(gifts, email):
        campaigns[gift.campaign_id] = gift.campaign
        if gift.monthly_gift_id:
            months[gift.monthly_gift_id].append(gift)
        else:
            grouped[gift.campaign_id].append(gift)
    monthly: dict[int, list[DonorMonthly]] = defaultdict(list)
    for gift in donor_monthly_gifts(email=email):
        campaigns.setdefault(gift.campaign_id, gift.campaign)
        monthly[gift.campaign_id].append(DonorMonthly(gift, months.get(gift.pk, [])))
    order = list(dict.fromkeys([*monthly, *grouped]))
    return [DonorCampaign(campaigns[pk], grouped.get(pk, []), monthly.get(pk, [])) for pk in order]


def _monthly_gifts(email: str):
    return (
        MonthlyGift.objects.filter(email__iexact=email.strip())
        .exclude(status__in=[MonthlyGift.Status.PENDING, MonthlyGift.Status.EXPIRED])
        .select_related("campaign")
        .order_by("-created_at", "-id")
    )


def donor_monthly_gifts(*, email: str) -> list[MonthlyGift]:
    """The donor's monthly gifts that ever started (their first month went through)."""
    return _given_with(_monthly_gifts(email), email)


def donor_monthly_gift(*, email: str, gift_id) -> MonthlyGift | None:
    """One of the donor's own monthly gifts, or None (also for somebody else's)."""
    found = _given_with(_monthly_gifts(email).filter(pk=gift_id), email)
    return found[0] if found else None


def donor_gift(*, email: str, donation_id) -> Donation | None:
    """One of the donor's own gifts, or None (also for somebody else's)."""
    found = _given_with(
        Donation.objects.filter(
            pk=donation_id, email__iexact=email.strip(), status__in=DONOR_VISIBLE
        ).select_related("campaign", "receipt"),
        email,
    )
    return found[0] if found else None


@dataclass(frozen=True)
class StatementMonthly:
    """A monthly gift in a year: its months that went through then, and their sum."""

    gift: MonthlyGift
    months: int
    total: Decimal  # in the gift's currency, less refunds


@dataclass(frozen=True)
class Statement:
    year: int
    gifts: list[Donation]
    totals: dict[str, Decimal]  # per currency given, less refunds
    monthly: list[StatementMonthly] = field(default_factory=list)


def donor_statement(*, email: str, year: int) -> Statement:
    """Every gift of the year that went through, with totals per currency (for taxes); each
    month of a monthly gift is a gift of its own, and the monthly gifts are summed apart."""
    start = timezone.make_aware(datetime.datetime(year, 1, 1))
    end = timezone.make_aware(datetime.datetime(year + 1, 1, 1))
    gifts = _given_with(
        Donation.objects.filter(
            email__iexact=email.strip(),
            status__in=DONOR_VISIBLE,
            received_at__gte=start,
            received_at__lt=end,
        )
        .select_related("campaign", "monthly_gift")
        .order_by("received_at", "id"),
        email,
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    monthly: dict = {}
    for gift in gifts:
        given = gift.amount - gift.amount_refunded
        totals[gift.currency] += given
        if gift.monthly_gift_id:
            line = monthly.get(gift.monthly_gift_id)
            months, total = (line.months, line.total) if line else (0, Decimal(0))
            monthly[gift.monthly_gift_id] = StatementMonthly(
                gift.monthly_gift, months + 1, total + given
            )
    return Statement(year=year, gifts=gifts, totals=dict(totals), monthly=list(monthly.values()))


def statement_years(*, email: str) -> list[int]:
    """The years in which the donor has gifts that went through, newest first."""
    received = Donation.objects.filter(email__iexact=email.strip(), status__in=DONOR_VISIBLE).only(
        "email", "received_at"
    )
    return sorted(
        {timezone.localtime(gift.received_at).year for gift in _given_with(received, email)},
        reverse=True,
    )


def statement_year_range(*, email: str) -> range:
    """The years a statement may be asked for: from the year of the donor's first gift that
    went through to this year; empty for a donor with none."""
    years = statement_years(email=email)
    if not years:
        return range(0)
    return range(min(years), timezone.localdate().year + 1)
