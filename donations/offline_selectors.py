"""Reads for the volunteers' pages and the organizers' campaign report.

Each function returns evaluated data, so the templates run no query.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from campaigns.models import Campaign
from donations.models import RAISED, ZERO, Donation
from donations.services.offline import volunteer_void_allowed
from money import quantize

RECENT_ENTRIES = 30


@dataclass(frozen=True)
class VolunteerHome:
    campaigns: list[Campaign]
    entries: list[Donation]


def volunteer_campaigns(*, user) -> list[Campaign]:
    """The published campaigns `user` may record cash for (all of them for a superuser)."""
    campaigns = Campaign.objects.public().order_by("status", "-launched_on", "title")
    if not user.is_superuser:
        campaigns = campaigns.filter(volunteer_assignments__user=user)
    return list(campaigns)


def volunteer_home(*, user, now: datetime.datetime) -> VolunteerHome:
    """The volunteer's campaigns and their own latest entries, each marked `voidable`."""
    campaigns = volunteer_campaigns(user=user)
    assigned = {campaign.pk for campaign in campaigns}
    entries = list(
        Donation.objects.filter(source=Donation.Source.OFFLINE, entered_by=user)
        .select_related("campaign", "team_member")
        .order_by("-created_at", "-id")[:RECENT_ENTRIES]
    )
    for entry in entries:
        entry.voidable = volunteer_void_allowed(
            donation=entry, user=user, now=now, assigned=entry.campaign_id in assigned
        )
    return VolunteerHome(campaigns=campaigns, entries=entries)


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
        .annotate(fees=Coalesce(Sum("stripe_fee"), ZERO), net=Coalesce(Sum("net_amount"), ZERO))
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
