"""Reconciliation: repair what missed webhooks left behind, by asking Stripe directly.

Recent Checkout Sessions are listed from Stripe and each one that carries one of our donation
ids goes through `donation_record_checkout`, the webhook's own recording path, so a gift ends
up exactly as the webhook would have left it. That path only moves forward and saves only real
news, so running this twice (or beside the webhook) changes nothing the second time.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils import timezone

from donations import stripe_gateway as gateway
from donations.models import Donation, StripeEvent
from donations.services.payments import (
    donation_record_charge,
    donation_record_checkout,
    stripe_event_handle,
)

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


@dataclass
class ReconcileReport:
    sessions_seen: int = 0
    sessions_ours: int = 0
    changes: list[GiftChange] = field(default_factory=list)
    events_undelivered: int = 0
    events_recorded: int = 0


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


def _with_settlement(session: gateway.CheckoutFacts, donation: Donation) -> gateway.CheckoutFacts:
    """A paid session whose charge came without its settlement: fetch the charge for it."""
    if session.outcome != gateway.CheckoutOutcome.PAID or donation.settlement_amount is not None:
        return session
    if session.charge and session.charge.settlement is not None:
        return session
    charge_id = (session.charge and session.charge.charge_id) or donation.stripe_charge_id
    if not charge_id:
        return session
    return replace(session, charge=gateway.retrieve_charge(charge_id))


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
        donation_record_checkout(session=_with_settlement(session, donation), origin=RECONCILIATION)
        if change := _change(donation, before):
            report.changes.append(change)
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
        donation_record_charge(
            charge=gateway.retrieve_charge(donation.stripe_charge_id), origin=RECONCILIATION
        )
        if change := _change(donation, before):
            report.changes.append(change)
    events_reconcile(since=min(since, timezone.now() - gateway.EVENTS_RETENTION), report=report)
    return report


def events_reconcile(*, since: datetime.datetime, report: ReconcileReport) -> None:
    """Feed the events Stripe failed to deliver (last 30 days at most) through the webhook's
    own handler, so refunds, disputes and late bank debits of older gifts, which the session
    pass cannot see, are recorded too. Event ids keep it idempotent: an event recorded before
    (or meanwhile, by the webhook) changes nothing."""
    for event in gateway.list_undelivered_events(created_since=since):
        report.events_undelivered += 1
        if StripeEvent.objects.filter(event_id=event.event_id).exists():
            continue
        stripe_event_handle(event=event)
        report.events_recorded += StripeEvent.objects.filter(event_id=event.event_id).exists()
