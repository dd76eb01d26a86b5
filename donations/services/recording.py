"""What syncing a payment does to a gift, one-off gift or month of a monthly gift.

`services/payments.py` (one-off gifts) and `services/monthly.py` (monthly gifts) read
Stripe's objects as they are now and make the gift match them, through the gate
(services/history.py). These are the rules they share: what counts is what Stripe charged,
converted once (`payment_apply`), never the pledge; a charge's facts reach only the gift it
belongs to (`charge_matches`); the refunded part is the sum of the charge's refunds that
hold, each kept by id with Stripe's status (`refunds_sync`); and each Stripe event id is
stored once (`stripe_event_claim`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

import money
from donations import stripe_gateway as gateway
from donations.models import REFUND_HOLDS, Donation, MonthlyGift, Refund, RefundStatus, StripeEvent
from donations.services.history import Change
from donations.services.rates import (
    RATE_PLACES,
    ConvertedAmount,
    RateUnavailableError,
    conversion_apply,
    convert_amount,
)

logger = logging.getLogger(__name__)


def stripe_event_claim(
    event: gateway.WebhookEvent, recorded: Donation | MonthlyGift | None = None
) -> bool:
    """Store the event id once, linked to what its sync recorded; False when it was stored
    before (processed already, by another worker or reconciliation)."""
    donation = recorded if isinstance(recorded, Donation) else None
    gift = recorded if isinstance(recorded, MonthlyGift) else None
    if donation is not None and donation.monthly_gift_id:
        gift = MonthlyGift(pk=donation.monthly_gift_id)
    try:
        with transaction.atomic():
            StripeEvent.objects.create(
                event_id=event.event_id, type=event.type, donation=donation, monthly_gift=gift
            )
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class PaymentNote:
    """What recording a payment left for organizers: nothing, a flag, or a refusal."""

    text: str = ""
    refused: bool = False

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


def payment_apply(
    donation: Donation,
    *,
    charged: Decimal | None,
    currency: str,
    payment_intent_id: str | None,
    charge: gateway.ChargeFacts | None,
) -> PaymentNote:
    """Fill a gift Stripe reports paid: what was charged, Stripe's ids, the amount that counts.

    What counts is what Stripe says was charged, never the pledge. When Stripe charged another
    currency or amount than the giver pledged (Adaptive Pricing, say), the gift becomes what was
    charged (its fee-cover share kept apart in proportion), converted as any gift is, and is
    flagged for organizers; the history row keeps the pledge. When what was charged cannot be
    counted (a currency we do not take, no stored rate for it, nothing charged), the gift is
    refused: it stays pending and uncounted, with Stripe's facts and a flag. Returns the note.
    """
    currency = currency or donation.currency
    charged = charged if charged is not None else donation.charged_amount
    donation.amount_charged, donation.currency_charged = charged, currency
    note = _claim_stripe_ids(donation, payment_intent_id=payment_intent_id, charge=charge)
    pledged = donation.amount + donation.fee_cover_amount
    as_pledged = currency == donation.currency and charged == pledged
    if as_pledged:
        gift = donation.amount
    elif charged <= 0 or pledged <= 0 or currency not in money.SUPPORTED_CURRENCIES:
        return _refuse(donation, charged, currency)
    else:
        gift = money.quantize(charged * donation.amount / pledged, currency)
    converted = _counted_value(donation, gift=gift, currency=currency, charged=charged)
    if converted is None and not as_pledged:
        return _refuse(donation, charged, currency)
    if not as_pledged:
        pledge = f"{donation.amount} {donation.currency} + fee cover {donation.fee_cover_amount}"
        donation.amount, donation.currency = gift, currency
        donation.fee_cover_amount = charged - gift
        donation.review_reason = Donation.ReviewReason.CHARGE_MISMATCH
        note = PaymentNote(f"Stripe charged {charged} {currency}, not the pledged {pledge}")
    donation.received_at = timezone.now()
    if converted is None:
        # Keep the ECB estimate made when the gift started: a paid gift must be recorded.
        logger.warning(
            "No rate for %s today; gift %s keeps its estimate.", donation.currency, donation.pk
        )
    else:
        conversion_apply(donation=donation, converted=converted)
    return note


def _refuse(donation: Donation, charged: Decimal, currency: str) -> PaymentNote:
    donation.review_reason = Donation.ReviewReason.CHARGE_UNCOUNTABLE
    logger.error("Gift %s: Stripe charged %s %s, which cannot be counted.", donation.pk, charged,
                 currency)  # fmt: skip
    return PaymentNote(
        f"Stripe charged {charged} {currency}, which cannot be counted; not recorded as paid",
        refused=True,
    )


def _counted_value(
    donation: Donation, *, gift: Decimal, currency: str, charged: Decimal
) -> ConvertedAmount | None:
    """`gift` (in `currency`, part of the `charged` total) in the campaign currency, fixed now
    and never recomputed; None without a stored rate.

    The gift itself when the campaign's currency was charged; else Stripe's settled amount
    when it settled in the campaign's currency (the fee surcharge is charged but never
    counted, so the settlement is shared out in proportion); else the stored ECB rate.
    """
    campaign_currency = donation.campaign.currency
    today = timezone.localdate()
    if currency == campaign_currency:
        return ConvertedAmount(
            money.quantize(gift, campaign_currency),
            Decimal(1),
            today,
            Donation.RateSource.SAME_CURRENCY,
        )
    if (
        donation.settlement_amount is not None
        and donation.settlement_currency == campaign_currency
        and charged > 0
    ):
        rate = donation.settlement_amount / charged
        return ConvertedAmount(
            money.quantize(gift * rate, campaign_currency),
            rate.quantize(RATE_PLACES),
            today,
            Donation.RateSource.STRIPE,
        )
    try:
        return convert_amount(
            amount=gift, currency=currency, to_currency=campaign_currency, on=today
        )
    except RateUnavailableError:
        return None


def _claim_stripe_ids(
    donation: Donation, *, payment_intent_id: str | None, charge: gateway.ChargeFacts | None
) -> PaymentNote:
    """Set the Stripe ids (and settlement) the gift does not have yet. An id that already
    belongs to another gift is not set (the database would refuse it on every retry): the
    gift is flagged instead."""
    wanted = {
        "stripe_payment_intent_id": payment_intent_id
        or (charge.payment_intent_id if charge else None),
        "stripe_charge_id": charge.charge_id if charge else None,
    }
    new = {
        field: value for field, value in wanted.items() if value and not getattr(donation, field)
    }
    if new:
        taken = Q()
        for field, value in new.items():
            taken |= Q(**{field: value})
        if Donation.objects.filter(taken).exclude(pk=donation.pk).exists():
            donation.review_reason = Donation.ReviewReason.STRIPE_ID_CONFLICT
            return PaymentNote(f"Stripe ids {sorted(new.values())} belong to another gift")
        for field, value in new.items():
            setattr(donation, field, value)
    if charge is not None and donation.stripe_charge_id == charge.charge_id:
        _fill_settlement(donation, charge)
    return PaymentNote()


def charge_matches(donation: Donation, charge: gateway.ChargeFacts) -> bool:
    """Whether a charge is the gift's own: its id (when the gift knows one), its currency and
    amount as recorded. Anything else must not move the gift's money."""
    if donation.stripe_charge_id and donation.stripe_charge_id != charge.charge_id:
        return False
    if charge.currency != donation.charged_currency:
        return False
    return donation.amount_charged is None or charge.amount == donation.amount_charged


def _fill_settlement(donation: Donation, charge: gateway.ChargeFacts) -> None:
    settlement = charge.settlement
    if settlement is not None and donation.settlement_amount is None:
        donation.settlement_amount = settlement.amount
        donation.settlement_currency = settlement.currency
        rate = settlement.exchange_rate
        donation.settlement_exchange_rate = None if rate is None else rate.quantize(RATE_PLACES)
        donation.stripe_fee = settlement.fee
        donation.net_amount = settlement.net


def refunds_sync(change: Change, refunds: list[gateway.RefundFacts]) -> str:
    """Make the gift's refunds what Stripe says they are now: each kept by id with its
    status, the refunded part the sum of those that hold (a failed or canceled refund gives
    back what it took; a gift refunded in full counts again when its refund fails). A
    refund in another currency than the gift was charged, or of another gift, is flagged,
    not applied. Returns a note on what was not applied; each refund's status change goes
    into the gift's history beside its columns (`change.also`)."""
    donation = change.row
    skipped = []
    for facts in refunds:
        if facts.currency != donation.charged_currency or facts.status not in RefundStatus.values:
            skipped.append(f"{facts.refund_id} ({facts.amount} {facts.currency}, {facts.status})")
            continue
        refund, created = Refund.objects.get_or_create(
            stripe_refund_id=facts.refund_id,
            defaults={"donation": donation, "amount": facts.amount, "currency": facts.currency,
                      "status": facts.status},
        )  # fmt: skip
        if refund.donation_id != donation.pk:
            skipped.append(f"{facts.refund_id} (belongs to another gift)")
        elif created or refund.status != facts.status:
            change.also[f"refund {facts.refund_id}"] = [
                None if created else refund.status,
                facts.status,
            ]
            if not created:
                refund.status = facts.status
                refund.save(update_fields=["status", "updated_at"])
    holding = Refund.objects.filter(donation=donation, status__in=REFUND_HOLDS).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    holding = Decimal(holding).quantize(Decimal("0.01"))  # SQLite sums in floating point
    donation.amount_refunded = holding
    converted = money.quantize(holding * donation.conversion_rate, donation.campaign.currency)
    donation.amount_refunded_converted = min(converted, donation.amount_converted)
    whole = holding > 0 and holding >= donation.amount
    if whole and donation.status == Donation.Status.SUCCEEDED:
        donation.status = Donation.Status.REFUNDED
    elif not whole and donation.status == Donation.Status.REFUNDED:
        donation.status = Donation.Status.SUCCEEDED
    if skipped:
        donation.review_reason = Donation.ReviewReason.REFUND_MISMATCH
        return f"refunds not applied: {', '.join(skipped)}"
    return ""


def charge_sync_into(
    change: Change, charge: gateway.ChargeFacts, refunds: list[gateway.RefundFacts] | None
) -> str:
    """A recorded gift's charge as Stripe has it now: its ids and settlement filled in when
    first known, and its refunds (when given) synced. A charge that is not the gift's own is
    flagged and changes nothing. Returns a note for the history."""
    donation = change.row
    if not charge_matches(donation, charge):
        donation.review_reason = Donation.ReviewReason.REFUND_MISMATCH
        note = (
            f"charge {charge.charge_id} ({charge.amount} {charge.currency}) is not this "
            f"gift's ({donation.stripe_charge_id}, {donation.charged_amount} "
            f"{donation.charged_currency}); not applied"
        )
        logger.error("Gift %s: %s.", donation.pk, note)
        return note
    notes = [str(_claim_stripe_ids(donation, payment_intent_id=charge.payment_intent_id,
                                   charge=charge))]  # fmt: skip
    if refunds is not None and donation.status != Donation.Status.PENDING:
        notes.append(refunds_sync(change, refunds))
    return "; ".join(note for note in notes if note)


def charge_refunds(charge: gateway.ChargeFacts | None, *, known: bool = False):
    """The charge's refunds as Stripe has them now, or None when there is nothing to read:
    no charge, or no refund on it and none recorded (`known`)."""
    if charge is None or not (charge.amount_refunded or known):
        return None
    return gateway.list_refunds(charge_id=charge.charge_id)
