"""Recording what Stripe reports about online gifts, exactly once and only moving forward.

One recording path for every way news of a payment arrives: the webhook, the thank-you page
(which asks Stripe about its session), reconciliation and the demo checkout all end in
`donation_record_checkout`, which locks the gift's row and moves its status only forward. The
webhook also stores each event id under a unique constraint in the same transaction, so an
event delivered twice (or twenty times at once) has its effect once. Every change leaves a
history row naming the event (or, without one, where the news came from).
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

import money
from donations import stripe_gateway as gateway
from donations.models import Donation, DonationChange, StripeEvent, WebhookDelivery
from donations.services.history import (
    donation_change_recorded,
    donation_changes,
    donation_snapshot,
)
from donations.services.rates import (
    RATE_PLACES,
    ConvertedAmount,
    RateUnavailableError,
    conversion_apply,
    convert_amount,
)
from donations.services.receipts import receipt_queue

logger = logging.getLogger(__name__)

# Statuses a gift may move to from each status; everything else is a late or repeated report.
FORWARD = {
    Donation.Status.PENDING: {
        Donation.Status.SUCCEEDED,
        Donation.Status.FAILED,
        Donation.Status.EXPIRED,
    },
    Donation.Status.SUCCEEDED: {Donation.Status.REFUNDED},
}
DISPUTE_FORWARD = {
    Donation.DisputeStatus.NONE: {Donation.DisputeStatus.OPEN, Donation.DisputeStatus.LOST,
                                  Donation.DisputeStatus.WON},
    Donation.DisputeStatus.OPEN: {Donation.DisputeStatus.LOST, Donation.DisputeStatus.WON},
}  # fmt: skip
# The history action for a gift whose status moved to each of these.
STATUS_ACTIONS = {
    Donation.Status.SUCCEEDED: DonationChange.Action.PAYMENT,
    Donation.Status.FAILED: DonationChange.Action.FAILURE,
    Donation.Status.EXPIRED: DonationChange.Action.EXPIRY,
    Donation.Status.REFUNDED: DonationChange.Action.REFUND,
}


def _claim_event(event: gateway.WebhookEvent | None) -> StripeEvent | bool | None:
    """Store the event id; False when it was stored before (a repeat), None without an event."""
    if event is None:
        return None
    try:
        with transaction.atomic():
            return StripeEvent.objects.create(event_id=event.event_id, type=event.type)
    except IntegrityError:
        return False


def _move(donation: Donation, status: str) -> bool:
    if status in FORWARD.get(donation.status, set()):
        donation.status = status
        return True
    return False


def _action_for(changes: dict) -> str:
    if "status" in changes:
        return STATUS_ACTIONS.get(changes["status"][1], DonationChange.Action.STRIPE_UPDATE)
    if "amount_refunded" in changes:
        return DonationChange.Action.REFUND
    if "dispute_status" in changes:
        return DonationChange.Action.DISPUTE
    return DonationChange.Action.STRIPE_UPDATE


def _save_with_history(
    donation: Donation,
    before: dict,
    *,
    event: gateway.WebhookEvent | None,
    origin: str,
) -> None:
    """Save only real news, with its history row, so a repeated report leaves the row as it
    was (`updated_at` too)."""
    changes = donation_changes(before, donation)
    if not changes:
        return
    donation.full_clean()
    donation.save()
    donation_change_recorded(
        donation=donation,
        before=before,
        action=_action_for(changes),
        stripe_event_id=event.event_id if event else "",
        reason=f"Stripe event {event.type}" if event else origin,
    )


def _link_event(stored_event: StripeEvent | bool | None, donation: Donation) -> None:
    if isinstance(stored_event, StripeEvent):
        stored_event.donation = donation
        stored_event.save(update_fields=["donation"])


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
        stored_event = _claim_event(event)
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
        if session.outcome == gateway.CheckoutOutcome.PAID and _move(
            donation, Donation.Status.SUCCEEDED
        ):
            _record_payment(donation, session)
            receipt_queue(donation=donation)
        elif session.outcome == gateway.CheckoutOutcome.PAID and session.charge:
            # Already recorded: what Stripe says now may carry a refund whose webhook was lost.
            _fill_stripe_facts(donation, session.charge)
            _apply_refund(
                donation,
                session.charge.amount_refunded,
                fully_refunded=session.charge.fully_refunded,
            )
        elif session.outcome == gateway.CheckoutOutcome.FAILED:
            _move(donation, Donation.Status.FAILED)
        elif session.outcome == gateway.CheckoutOutcome.EXPIRED:
            _move(donation, Donation.Status.EXPIRED)
        _save_with_history(donation, before, event=event, origin=origin)
        _link_event(stored_event, donation)
    return donation


def _record_payment(donation: Donation, session: gateway.CheckoutFacts) -> None:
    """Fill a newly succeeded gift: what was charged, Stripe's ids, the amount that counts."""
    donation.received_at = timezone.now()
    donation.currency_charged = session.currency or donation.currency
    if session.amount_total is not None:
        donation.amount_charged = session.amount_total
    else:
        donation.amount_charged = donation.charged_amount
    if session.payment_intent_id:
        donation.stripe_payment_intent_id = session.payment_intent_id
    if session.charge:
        _fill_stripe_facts(donation, session.charge)
    _count_in_campaign_currency(donation)
    refunded = session.charge.amount_refunded if session.charge else donation.amount_refunded
    fully = bool(session.charge and session.charge.fully_refunded)
    _apply_refund(donation, refunded, fully_refunded=fully)


def _count_in_campaign_currency(donation: Donation) -> None:
    """The gift in the campaign currency, fixed now and never recomputed.

    The charged amount when the campaign's currency was charged; else Stripe's settled amount
    when it settled in the campaign's currency; else the stored ECB rate. The fee surcharge is
    charged but never counted, so a settled amount is shared out in proportion.
    """
    campaign_currency = donation.campaign.currency
    charged = donation.charged_amount
    today = timezone.localdate()
    if donation.currency_charged == campaign_currency:
        gift = money.quantize(charged - donation.fee_cover_amount, campaign_currency)
        converted = ConvertedAmount(gift, Decimal(1), today, Donation.RateSource.SAME_CURRENCY)
    elif (
        donation.settlement_amount is not None and donation.settlement_currency == campaign_currency
    ):
        rate = donation.settlement_amount / charged
        converted = ConvertedAmount(
            money.quantize(donation.amount * rate, campaign_currency),
            rate.quantize(RATE_PLACES),
            today,
            Donation.RateSource.STRIPE,
        )
    else:
        try:
            converted = convert_amount(
                amount=donation.amount,
                currency=donation.currency,
                to_currency=campaign_currency,
                on=today,
            )
        except RateUnavailableError:
            # Keep the ECB estimate made when the gift started: a paid gift must be recorded.
            logger.warning(
                "No rate for %s today; gift %s keeps its estimate.", donation.currency, donation.pk
            )
            return
    conversion_apply(donation=donation, converted=converted)


def _fill_stripe_facts(donation: Donation, charge: gateway.ChargeFacts) -> None:
    """Stripe ids and the settlement, filled in whenever they first become known."""
    donation.stripe_charge_id = donation.stripe_charge_id or charge.charge_id
    donation.stripe_payment_intent_id = (
        donation.stripe_payment_intent_id or charge.payment_intent_id
    )
    settlement = charge.settlement
    if settlement is not None and donation.settlement_amount is None:
        donation.settlement_amount = settlement.amount
        donation.settlement_currency = settlement.currency
        rate = settlement.exchange_rate
        donation.settlement_exchange_rate = None if rate is None else rate.quantize(RATE_PLACES)
        donation.stripe_fee = settlement.fee
        donation.net_amount = settlement.net


def _apply_refund(donation: Donation, refunded: Decimal, *, fully_refunded: bool) -> None:
    """Set the refunded part from Stripe's running total (never a sum of deltas).

    In the campaign currency at the gift's stored rate, capped at what the gift counts for. A
    refund of the whole gift ends its counting; a refund that arrives before the payment is
    kept on the pending gift and applied when the payment is recorded.
    """
    # The larger total wins, so an older event delivered late cannot shrink a refund.
    donation.amount_refunded = max(refunded, donation.amount_refunded)
    converted = money.quantize(
        donation.amount_refunded * donation.conversion_rate, donation.campaign.currency
    )
    donation.amount_refunded_converted = min(converted, donation.amount_converted)
    if donation.amount_refunded and (fully_refunded or donation.amount_refunded >= donation.amount):
        _move(donation, Donation.Status.REFUNDED)


def _locked_gift_for_charge(charge_id: str, payment_intent_id: str | None, donation_id: str | None):
    match = Q(stripe_charge_id=charge_id)
    if payment_intent_id:
        match |= Q(stripe_payment_intent_id=payment_intent_id)
    if donation_id:
        match |= Q(pk=donation_id)
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
        stored_event = _claim_event(event)
        if stored_event is False:
            return None
        donation = _locked_gift_for_charge(
            charge.charge_id, charge.payment_intent_id, _valid_uuid(charge.donation_id)
        )
        if donation is None:
            logger.warning("Stripe charge %s matches no gift; ignored.", charge.charge_id)
            return None
        before = donation_snapshot(donation)
        _fill_stripe_facts(donation, charge)
        _apply_refund(donation, charge.amount_refunded, fully_refunded=charge.fully_refunded)
        _save_with_history(donation, before, event=event, origin=origin)
        _link_event(stored_event, donation)
    return donation


def donation_record_dispute(
    *, dispute: gateway.DisputeFacts, event: gateway.WebhookEvent
) -> Donation | None:
    """Flag a disputed gift; a lost dispute stops it counting. At most once per event."""
    with transaction.atomic():
        stored_event = _claim_event(event)
        if stored_event is False:
            return None
        donation = _locked_gift_for_charge(dispute.charge_id, None, None)
        if donation is None:
            logger.warning("Stripe dispute %s matches no gift; ignored.", dispute.dispute_id)
            return None
        before = donation_snapshot(donation)
        if event.type == "charge.dispute.created":
            new_status = Donation.DisputeStatus.OPEN
        elif dispute.status == "lost":
            new_status = Donation.DisputeStatus.LOST
        else:  # won, or an inquiry closed without becoming a chargeback
            new_status = Donation.DisputeStatus.WON
        if new_status in DISPUTE_FORWARD.get(donation.dispute_status, set()):
            donation.dispute_status = new_status
        _save_with_history(donation, before, event=event, origin="")
        _link_event(stored_event, donation)
    return donation


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
DISPUTE_EVENTS = {"charge.dispute.created", "charge.dispute.closed"}


def stripe_event_handle(*, event: gateway.WebhookEvent) -> Donation | None:
    """Apply one verified Stripe event exactly once (see the module docstring).

    Unknown types are ignored. A paid session, or a `charge.updated` whose settlement we lack,
    is completed with one API call before the transaction, so no row lock waits on the network.
    Any exception propagates: the webhook answers 5xx, nothing is half-written (one
    transaction) and Stripe retries.
    """
    if event.type in SESSION_EVENTS and event.session is not None:
        session = event.session
        if event.type == "checkout.session.async_payment_failed":
            session = session.with_outcome(gateway.CheckoutOutcome.FAILED)
        elif session.outcome == gateway.CheckoutOutcome.PAID and _known_session(session):
            session = gateway.retrieve_checkout_session(session.session_id)
        return donation_record_checkout(session=session, event=event)
    if event.type in CHARGE_EVENTS and event.charge is not None:
        charge = event.charge
        late_settlement = event.type == "charge.updated" and charge.balance_transaction_id
        if charge.settlement is None and late_settlement and _known_charge(charge):
            charge = gateway.retrieve_charge(charge.charge_id)
        return donation_record_charge(charge=charge, event=event)
    if event.type in DISPUTE_EVENTS and event.dispute is not None:
        return donation_record_dispute(dispute=event.dispute, event=event)
    return None


def _known_session(session: gateway.CheckoutFacts) -> bool:
    return Donation.objects.filter(stripe_checkout_session_id=session.session_id).exists()


def _known_charge(charge: gateway.ChargeFacts) -> bool:
    return Donation.objects.filter(
        stripe_charge_id=charge.charge_id, settlement_amount__isnull=True
    ).exists()


HANDLED_EVENTS = SESSION_EVENTS | CHARGE_EVENTS | DISPUTE_EVENTS
Outcome = WebhookDelivery.Outcome


def _delivery_recorded(
    *,
    outcome: str,
    event: gateway.WebhookEvent | None = None,
    donation: Donation | None = None,
    reason: str = "",
) -> WebhookDelivery:
    """Keep the delivery for the health panel and write its one log line (key=value)."""
    delivery = WebhookDelivery.objects.create(
        event_id=event.event_id if event else "",
        event_type=event.type if event else "",
        outcome=outcome,
        reason=reason[:2000],
        donation=donation,
    )
    level = {Outcome.FAILED: logging.ERROR, Outcome.REJECTED: logging.WARNING}.get(
        outcome, logging.INFO
    )
    logger.log(
        level,
        "payment_event event_id=%s type=%s outcome=%s donation=%s campaign=%s status=%s reason=%r",
        delivery.event_id or "-",
        delivery.event_type or "-",
        outcome,
        donation.pk if donation else "-",
        donation.campaign_id if donation else "-",
        donation.status if donation else "-",
        reason,
    )
    return delivery


def stripe_webhook_receive(*, payload: bytes, signature: str) -> WebhookDelivery:
    """One request to the webhook: verified, applied once (`stripe_event_handle`), kept.

    Every delivery leaves a WebhookDelivery row and one log line with its outcome:
    rejected (bad signature; nothing applied), recorded, repeated, ignored (a type we do not
    use) or unmatched (no gift of ours). An error while applying is kept as failed, after
    its transaction rolled back, and then propagates, so the webhook answers 500 and Stripe
    delivers again. (Two deliveries of one event at the same instant may both read as new;
    the second then shows as unmatched, while the gift is still recorded once.)
    """
    try:
        event = gateway.construct_webhook_event(payload=payload, signature=signature)
    except gateway.InvalidWebhookError as error:
        return _delivered_rejected(str(error))
    seen_before = StripeEvent.objects.filter(event_id=event.event_id).exists()
    try:
        donation = stripe_event_handle(event=event)
    except Exception as error:
        try:
            _delivery_recorded(
                outcome=Outcome.FAILED, event=event, reason=f"{type(error).__name__}: {error}"
            )
        except Exception:  # the database itself may be what failed: keep the first error
            logger.exception("Could not keep the failed delivery of %s.", event.event_id)
        raise
    if donation is not None:
        outcome = Outcome.RECORDED
    elif event.type not in HANDLED_EVENTS:
        outcome = Outcome.IGNORED
    elif seen_before:
        outcome = Outcome.REPEATED
    else:
        outcome = Outcome.UNMATCHED
    return _delivery_recorded(outcome=outcome, event=event, donation=donation)


def _delivered_rejected(reason: str) -> WebhookDelivery:
    return _delivery_recorded(outcome=Outcome.REJECTED, reason=reason or "invalid signature")
