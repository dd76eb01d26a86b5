"""Reconciliation: repair what missed webhooks left behind, by asking Stripe directly.

Recent Checkout Sessions are listed from Stripe and each one that carries one of our donation
ids is synced (`checkout_session_sync`), as the webhook's worker syncs it, so a gift ends up
exactly as the webhook would have left it. Syncing is idempotent, so running this twice (or
beside the webhook) changes nothing the second time.

Monthly gifts too: a subscription-mode session syncs its first invoice; every paid invoice of
the window whose subscription is one of ours, and whose month is not recorded, is synced
(`invoice_sync`, by invoice id, so at most once); and each monthly gift that may still charge
has its subscription synced, then its latest invoice (a renewal paid by a late retry falls
outside the window), which stops a gift whose month came after its campaign closed.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from donations import stripe_gateway as gateway
from donations.models import MONTHLY_FINAL, Donation, MonthlyGift, StripeEvent
from donations.services.monthly import DEMO_PREFIX, invoice_sync, subscription_sync
from donations.services.payments import charge_sync, checkout_session_sync, stripe_event_handle

logger = logging.getLogger(__name__)

RECORDED = (Donation.Status.SUCCEEDED, Donation.Status.REFUNDED)
RECONCILIATION = "reconcile_stripe"


@dataclass(frozen=True)
class GiftChange:
    donation_id: str
    old_status: str
    new_status: str
    settlement_filled: bool
    refunded_before: Decimal
    refunded_after: Decimal


@dataclass(frozen=True)
class MonthRecorded:
    monthly_gift_id: str
    invoice_id: str
    donation_id: str
    status: str


@dataclass(frozen=True)
class MonthlyChange:
    monthly_gift_id: str
    old_status: str
    new_status: str


@dataclass
class ReconcileReport:
    sessions_seen: int = 0
    sessions_ours: int = 0
    changes: list[GiftChange] = field(default_factory=list)
    events_undelivered: int = 0
    events_recorded: int = 0
    events_failed: list[str] = field(default_factory=list)
    invoices_seen: int = 0
    months_recorded: list[MonthRecorded] = field(default_factory=list)
    monthly_changes: list[MonthlyChange] = field(default_factory=list)


def _state(donation_id) -> tuple[str, bool, Decimal] | None:
    row = (
        Donation.objects.filter(pk=donation_id)
        .values("status", "settlement_amount", "amount_refunded")
        .first()
    )
    if row is None:
        return None
    return row["status"], row["settlement_amount"] is not None, row["amount_refunded"]


def _change(donation: Donation, before: tuple[str, bool, Decimal]) -> GiftChange | None:
    after = _state(donation.pk)
    if after is None or after == before:
        return None
    return GiftChange(
        donation_id=str(donation.pk),
        old_status=before[0],
        new_status=after[0],
        settlement_filled=after[1] and not before[1],
        refunded_before=before[2],
        refunded_after=after[2],
    )


def donations_reconcile(*, since: datetime.datetime) -> ReconcileReport:
    """Feed every Checkout Session created since `since` through the recording logic.

    Sessions without one of our donation ids (other uses of the Stripe account) are skipped.
    Last, every event Stripe could not deliver in the last 30 days goes through the webhook's
    handler (`events_reconcile`).
    Then succeeded gifts received since `since` that still lack Stripe's settlement (say, the
    webhook came before the balance transaction did) get it from their charge. Returns what
    changed. Raises GatewayError when Stripe cannot be asked; what was recorded before stays.
    """
    report = ReconcileReport()
    seen: set[str] = set()
    for session in gateway.list_checkout_sessions(created_since=since):
        report.sessions_seen += 1
        donation = (
            Donation.objects.filter(
                stripe_checkout_session_id=session.session_id, source=Donation.Source.ONLINE
            )
            .only("id", "status", "settlement_amount", "stripe_charge_id")
            .first()
        )
        if not session.donation_id or donation is None or str(donation.pk) != session.donation_id:
            continue
        report.sessions_ours += 1
        seen.add(str(donation.pk))
        before = _state(donation.pk)
        checkout_session_sync(session_id=session.session_id, facts=session, origin=RECONCILIATION)
        if change := _change(donation, before):
            report.changes.append(change)
    months_reconcile(since=since, report=report)
    subscriptions_reconcile(report=report)
    unsettled = (
        Donation.objects.filter(
            source=Donation.Source.ONLINE,
            status__in=RECORDED,
            received_at__gte=since,
            settlement_amount__isnull=True,
            stripe_charge_id__isnull=False,
        )
        .exclude(pk__in=seen)
        .only("id", "status", "stripe_charge_id")
    )
    for donation in unsettled:
        before = _state(donation.pk)
        charge_sync(charge_id=donation.stripe_charge_id, origin=RECONCILIATION)
        if change := _change(donation, before):
            report.changes.append(change)
    events_reconcile(since=min(since, timezone.now() - gateway.EVENTS_RETENTION), report=report)
    return report


def months_reconcile(*, since: datetime.datetime, report: ReconcileReport) -> None:
    """Record every paid invoice created since `since` whose subscription is a monthly gift
    of ours and whose month is not recorded yet (each with its charge, one call more)."""
    for invoice in gateway.list_paid_invoices(created_since=since):
        report.invoices_seen += 1
        if not invoice.subscription_id:
            continue
        gift_id = (
            MonthlyGift.objects.filter(stripe_subscription_id=invoice.subscription_id)
            .values_list("pk", flat=True)
            .first()
        )
        if (
            gift_id is None
            or Donation.objects.filter(stripe_invoice_id=invoice.invoice_id).exists()
        ):
            continue
        month = invoice_sync(
            invoice_id=invoice.invoice_id, facts=gateway.with_payment(invoice),
            origin=RECONCILIATION,
        )  # fmt: skip
        if isinstance(month, Donation):
            report.months_recorded.append(
                MonthRecorded(str(gift_id), invoice.invoice_id, str(month.pk), month.status)
            )


def subscriptions_reconcile(*, report: ReconcileReport) -> None:
    """Sync the subscription of each monthly gift that may still charge (or is ending):
    cancellations and failed renewals whose events were lost; then its latest invoice, when
    its month is not recorded (a renewal paid by a retry after the window)."""
    gifts = (
        MonthlyGift.objects.exclude(status__in=MONTHLY_FINAL)
        .exclude(stripe_subscription_id__isnull=True)
        .exclude(stripe_subscription_id__startswith=DEMO_PREFIX)
        .values_list("pk", "stripe_subscription_id", "status")
        .order_by("created_at")
    )
    for gift_id, subscription_id, status in gifts:
        try:
            subscription = gateway.retrieve_subscription(subscription_id)
        except gateway.NotFoundError:
            logger.warning("Stripe does not know subscription %s of %s.", subscription_id, gift_id)
            continue
        gift = subscription_sync(
            subscription_id=subscription_id, facts=subscription, origin=RECONCILIATION
        )
        latest = subscription.latest_invoice_id
        if latest and not Donation.objects.filter(stripe_invoice_id=latest).exists():
            month = invoice_sync(invoice_id=latest, origin=RECONCILIATION)
            if isinstance(month, Donation):
                report.months_recorded.append(
                    MonthRecorded(str(gift_id), latest, str(month.pk), month.status)
                )
            gift = MonthlyGift.objects.get(pk=gift_id)
        if gift is not None and gift.status != status:
            report.monthly_changes.append(MonthlyChange(str(gift_id), status, gift.status))


def events_reconcile(*, since: datetime.datetime, report: ReconcileReport) -> None:
    """Feed the events Stripe failed to deliver (last 30 days at most) through the webhook's
    own handler, so refunds, disputes and late bank debits of older gifts, which the session
    pass cannot see, are recorded too. Event ids keep it idempotent: an event recorded before
    (or meanwhile, by the webhook) changes nothing. An event whose sync fails is logged and
    skipped, so one object Stripe refuses never stops the pass at that event."""
    for event in gateway.list_undelivered_events(created_since=since):
        report.events_undelivered += 1
        if StripeEvent.objects.filter(event_id=event.event_id).exists():
            continue
        try:
            stripe_event_handle(event=event)
        except Exception:  # any failure of one event: the next ones still get their turn
            logger.exception("Reconciliation skipped Stripe event %s.", event.event_id)
            report.events_failed.append(event.event_id)
            continue
        report.events_recorded += StripeEvent.objects.filter(event_id=event.event_id).exists()
