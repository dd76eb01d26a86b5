"""Recording what Stripe reports about online gifts, exactly once and only moving forward.

One recording path for every way news of a payment arrives: the webhook, the thank-you page
(which asks Stripe about its session), reconciliation and the demo checkout all end in
`donation_record_checkout`, which locks the gift's row and moves its status only forward. The
webhook also stores each event id under a unique constraint in the same transaction, so an
event delivered twice (or twenty times at once) has its effect once. Every change leaves a
history row naming the event (or, without one, where the news came from).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

import money
from config.tasks import enqueue, task
from donations import stripe_gateway as gateway
from donations.models import (
    REFUND_HOLDS,
    Donation,
    MonthlyGift,
    Refund,
    RefundStatus,
    StripeEvent,
    WebhookDelivery,
    WebhookRejection,
)
from donations.services.history import donation_snapshot
from donations.services.monthly import (
    DEMO_PREFIX,
    monthly_gift_record_checkout,
    monthly_gift_record_invoice,
    monthly_gift_record_subscription,
    monthly_gift_refuse_invoice,
    monthly_gift_stop,
)
from donations.services.receipts import receipt_queue
from donations.services.recording import (
    PaymentNote,
    charge_matches,
    charge_refunds_apply,
    donation_save_reported,
    payment_apply,
    refund_total_apply,
    status_move,
    stripe_event_claim,
    stripe_event_link,
    stripe_facts_fill,
)
from donations.services.renewals import RENEWAL_NOTICE_KINDS, renewal_notice_record

logger = logging.getLogger(__name__)
RefundStatusValues = frozenset(RefundStatus.values)

# Where each dispute status comes in a dispute's life, to order reports of the same moment
# (Stripe's event times are whole seconds): inquiry, dispute, decision, appeal.
DISPUTE_STAGE = {
    "": 0, "warning_needs_response": 1, "warning_under_review": 2, "needs_response": 2,
    "under_review": 3, "warning_closed": 4, "won": 4, "lost": 4, "prevented": 4,
    "appeal_needs_response": 5, "appeal_under_review": 6,
}  # fmt: skip


def donation_record_checkout(
    *,
    session: gateway.CheckoutFacts,
    event: gateway.WebhookEvent | None = None,
    origin: str = "",
) -> Donation | None:
    """Record what a Checkout Session says, at most once per event and only moving forward.

    Paid: the gift succeeds with its Stripe ids, the amount charged, the settlement when known
    and the amount that counts in the campaign currency; its receipt is queued in the same
    transaction. A repeated event, a late report (expired after paid) or a second reporter
    (thank-you page and webhook together) changes nothing. Returns None for a repeated event
    or a session we do not know. `origin` names the reporter in the history when there is no
    event (thank-you page, reconciliation, demo checkout).
    """
    with transaction.atomic():
        stored_event = stripe_event_claim(event)
        if stored_event is False:
            return None
        donation = (
            Donation.objects.select_for_update(of=("self",))
            .select_related("campaign")
            .filter(stripe_checkout_session_id=session.session_id, source=Donation.Source.ONLINE)
            .first()
        )
        if donation is None:
            logger.warning("Stripe session %s matches no gift; ignored.", session.session_id)
            return None
        before = donation_snapshot(donation)
        note = ""
        paid = session.outcome == gateway.CheckoutOutcome.PAID
        if paid and donation.status == Donation.Status.PENDING:
            note = payment_apply(
                donation,
                charged=session.amount_total,
                currency=session.currency,
                payment_intent_id=session.payment_intent_id,
                charge=session.charge,
            )
            if not note.refused and status_move(donation, Donation.Status.SUCCEEDED):
                receipt_queue(donation=donation)
                charge_refunds_apply(donation, session.charge)
        elif paid and session.charge and charge_matches(donation, session.charge):
            # Already recorded: what Stripe says now may carry a refund whose webhook was lost.
            stripe_facts_fill(donation, session.charge)
            refund_total_apply(
                donation,
                session.charge.amount_refunded,
                fully_refunded=session.charge.fully_refunded,
            )
        elif session.outcome == gateway.CheckoutOutcome.FAILED:
            status_move(donation, Donation.Status.FAILED)
        elif session.outcome == gateway.CheckoutOutcome.EXPIRED:
            status_move(donation, Donation.Status.EXPIRED)
        donation_save_reported(donation, before, event=event, origin=origin, note=str(note))
        stripe_event_link(stored_event, donation)
    return donation


REFUND_FORWARD = {
    "pending": {"requires_action", "succeeded", "failed", "canceled"},
    "requires_action": {"pending", "succeeded", "failed", "canceled"},
    "succeeded": {"failed"},
}


def _refunds_apply(
    donation: Donation, refunds: list[gateway.RefundFacts]
) -> tuple[str, dict[str, list]]:
    """Store each refund by id with its status moving only forward, then set the gift's
    refunded part to the refunds that hold: a failed or canceled refund gives back what it
    took, and a gift refunded in full counts again. Returns a note on refunds not applied
    and each refund's status change ({"refund <id>": [old, new]}) for the gift's history."""
    skipped = []
    moved: dict[str, list] = {}
    for facts in refunds:
        if facts.currency != donation.charged_currency or facts.status not in RefundStatusValues:
            skipped.append(f"{facts.refund_id} ({facts.amount} {facts.currency}, {facts.status})")
            continue
        refund, created = Refund.objects.get_or_create(
            stripe_refund_id=facts.refund_id,
            defaults={"donation": donation, "amount": facts.amount, "currency": facts.currency,
                      "status": facts.status},
        )  # fmt: skip
        if refund.donation_id != donation.pk:
            skipped.append(f"{facts.refund_id} (belongs to another gift)")
        elif created:
            moved[f"refund {facts.refund_id}"] = [None, refund.status]
        elif facts.status in REFUND_FORWARD.get(refund.status, set()):
            moved[f"refund {facts.refund_id}"] = [refund.status, facts.status]
            refund.status = facts.status
            refund.save(update_fields=["status", "updated_at"])
    holding = Refund.objects.filter(donation=donation, status__in=REFUND_HOLDS).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    donation.amount_refunded = holding
    converted = money.quantize(holding * donation.conversion_rate, donation.campaign.currency)
    donation.amount_refunded_converted = min(converted, donation.amount_converted)
    whole = holding > 0 and holding >= donation.amount
    if whole and donation.status == Donation.Status.SUCCEEDED:
        donation.status = Donation.Status.REFUNDED
    elif not whole and donation.status == Donation.Status.REFUNDED:
        donation.status = Donation.Status.SUCCEEDED  # a refund failed: the gift counts again
    if skipped:
        donation.review_reason = Donation.ReviewReason.REFUND_MISMATCH
        return f"refunds not applied: {', '.join(skipped)}", moved
    return "", moved


def donation_record_refunds(
    *,
    charge_id: str | None,
    payment_intent_id: str | None,
    refunds: list[gateway.RefundFacts],
    event: gateway.WebhookEvent | None = None,
    origin: str = "",
) -> Donation | None:
    """Record a charge's refunds by id and status, at most once per event, in any order.

    The gift is found by the charge or payment intent recorded on it; a refund in another
    currency than the gift was charged is flagged, not applied. Returns None for a repeated
    event or a charge no gift knows.
    """
    with transaction.atomic():
        stored_event = stripe_event_claim(event)
        if stored_event is False:
            return None
        donation = _locked_gift_for_charge(charge_id, payment_intent_id)
        if donation is None:
            logger.warning("Stripe refund of charge %s matches no gift; ignored.", charge_id)
            return None
        before = donation_snapshot(donation)
        moved: dict[str, list] = {}
        if donation.status == Donation.Status.PENDING:
            note = "refund of a payment not recorded yet; kept for the payment"
            logger.warning("Gift %s: %s.", donation.pk, note)
        else:
            note, moved = _refunds_apply(donation, refunds)
        donation_save_reported(donation, before, event=event, origin=origin, note=note, also=moved)
        stripe_event_link(stored_event, donation)
    return donation


def _charge_match(charge_id: str | None, payment_intent_id: str | None) -> Q | None:
    """Gifts recorded with this charge or payment intent: the only way a charge's news finds
    its gift (never the charge's metadata, which any charge may carry)."""
    match = Q(stripe_charge_id=charge_id) if charge_id else None
    if payment_intent_id:
        by_intent = Q(stripe_payment_intent_id=payment_intent_id)
        match = by_intent if match is None else match | by_intent
    return match


def _locked_gift_for_charge(charge_id: str | None, payment_intent_id: str | None):
    match = _charge_match(charge_id, payment_intent_id)
    if match is None:
        return None
    return (
        Donation.objects.select_for_update(of=("self",))
        .filter(match, source=Donation.Source.ONLINE)
        .select_related("campaign")
        .first()
    )


def donation_record_charge(
    *,
    charge: gateway.ChargeFacts,
    event: gateway.WebhookEvent | None = None,
    origin: str = "",
) -> Donation | None:
    """Record a charge's refunds and late settlement details, at most once per event.

    Refunds come from the charge's current `amount_refunded`, so any order of delivery and any
    repeat ends in the same row. Without an event (reconciliation asked Stripe itself) the same
    holds. Returns None for a repeated event or an unknown charge.
    """
    with transaction.atomic():
        stored_event = stripe_event_claim(event)
        if stored_event is False:
            return None
        donation = _locked_gift_for_charge(charge.charge_id, charge.payment_intent_id)
        if donation is None:
            logger.warning("Stripe charge %s matches no gift; ignored.", charge.charge_id)
            return None
        before = donation_snapshot(donation)
        if charge_matches(donation, charge):
            note = stripe_facts_fill(donation, charge)
            refund_total_apply(
                donation, charge.amount_refunded, fully_refunded=charge.fully_refunded
            )
        else:
            donation.review_reason = Donation.ReviewReason.REFUND_MISMATCH
            note = PaymentNote(
                f"charge {charge.charge_id} ({charge.amount} {charge.currency}) is not this "
                f"gift's ({donation.stripe_charge_id}, {donation.charged_amount} "
                f"{donation.charged_currency}); not applied"
            )
            logger.error("Gift %s: %s.", donation.pk, note)
        donation_save_reported(donation, before, event=event, origin=origin, note=str(note))
        stripe_event_link(stored_event, donation)
    return donation


def donation_record_dispute(
    *, dispute: gateway.DisputeFacts, event: gateway.WebhookEvent
) -> Donation | None:
    """Store a dispute's status as Stripe names it, and its fee; at most once per event.

    A gift whose dispute is lost (or lost and under appeal) stops counting; one won later
    (`charge.dispute.funds_reinstated`) counts again. Events apply in the order Stripe made
    them (their `created` time, then the stage of the status), whatever order they arrive
    in. The dispute finds its gift by the charge, or by the payment intent when the charge is
    not recorded yet. A status we do not know is flagged in the log and changes nothing.
    """
    with transaction.atomic():
        stored_event = stripe_event_claim(event)
        if stored_event is False:
            return None
        donation = _locked_gift_for_charge(dispute.charge_id, dispute.payment_intent_id)
        if donation is None:
            logger.warning("Stripe dispute %s matches no gift; ignored.", dispute.dispute_id)
            return None
        before = donation_snapshot(donation)
        if dispute.status not in DISPUTE_STAGE:
            logger.error("Stripe dispute %s has an unknown status %r; not applied.",
                         dispute.dispute_id, dispute.status)  # fmt: skip
        elif _is_newer(donation, dispute.status, event.created):
            donation.dispute_status = dispute.status
            donation.dispute_updated_at = datetime.datetime.fromtimestamp(
                event.created, datetime.UTC
            )
            if dispute.fee is not None and dispute.fee_currency in (
                "",
                donation.settlement_currency or dispute.fee_currency,
            ):
                donation.dispute_fee = dispute.fee
        donation_save_reported(donation, before, event=event, origin="")
        stripe_event_link(stored_event, donation)
    return donation


def _is_newer(donation: Donation, status: str, created: int) -> bool:
    """Whether Stripe reported `status` after the status the gift has."""
    if donation.dispute_updated_at is None:
        return True
    known = int(donation.dispute_updated_at.timestamp())
    if created != known:
        return created > known
    return DISPUTE_STAGE[status] >= DISPUTE_STAGE.get(donation.dispute_status, 0)


def _valid_uuid(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
CHARGE_EVENTS = {"charge.refunded", "charge.updated"}
REFUND_EVENTS = {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
DISPUTE_EVENTS = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}
# Monthly gifts (services/monthly.py): a paid invoice is a month; a failed one, a retry; an
# invoice about to charge a closed campaign is voided; the subscription says the rest.
INVOICE_EVENTS = {"invoice.paid", "invoice.payment_failed", "invoice.created", "invoice.finalized"}
SUBSCRIPTION_EVENTS = {"customer.subscription.updated", "customer.subscription.deleted"}
# Renewals that need their donor (services/renewals.py): a bank's confirmation (3D Secure) or
# a failed charge. The donor is emailed once per invoice and kind; the invoice is recorded
# as any other.
RENEWAL_EVENTS = frozenset(RENEWAL_NOTICE_KINDS)


def stripe_event_handle(*, event: gateway.WebhookEvent) -> Donation | MonthlyGift | None:
    """Apply one verified Stripe event exactly once (see the module docstring).

    Unknown types are ignored, and so is an event already recorded (without asking Stripe
    again; the unique event id still decides inside the transaction). A paid session, or a
    `charge.updated` whose settlement we lack, is completed with one API call before the
    transaction, so no row lock waits on the network. News of a charge that no gift knows yet,
    but whose metadata names a pending gift of ours (a refund or dispute delivered before the
    payment), first has that gift's session re-read from Stripe and recorded: Stripe's
    session, never the charge's metadata, says what was paid. Any exception propagates: the
    webhook answers 5xx, nothing is half-written (one transaction) and Stripe retries.

    Monthly gifts go the same way: a subscription-mode session and its first invoice, each
    paid invoice (re-read with its payment and charge) and the subscription's state are
    recorded by services/monthly.py; a month charged after its campaign closed stops the
    monthly gift at Stripe once the refusal is recorded.
    """
    if (
        event.type not in HANDLED_EVENTS
        or StripeEvent.objects.filter(event_id=event.event_id).exists()
    ):
        return None
    if event.type in SESSION_EVENTS and event.session is not None:
        session = _session_now(event)
        if session.monthly:
            return monthly_gift_record_checkout(
                session=session, invoice=_first_invoice(session), event=event
            )
        return donation_record_checkout(session=session, event=event)
    if event.type in RENEWAL_EVENTS and event.invoice is not None:
        # Kept first, in its own transaction: should recording fail and Stripe deliver the
        # event again, the notice is already there, and mailed once.
        renewal_notice_record(invoice=event.invoice, event_type=event.type, event_id=event.event_id)
        return _record_invoice_event(event)
    if event.type in INVOICE_EVENTS and event.invoice is not None:
        return _record_invoice_event(event)
    if event.type in SUBSCRIPTION_EVENTS and event.subscription is not None:
        return monthly_gift_record_subscription(subscription=event.subscription, event=event)
    if event.type in REFUND_EVENTS and event.refund is not None:
        return _record_refund_event(event)
    if event.type == "charge.refunded" and event.charge is not None:
        charge = event.charge
        _record_payment_first(charge.charge_id, charge.payment_intent_id, charge.donation_id)
        # The charge's refunds one by one, as Stripe has them now: their ids and statuses
        # decide, not the running total this (perhaps older) event carries. Should Stripe
        # list none, the running total is all there is.
        refunds = gateway.list_refunds(charge_id=charge.charge_id)
        if refunds:
            return donation_record_refunds(
                charge_id=charge.charge_id,
                payment_intent_id=charge.payment_intent_id,
                refunds=refunds,
                event=event,
            )
        return donation_record_charge(charge=charge, event=event)
    if event.type in CHARGE_EVENTS and event.charge is not None:
        charge = event.charge
        # Not a month first: charge.updated comes for every charge of the Stripe account.
        _record_payment_first(
            charge.charge_id, charge.payment_intent_id, charge.donation_id, months=False
        )
        late_settlement = event.type == "charge.updated" and charge.balance_transaction_id
        if charge.settlement is None and late_settlement and _known_charge(charge):
            charge = gateway.retrieve_charge(charge.charge_id)
        return donation_record_charge(charge=charge, event=event)
    if event.type in DISPUTE_EVENTS and event.dispute is not None:
        dispute = event.dispute
        if dispute.charge_id and _unknown_charge(dispute.charge_id, dispute.payment_intent_id):
            try:
                charge = gateway.retrieve_charge(dispute.charge_id)
            except gateway.NotFoundError:
                charge = None  # not a charge Stripe knows: nothing of ours to record first
            if charge is not None:
                _record_payment_first(
                    charge.charge_id, charge.payment_intent_id, charge.donation_id
                )
        return donation_record_dispute(dispute=dispute, event=event)
    return None


PAYMENT_FIRST = "Stripe reported a charge of this gift before its payment"
SUBSCRIPTION_FIRST = "Stripe reported an invoice of this monthly gift before its checkout"


def _first_invoice(session: gateway.CheckoutFacts) -> gateway.InvoiceFacts | None:
    """A paid subscription session's first invoice, with its payment, as Stripe has it now."""
    if session.outcome != gateway.CheckoutOutcome.PAID or not session.invoice_id:
        return None
    return gateway.retrieve_invoice(session.invoice_id)


def _record_invoice_event(event: gateway.WebhookEvent) -> Donation | MonthlyGift | None:
    invoice = event.invoice
    _record_subscription_first(invoice)
    if not MonthlyGift.objects.filter(stripe_subscription_id=invoice.subscription_id).exists():
        logger.warning("Invoice %s is of no monthly gift of ours; ignored.", invoice.invoice_id)
        return None  # another use of the Stripe account, or a gift we never started
    if event.type in ("invoice.created", "invoice.finalized"):
        return monthly_gift_refuse_invoice(invoice=invoice, event=event)
    if event.type == "invoice.paid":
        invoice = gateway.retrieve_invoice(invoice.invoice_id)
    recorded = monthly_gift_record_invoice(invoice=invoice, event=event)
    if isinstance(recorded, Donation) and (
        recorded.review_reason == Donation.ReviewReason.CAMPAIGN_CLOSED
    ):
        monthly_gift_stop(
            gift=recorded.monthly_gift,
            end=MonthlyGift.End.CAMPAIGN,
            reason=f"invoice {invoice.invoice_id} charged after the campaign closed",
        )
    return recorded


def _pending_session_reread(pending: QuerySet, *, news: str) -> gateway.CheckoutFacts | None:
    """The Checkout Session of the pending gift or monthly gift in `pending`, as Stripe has
    it now; None when there is no such gift, its session is a demo one, or Stripe does not
    know it (logged, naming the `news` that pointed at it)."""
    session_id = (
        pending.filter(stripe_checkout_session_id__isnull=False)
        .values_list("stripe_checkout_session_id", flat=True)
        .first()
    )
    if not session_id or session_id.startswith(DEMO_PREFIX):
        return None
    try:
        return gateway.retrieve_checkout_session(session_id)
    except gateway.NotFoundError:
        logger.warning("%s, whose session Stripe does not know.", news)
        return None


def _record_subscription_first(invoice: gateway.InvoiceFacts) -> None:
    """An invoice of a subscription no monthly gift holds yet, whose metadata names a pending
    one of ours: record that gift's session as Stripe has it now (it names the subscription),
    so the invoice finds its gift. The session, never the invoice's metadata, decides."""
    gift_id = _valid_uuid(invoice.monthly_gift_id)
    if gift_id is None or not invoice.subscription_id:
        return
    if MonthlyGift.objects.filter(stripe_subscription_id=invoice.subscription_id).exists():
        return
    session = _pending_session_reread(
        MonthlyGift.objects.filter(pk=gift_id, status=MonthlyGift.Status.PENDING),
        news=f"Invoice {invoice.invoice_id} names monthly gift {gift_id}",
    )
    if session is not None and session.subscription_id == invoice.subscription_id:
        monthly_gift_record_checkout(session=session, origin=SUBSCRIPTION_FIRST)


def _record_refund_event(event: gateway.WebhookEvent) -> Donation | None:
    """A refund's own event: the payment first if we have not recorded it, then every refund
    of its charge as Stripe has them now (this one's news included, ordered by status)."""
    refund = event.refund
    charge_id = refund.charge_id
    if charge_id and _unknown_charge(charge_id, refund.payment_intent_id):
        try:
            charge = gateway.retrieve_charge(charge_id)
        except gateway.NotFoundError:
            charge = None
        if charge is not None:
            _record_payment_first(charge.charge_id, charge.payment_intent_id, charge.donation_id)
    listed = gateway.list_refunds(charge_id=charge_id) if charge_id else []
    return donation_record_refunds(
        charge_id=charge_id,
        payment_intent_id=refund.payment_intent_id,
        refunds=[refund, *listed],
        event=event,
    )


ENDINGS = (gateway.CheckoutOutcome.EXPIRED, gateway.CheckoutOutcome.FAILED)


def _session_now(event: gateway.WebhookEvent) -> gateway.CheckoutFacts:
    """The session as Stripe has it now, for an event that could change a gift we know.

    Paid: re-read for the charge and settlement (and any refund since). Expired or failed for
    a gift still pending: re-read too, so that such an event delivered before (or instead of)
    the payment's news never ends a gift Stripe reports paid. Stripe not knowing the session
    leaves the event's own word.
    """
    session = event.session
    failed = event.type == "checkout.session.async_payment_failed"
    if failed:
        session = session.with_outcome(gateway.CheckoutOutcome.FAILED)
    status = (
        Donation.objects.filter(stripe_checkout_session_id=session.session_id)
        .values_list("status", flat=True)
        .first()
    )
    paid = session.outcome == gateway.CheckoutOutcome.PAID
    ending = session.outcome in ENDINGS and status == Donation.Status.PENDING
    if status is None or not (paid or ending):
        return session
    try:
        current = gateway.retrieve_checkout_session(session.session_id)
    except gateway.NotFoundError:
        if paid:
            raise
        logger.warning("Stripe does not know session %s; its event decides.", session.session_id)
        return session
    if failed and current.outcome != gateway.CheckoutOutcome.PAID:
        return current.with_outcome(gateway.CheckoutOutcome.FAILED)
    return current


def _unknown_charge(charge_id: str | None, payment_intent_id: str | None) -> bool:
    match = _charge_match(charge_id, payment_intent_id)
    return match is None or not Donation.objects.filter(match).exists()


def _record_payment_first(
    charge_id: str, payment_intent_id: str | None, donation_id: str | None, *, months: bool = True
) -> None:
    """A charge no gift knows, whose metadata names a pending gift: record that gift's
    session as Stripe has it now, so the charge's news finds its gift."""
    if not _unknown_charge(charge_id, payment_intent_id):
        return
    gift_id = _valid_uuid(donation_id)
    if gift_id is None:
        if months:
            _record_month_first(payment_intent_id)
        return
    session = _pending_session_reread(
        Donation.objects.filter(
            pk=gift_id, source=Donation.Source.ONLINE, status=Donation.Status.PENDING
        ),
        news=f"Charge {charge_id} names gift {gift_id}",
    )
    if session is not None:
        donation_record_checkout(session=session, origin=PAYMENT_FIRST)


def _record_month_first(payment_intent_id: str | None) -> None:
    """A charge no gift knows and without our metadata may be a month of a monthly gift
    whose invoice's news has not come: if Stripe says the payment paid an invoice of one of
    our subscriptions, record that month first (by its invoice id, so at most once)."""
    if (
        not payment_intent_id
        or not MonthlyGift.objects.exclude(stripe_subscription_id__isnull=True).exists()
    ):
        return
    invoice = gateway.invoice_of_payment(payment_intent_id)
    if invoice is None or not invoice.paid or not invoice.subscription_id:
        return
    if MonthlyGift.objects.filter(stripe_subscription_id=invoice.subscription_id).exists():
        monthly_gift_record_invoice(invoice=invoice, origin=PAYMENT_FIRST)


def _known_charge(charge: gateway.ChargeFacts) -> bool:
    return Donation.objects.filter(
        stripe_charge_id=charge.charge_id, settlement_amount__isnull=True
    ).exists()


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


def stripe_event_process(*, event_id: str) -> WebhookDelivery | None:
    """Process one event of the inbox exactly once (`stripe_event_handle`), keeping the
    outcome on its row. A second run for a processed event does nothing. An error is kept on
    the row (`reason`, `attempts`) and propagates, so the task fails and the sweep retries
    it later; exactly-once still rests on the unique event claim and Stripe ids."""
    delivery = WebhookDelivery.objects.filter(event_id=event_id).first()
    if delivery is None or delivery.processed_at is not None or not delivery.payload:
        return delivery
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
    delivery.refresh_from_db()
    return delivery


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
