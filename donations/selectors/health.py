"""Reads for operators: is money arriving as it should? (the admin's payment health panel,
the campaign admin's warning and `payments_check`).

Webhook facts are site-wide (one endpoint serves every campaign, and a delivery rejected for
its signature names no gift); facts about gifts and receipts cover the campaigns given
(`campaigns`, a queryset; None for all).

The warning sign we look for is the classic misconfigured endpoint: Checkout Sessions were
created, but no webhook has been accepted for an hour since. A rejected delivery (wrong
signing secret) does not count as an answer.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q, QuerySet

from donations.models import Donation, Receipt, WebhookDelivery, WebhookRejection

WINDOW = datetime.timedelta(hours=24)
SILENCE = datetime.timedelta(hours=1)
# Stripe's Checkout Session ids; demo checkouts (no Stripe, so no webhook) have others.
STRIPE_SESSION_PREFIX = "cs_"
SHOWN = 20


@dataclass(frozen=True)
class EventCount:
    event_type: str
    outcome: str
    outcome_label: str
    count: int


@dataclass(frozen=True)
class SilentCampaign:
    """A campaign with Checkout Sessions started and no webhook accepted for an hour since."""

    campaign_id: int
    campaign_title: str
    checkouts: int
    first_at: datetime.datetime


@dataclass(frozen=True)
class PaymentHealth:
    now: datetime.datetime
    last_webhook_at: datetime.datetime | None
    last_accepted_at: datetime.datetime | None
    events: list[EventCount]
    checkouts_started: int
    checkouts_completed: int
    pending_over_an_hour: int
    oldest_pending_at: datetime.datetime | None
    problems: list[WebhookDelivery]
    rejections: list[WebhookRejection]
    rejected: int
    events_waiting: int
    oldest_waiting_at: datetime.datetime | None
    receipts_failing: int
    failed_receipts: list[Receipt]
    silent: list[SilentCampaign]


def _gifts(campaigns: QuerySet | None) -> QuerySet:
    gifts = Donation.objects.filter(source=Donation.Source.ONLINE)
    return gifts if campaigns is None else gifts.filter(campaign__in=campaigns)


def last_accepted_webhook_at() -> datetime.datetime | None:
    """Refused deliveries are only counted, so every row of the inbox was accepted."""
    return WebhookDelivery.objects.aggregate(last=Max("received_at"))["last"]


def silent_campaigns(
    *, now: datetime.datetime, campaigns: QuerySet | None = None
) -> list[SilentCampaign]:
    """Campaigns whose Stripe checkouts of the last day, started at least an hour ago, came
    after the last accepted webhook (or there was none)."""
    last = last_accepted_webhook_at()
    started = _gifts(campaigns).filter(
        stripe_checkout_session_id__startswith=STRIPE_SESSION_PREFIX,
        created_at__gte=now - WINDOW,
        created_at__lte=now - SILENCE,
    )
    if last is not None:
        if last > now - SILENCE:
            return []
        started = started.filter(created_at__gt=last)
    rows = (
        started.values("campaign_id", "campaign__title")
        .annotate(checkouts=Count("id"), first_at=Min("created_at"))
        .order_by("first_at")
    )
    return [
        SilentCampaign(
            row["campaign_id"], row["campaign__title"], row["checkouts"], row["first_at"]
        )
        for row in rows
    ]


def payment_health(*, now: datetime.datetime, campaigns: QuerySet | None = None) -> PaymentHealth:
    """Everything the payment health panel shows, evaluated."""
    since = now - WINDOW
    deliveries = WebhookDelivery.objects.filter(received_at__gte=since)
    labels = dict(WebhookDelivery.Outcome.choices)
    events = [
        EventCount(row["event_type"] or "—", row["outcome"], str(labels[row["outcome"]]), row["n"])
        for row in deliveries.values("event_type", "outcome")
        .annotate(n=Count("id"))
        .order_by("event_type", "outcome")
    ]
    problems = list(
        WebhookDelivery.objects.filter(
            outcome=WebhookDelivery.Outcome.FAILED, processed_at__isnull=True
        )[:SHOWN]
    )
    rejections = list(WebhookRejection.objects.filter(hour__gte=since)[:SHOWN])
    waiting = WebhookDelivery.objects.filter(processed_at__isnull=True).aggregate(
        count=Count("id"), oldest=Min("received_at")
    )
    gifts = _gifts(campaigns)
    recent = gifts.filter(created_at__gte=since).aggregate(
        started=Count("id"),
        completed=Count(
            "id", filter=Q(status__in=[Donation.Status.SUCCEEDED, Donation.Status.REFUNDED])
        ),
    )
    pending = gifts.filter(status=Donation.Status.PENDING, created_at__lt=now - SILENCE).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    failing = Receipt.objects.filter(status=Receipt.Status.FAILED)
    if campaigns is not None:
        failing = failing.filter(donation__campaign__in=campaigns)
    last_accepted_at = last_accepted_webhook_at()
    last_rejected_hour = rejections[0].hour if rejections else None
    return PaymentHealth(
        now=now,
        last_webhook_at=max(
            (at for at in (last_accepted_at, last_rejected_hour) if at is not None), default=None
        ),
        last_accepted_at=last_accepted_at,
        events=events,
        checkouts_started=recent["started"],
        checkouts_completed=recent["completed"],
        pending_over_an_hour=pending["count"],
        oldest_pending_at=pending["oldest"],
        problems=problems,
        rejections=rejections,
        rejected=sum(row.count for row in rejections),
        events_waiting=waiting["count"],
        oldest_waiting_at=waiting["oldest"],
        receipts_failing=failing.count(),
        failed_receipts=list(failing.select_related("donation__campaign")[:SHOWN]),
        silent=silent_campaigns(now=now, campaigns=campaigns),
    )
