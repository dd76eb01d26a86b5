"""Online gifts as Stripe has them: every event is a trigger to sync the object it names.

An event names a Checkout Session, a charge (or its payment intent), a refund, a dispute, an
invoice or a subscription. Processing it reads that object from Stripe as it is now and
makes our rows match it (`checkout_session_sync`, `charge_sync`, `dispute_sync`; monthly
gifts in services/monthly.py), through the gate (services/history.py), so the order events
arrive in does not matter and several events about one object end in one state. Syncing is
idempotent: a second sync of an object that has not changed at Stripe changes nothing, so a
repeated or concurrent event is harmless and needs no ordering code. The thank-you page, the
demo checkout, `reconcile_stripe` and `demo_next_month` call the same syncs in their own
process. Exactly-once rests on unique Stripe ids in the database (session, charge, payment
intent, refund, invoice) and on each event id stored once (`StripeEvent`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from config.tasks import enqueue, task
from donations import stripe_gateway as gateway
from donations.models import (
    Donation,
    MonthlyGift,
    StripeEvent,
    WebhookDelivery,
    WebhookRejection,
)
from donations.services.history import donation_change
from donations.services.monthly import (
    DEMO_PREFIX,
    invoice_sync,
    monthly_checkout_sync,
    subscription_sync,
)
from donations.services.receipts import receipt_queue
from donations.services.recording import (
    charge_refunds,
    charge_sync_into,
    payment_apply,
    refunds_sync,
    stripe_event_claim,
)
from donations.services.renewals import RENEWAL_NOTICE_KINDS, renewal_notice_record

logger = logging.getLogger(__name__)


def _online(**match) -> Donation | None:
    return Donation.objects.filter(source=Donation.Source.ONLINE, **match).first()


def checkout_session_sync(
    *,
    session_id: str,
    facts: gateway.CheckoutFacts | None = None,
    failed: bool = False,
    event_id: str = "",
    origin: str = "",
) -> Donation | None:
    """Make the gift of a Checkout Session match the session as Stripe has it now (`facts`
    when the caller has just read it, or the demo checkout's own). `failed`: Stripe said the
    delayed payment failed (`async_payment_failed`), which a session that is not paid now
    does not say again itself.

    Paid: the gift succeeds with its Stripe ids, the amount charged, the settlement when
    known and the amount that counts in the campaign currency; its receipt is queued in the
    same transaction; refunds already on the charge are synced too. A payment, once
    recorded, is never undone by the session: only a pending gift fails or expires. A
    subscription-mode session is a monthly gift's (services/monthly.py). Returns the gift,
    or None for a session no gift of ours holds (Stripe is not asked then).
    """
    known = _online(stripe_checkout_session_id=session_id)
    if known is None:
        logger.warning("Stripe session %s matches no gift; ignored.", session_id)
        return None
    if facts is None:
        facts = gateway.retrieve_checkout_session(session_id)
    if failed and facts.outcome != gateway.CheckoutOutcome.PAID:
        facts = facts.with_outcome(gateway.CheckoutOutcome.FAILED)
    charge = facts.charge
    if charge is not None and charge.settlement is None and charge.balance_transaction_id:
        # A listed session's charge comes without its settlement (too deep to expand).
        facts = replace(facts, charge=gateway.retrieve_charge(charge.charge_id))
    if facts.monthly:
        return monthly_checkout_sync(session=facts, event_id=event_id, origin=origin)
    refunds = charge_refunds(facts.charge, known=bool(known.amount_refunded))
    with donation_change(
        Donation.objects.filter(pk=known.pk),
        stripe_event_id=event_id,
        reason=origin,
        facts=True,
    ) as change:
        donation = change.row
        paid = facts.outcome == gateway.CheckoutOutcome.PAID
        if paid and donation.status == Donation.Status.PENDING:
            note = payment_apply(
                donation,
                charged=facts.amount_total,
                currency=facts.currency,
                payment_intent_id=facts.payment_intent_id,
                charge=facts.charge,
            )
            change.note = str(note)
            if not note.refused:
                donation.status = Donation.Status.SUCCEEDED
                receipt_queue(donation=donation)
                if refunds is not None:
                    change.note = charge_sync_into(change, facts.charge, refunds) or change.note
        elif paid and facts.charge is not None:
            change.note = charge_sync_into(change, facts.charge, refunds)
        elif donation.status == Donation.Status.PENDING and facts.outcome in ENDINGS:
            donation.status = ENDINGS[facts.outcome]
    return donation


ENDINGS = {
    gateway.CheckoutOutcome.FAILED: Donation.Status.FAILED,
    gateway.CheckoutOutcome.EXPIRED: Donation.Status.EXPIRED,
}


def _charge_match(charge_id: str | None, payment_intent_id: str | None) -> Q | None:
    """Gifts recorded with this charge or payment intent: the only way a charge's news finds
    its gift (never the charge's metadata, which any charge may carry)."""
    match = Q(stripe_charge_id=charge_id) if charge_id else None
    if payment_intent_id:
        by_intent = Q(stripe_payment_intent_id=payment_intent_id)
        match = by_intent if match is None else match | by_intent
    return match


def _gift_of_charge(charge_id: str | None, payment_intent_id: str | None) -> Donation | None:
    match = _charge_match(charge_id, payment_intent_id)
    if match is None:
        return None
    return Donation.objects.filter(match, source=Donation.Source.ONLINE).first()


def _valid_uuid(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def _payment_sync(charge: gateway.ChargeFacts, *, event_id: str, origin: str) -> None:
    """A charge no gift knows yet: sync the payment it belongs to first, as Stripe has it
    now. A charge whose metadata names a pending gift of ours: that gift's session (the
    session, never the metadata, decides what was paid). A charge without our metadata that
    paid an invoice of one of our subscriptions: that invoice (a month)."""
    gift_id = _valid_uuid(charge.donation_id)
    if gift_id is not None:
        pending = _online(pk=gift_id, status=Donation.Status.PENDING)
        session_id = pending and pending.stripe_checkout_session_id
        if session_id and not session_id.startswith(DEMO_PREFIX):
            try:
                checkout_session_sync(session_id=session_id, event_id=event_id, origin=origin)
            except gateway.NotFoundError:
                logger.warning("Charge %s names gift %s, whose session Stripe does not know.",
                               charge.charge_id, gift_id)  # fmt: skip
        return
    if (
        charge.payment_intent_id
        and MonthlyGift.objects.exclude(stripe_subscription_id__isnull=True).exists()
    ):
        invoice = gateway.invoice_of_payment(charge.payment_intent_id)
        if invoice is not None and invoice.paid:
            invoice_sync(invoice_id=invoice.invoice_id, facts=invoice, event_id=event_id,
                         origin=origin)  # fmt: skip


def charge_sync(
    *,
    charge_id: str | None,
    payment_intent_id: str | None = None,
    refund_id: str | None = None,
    event_id: str = "",
    origin: str = "",
    payment_first: bool = True,
) -> Donation | None:
    """Make the gift of a charge match the charge and its refunds as Stripe has them now:
    its settlement once known, and each refund by id and status (`refund_id`, the refund an
    event named, is read on its own too: Stripe's list of a charge's refunds may lag). A
    charge no gift knows yet first has its payment synced (`payment_first`; not for
    `charge.updated`, which comes for every charge of the account). Returns the gift, or
    None for a charge of no gift of ours.
    """
    donation = _gift_of_charge(charge_id, payment_intent_id)
    charge = None
    if donation is None or donation.status == Donation.Status.PENDING:
        if not charge_id or not payment_first:
            return None
        try:
            charge = gateway.retrieve_charge(charge_id)
        except gateway.NotFoundError:
            logger.warning("Stripe does not know charge %s; ignored.", charge_id)
            return None
        _payment_sync(charge, event_id=event_id, origin=origin)
        donation = _gift_of_charge(charge.charge_id, charge.payment_intent_id)
        if donation is None:
            logger.warning("Stripe charge %s matches no gift; ignored.", charge_id)
            return None
    charge_id = charge_id or donation.stripe_charge_id
    if charge is None and charge_id and donation.settlement_amount is None:
        charge = gateway.retrieve_charge(charge_id)
    refunds = gateway.list_refunds(charge_id=charge_id) if charge_id else []
    if refund_id and refund_id not in {refund.refund_id for refund in refunds}:
        refunds.append(gateway.retrieve_refund(refund_id))
    with donation_change(
        Donation.objects.filter(pk=donation.pk),
        stripe_event_id=event_id,
        reason=origin,
        facts=True,
    ) as change:
        if change.row.status == Donation.Status.PENDING:
            change.note = "refund of a payment not recorded yet; kept for the payment"
        elif charge is not None:
            change.note = charge_sync_into(change, charge, refunds)
        else:
            change.note = refunds_sync(change, refunds)
    return change.row


def dispute_sync(*, dispute_id: str, event_id: str = "", origin: str = "") -> Donation | None:
    """Make the gift of a dispute match the dispute as Stripe has it now: Stripe's own
    status, and its fee in the settlement currency. A gift whose dispute is lost (or lost and
    under appeal) stops counting; won later, it counts again. The dispute finds its gift by
    the charge, or by the payment intent; a charge no gift knows yet has its payment synced
    first. Returns the gift, or None for a dispute of no gift of ours."""
    dispute = gateway.retrieve_dispute(dispute_id)
    donation = _gift_of_charge(dispute.charge_id, dispute.payment_intent_id)
    if donation is None or donation.status == Donation.Status.PENDING:
        charge_sync(charge_id=dispute.charge_id, payment_intent_id=dispute.payment_intent_id,
                    event_id=event_id, origin=origin)  # fmt: skip
        donation = _gift_of_charge(dispute.charge_id, dispute.payment_intent_id)
    if donation is None:
        logger.warning("Stripe dispute %s matches no gift; ignored.", dispute_id)
        return None
    if dispute.status not in Donation.DisputeStatus.values:
        logger.error("Stripe dispute %s has an unknown status %r; not applied.",
                     dispute_id, dispute.status)  # fmt: skip
        return donation
    with donation_change(
        Donation.objects.filter(pk=donation.pk),
        stripe_event_id=event_id,
        reason=origin,
        facts=True,
    ) as change:
        donation = change.row
        donation.dispute_status = dispute.status
        donation.dispute_updated_at = timezone.now()
        if dispute.fee is not None and dispute.fee_currency in (
            "",
            donation.settlement_currency or dispute.fee_currency,
        ):
            donation.dispute_fee = dispute.fee
    return donation


SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
# A session completed with a delayed payment method (bank debit) says so in its
# completed event; its payment's own event follows.
WAIT_EVENTS = {"checkout.session.completed"}
CHARGE_EVENTS = {"charge.refunded", "charge.updated"}
REFUND_EVENTS = {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
DISPUTE_EVENTS = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}
# Monthly gifts (services/monthly.py): an invoice is a month, or one to stop; the
# subscription says whether the gift is active.
INVOICE_EVENTS = {"invoice.paid", "invoice.payment_failed", "invoice.created", "invoice.finalized"}
SUBSCRIPTION_EVENTS = {"customer.subscription.updated", "customer.subscription.deleted"}
# Renewals that need their donor (services/renewals.py): a bank's confirmation (3D Secure) or
# a failed charge. The donor is emailed once per invoice and kind; the invoice is recorded
# as any other.
RENEWAL_EVENTS = frozenset(RENEWAL_NOTICE_KINDS)


def stripe_event_handle(*, event: gateway.WebhookEvent) -> Donation | MonthlyGift | None:
    """Process one verified Stripe event: sync the object it names (see the module
    docstring), then store its id once, linked to what it recorded.

    Unknown types, and events stored before, are ignored without asking Stripe. Any
    exception propagates: nothing is half-written (each sync is one transaction per row),
    the event stays unclaimed, and the worker's retry (or Stripe's redelivery) syncs again.
    """
    if (
        event.type not in HANDLED_EVENTS
        or StripeEvent.objects.filter(event_id=event.event_id).exists()
    ):
        return None
    if event.type in RENEWAL_EVENTS and event.invoice is not None:
        # Kept first, in its own transaction: should the sync fail and the event be retried,
        # the notice is already there, and mailed once.
        renewal_notice_record(invoice=event.invoice, event_type=event.type, event_id=event.event_id)
    recorded = _sync(event)
    if not stripe_event_claim(event, recorded):
        return None
    return recorded


def _sync(event: gateway.WebhookEvent) -> Donation | MonthlyGift | None:
    """The sync of the object an event names."""
    sync = {"event_id": event.event_id, "origin": f"Stripe event {event.type}"}
    if event.type in SESSION_EVENTS and event.session is not None:
        session = event.session
        if session.outcome == gateway.CheckoutOutcome.PROCESSING and event.type in WAIT_EVENTS:
            # Completed with a delayed method: nothing to record until its own event.
            return _online(stripe_checkout_session_id=session.session_id)
        return checkout_session_sync(
            session_id=session.session_id,
            failed=event.type == "checkout.session.async_payment_failed",
            **sync,
        )
    if event.type in INVOICE_EVENTS | RENEWAL_EVENTS and event.invoice is not None:
        return invoice_sync(invoice_id=event.invoice.invoice_id, hint=event.invoice, **sync)
    if event.type in SUBSCRIPTION_EVENTS and event.subscription is not None:
        return subscription_sync(subscription_id=event.subscription.subscription_id, **sync)
    if event.type in REFUND_EVENTS and event.refund is not None:
        refund = event.refund
        return charge_sync(charge_id=refund.charge_id, payment_intent_id=refund.payment_intent_id,
                           refund_id=refund.refund_id, **sync)  # fmt: skip
    if event.type in CHARGE_EVENTS and event.charge is not None:
        charge = event.charge
        return charge_sync(charge_id=charge.charge_id, payment_intent_id=charge.payment_intent_id,
                           payment_first=event.type == "charge.refunded", **sync)  # fmt: skip
    if event.type in DISPUTE_EVENTS and event.dispute is not None:
        return dispute_sync(dispute_id=event.dispute.dispute_id, **sync)
    return None


HANDLED_EVENTS = (
    SESSION_EVENTS
    | CHARGE_EVENTS
    | DISPUTE_EVENTS
    | REFUND_EVENTS
    | INVOICE_EVENTS
    | SUBSCRIPTION_EVENTS
    | RENEWAL_EVENTS
)
Outcome = WebhookDelivery.Outcome


def stripe_webhook_receive(*, payload: bytes, signature: str) -> WebhookReceipt:
    """One request to the webhook: verified, stored once in the inbox, enqueued. No call to
    Stripe and no gift lock here: the worker processes the event (`stripe_event_process`).

    A bad or missing signature is refused and counted per hour (WebhookRejection), never
    stored one by one. A signed body we cannot read is refused too (400, so it stays among the
    endpoint's failed deliveries to be replayed once the code can read it). A type we do not
    use is accepted and not stored. An event already in the inbox is accepted again without
    a second row; if it is still waiting, its task is enqueued again (the row keeps the first
    body Stripe sent, which is the same event).
    """
    try:
        event = gateway.construct_webhook_event(payload=payload, signature=signature)
    except gateway.MalformedEventError as error:
        logger.error("Refused a signed Stripe event we cannot read: %s", error)
        return _rejected(f"malformed event: {error}")
    except gateway.InvalidWebhookError as error:
        return _rejected(str(error) or "invalid signature")
    if event.type not in HANDLED_EVENTS:
        logger.info("payment_event event_id=%s type=%s outcome=ignored", event.event_id, event.type)
        return WebhookReceipt(accepted=True, outcome=Outcome.IGNORED)
    body = payload.decode("utf-8")
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                event_id=event.event_id,
                event_type=event.type,
                object_id=event.object_id,
                payload=body,
                enqueued_at=timezone.now(),
            )
    except IntegrityError:
        delivery = WebhookDelivery.objects.get(event_id=event.event_id)
        if delivery.processed_at is not None:
            return WebhookReceipt(accepted=True, outcome=Outcome.REPEATED)
        if not delivery.payload:  # kept by an earlier version without its body
            WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=body)
    enqueue(stripe_event_process_task, delivery.event_id)
    return WebhookReceipt(accepted=True, outcome=Outcome.QUEUED)


def stripe_event_process(*, event_id: str) -> None:
    """Process one event of the inbox exactly once (`stripe_event_handle`), keeping the
    outcome on its row. A second run for a processed event does nothing. An error is kept on
    the row (`reason`, `attempts`) and propagates, so the task fails and the sweep retries
    it later; exactly-once still rests on the unique event claim and Stripe ids."""
    delivery = WebhookDelivery.objects.filter(event_id=event_id).first()
    if delivery is None or delivery.processed_at is not None or not delivery.payload:
        return
    started_at = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    try:
        event = gateway.read_webhook_event(delivery.payload)
        recorded = stripe_event_handle(event=event)
    except Exception as error:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            outcome=Outcome.FAILED, reason=f"{type(error).__name__}: {error}"[:2000]
        )
        _log_outcome(delivery, Outcome.FAILED, reason=str(error), level=logging.ERROR)
        raise
    if recorded is not None:
        outcome = Outcome.RECORDED
    elif _claimed_before(event, started_at):
        outcome = Outcome.REPEATED
    else:
        outcome = Outcome.UNMATCHED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        outcome=outcome,
        reason="",
        processed_at=timezone.now(),
        donation=recorded if isinstance(recorded, Donation) else None,
    )
    _log_outcome(delivery, outcome, recorded=recorded)


@task()
def stripe_event_process_task(event_id: str) -> None:
    """The worker's side of the inbox (see `stripe_event_process`)."""
    stripe_event_process(event_id=event_id)


@dataclass(frozen=True)
class WebhookReceipt:
    """What the webhook answers: accepted (200) or refused (400), and why."""

    accepted: bool
    outcome: str


def _log_outcome(
    delivery: WebhookDelivery,
    outcome: str,
    *,
    recorded: Donation | MonthlyGift | None = None,
    reason: str = "",
    level: int = logging.INFO,
) -> None:
    """One log line (key=value) per processed event: the gift it recorded, or the monthly
    gift when its news made no gift (`monthly=`)."""
    monthly = recorded if isinstance(recorded, MonthlyGift) else None
    logger.log(
        level,
        "payment_event event_id=%s type=%s outcome=%s donation=%s campaign=%s status=%s "
        "reason=%r%s",
        delivery.event_id,
        delivery.event_type,
        outcome,
        recorded.pk if isinstance(recorded, Donation) else "-",
        recorded.campaign_id if recorded else "-",
        recorded.status if recorded else "-",
        reason,
        f" monthly={monthly.pk}" if monthly else "",
    )


def _claimed_before(event: gateway.WebhookEvent, moment) -> bool:
    """Whether the event id was claimed before processing started (by reconciliation, say),
    as opposed to news about no gift of ours. Asked only when nothing was recorded."""
    return StripeEvent.objects.filter(event_id=event.event_id, processed_at__lt=moment).exists()


def _rejected(reason: str) -> WebhookReceipt:
    """Count a refused delivery in its hour's row (one row an hour, however many come)."""
    logger.warning("payment_event outcome=rejected reason=%r", reason)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    try:
        counted = WebhookRejection.objects.filter(hour=hour).update(
            count=F("count") + 1, last_reason=reason[:500]
        )
        if not counted:
            try:
                with transaction.atomic():
                    WebhookRejection.objects.create(hour=hour, count=1, last_reason=reason[:500])
            except IntegrityError:  # another request created the hour's row first
                WebhookRejection.objects.filter(hour=hour).update(count=F("count") + 1)
    except DatabaseError:  # counting is for the panel; refusing must not fail with it
        logger.exception("Could not count a refused webhook delivery.")
    return WebhookReceipt(accepted=False, outcome=Outcome.REJECTED)
