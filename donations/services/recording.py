"""What every report of a payment goes through, one-off gift or month of a monthly gift.

The webhook, the thank-you page, reconciliation and the demo checkout report payments;
`services/payments.py` (one-off gifts) and `services/monthly.py` (monthly gifts) record
them with these rules: the Stripe event is claimed under a unique id in the same transaction
as its effect (`stripe_event_claim`), a gift's status only moves forward (`status_move`), only
real news is saved, with its history row (`donation_save_reported`), and what counts is what
Stripe charged, converted once (`payment_apply`), never the pledge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

import money
from donations import stripe_gateway as gateway
from donations.models import Donation, DonationChange, Refund, StripeEvent
from donations.services.history import donation_change_recorded, donation_changes
from donations.services.rates import (
    RATE_PLACES,
    ConvertedAmount,
    RateUnavailableError,
    conversion_apply,
    convert_amount,
)

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
# The history action for a gift whose status moved to each of these.
STATUS_ACTIONS = {
    Donation.Status.SUCCEEDED: DonationChange.Action.PAYMENT,
    Donation.Status.FAILED: DonationChange.Action.FAILURE,
    Donation.Status.EXPIRED: DonationChange.Action.EXPIRY,
    Donation.Status.REFUNDED: DonationChange.Action.REFUND,
}


# The gift's links to other rows: read with it, never changed by what Stripe reports, so
# validating Stripe's facts need not look them up again.
RELATED_FIELDS = ("campaign", "team_member", "entered_by", "voided_by", "monthly_gift")


def stripe_event_claim(event: gateway.WebhookEvent | None) -> StripeEvent | bool | None:
    """Store the event id; False when it was stored before (a repeat), None without an event."""
    if event is None:
        return None
    try:
        with transaction.atomic():
            return StripeEvent.objects.create(event_id=event.event_id, type=event.type)
    except IntegrityError:
        return False


def status_move(donation: Donation, status: str) -> bool:
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


def donation_save_reported(
    donation: Donation,
    before: dict,
    *,
    event: gateway.WebhookEvent | None,
    origin: str,
    note: str = "",
    also: dict[str, list] | None = None,
) -> None:
    """Save only real news, with its history row, so a repeated report leaves the row as it
    was (`updated_at` too). `note` adds why something was flagged rather than applied.
    `also` is news kept beside the gift (a refund's status moved, its amount not): it gets
    the history row even when the gift's own columns did not change."""
    changes = donation_changes(before, donation)
    if not changes and not also:
        return
    # Stripe's facts, not a person's input: field validation only. The unique Stripe ids and
    # the check constraints are the database's to enforce on save (validating them here cost
    # about 30 queries per event); an id that belongs to another gift is caught before.
    if changes:
        donation.full_clean(
            exclude=list(RELATED_FIELDS), validate_unique=False, validate_constraints=False
        )
        donation.save()
    reason = f"Stripe event {event.type}" if event else origin
    refund_news = also and "status" not in changes
    donation_change_recorded(
        donation=donation,
        before=before,
        action=DonationChange.Action.REFUND if refund_news else _action_for(changes),
        stripe_event_id=event.event_id if event else "",
        reason=f"{reason}: {note}" if note else reason,
        also=also,
    )


def stripe_event_link(stored_event: StripeEvent | bool | None, donation: Donation) -> None:
    if isinstance(stored_event, StripeEvent):
        stored_event.donation = donation
        stored_event.save(update_fields=["donation"])


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


def charge_refunds_apply(donation: Donation, charge: gateway.ChargeFacts | None) -> None:
    """A payment recorded already refunded (in part or whole): apply what its charge says."""
    if charge is not None and charge_matches(donation, charge):
        refund_total_apply(donation, charge.amount_refunded, fully_refunded=charge.fully_refunded)


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


def stripe_facts_fill(donation: Donation, charge: gateway.ChargeFacts) -> PaymentNote:
    """Stripe ids and the settlement, filled in whenever they first become known."""
    return _claim_stripe_ids(donation, payment_intent_id=charge.payment_intent_id, charge=charge)


def _fill_settlement(donation: Donation, charge: gateway.ChargeFacts) -> None:
    settlement = charge.settlement
    if settlement is not None and donation.settlement_amount is None:
        donation.settlement_amount = settlement.amount
        donation.settlement_currency = settlement.currency
        rate = settlement.exchange_rate
        donation.settlement_exchange_rate = None if rate is None else rate.quantize(RATE_PLACES)
        donation.stripe_fee = settlement.fee
        donation.net_amount = settlement.net


def refund_total_apply(donation: Donation, refunded: Decimal, *, fully_refunded: bool) -> None:
    """Set the refunded part from the charge's running total (never a sum of deltas).

    In the campaign currency at the gift's stored rate, capped at what the gift counts for. A
    refund of the whole gift ends its counting. Once the gift's refunds are tracked one by one
    (services below), they alone decide: a charge total read from an older event could undo a
    refund that failed since.
    """
    if donation.pk and Refund.objects.filter(donation=donation).exists():
        return
    # The larger total wins, so an older event delivered late cannot shrink a refund.
    donation.amount_refunded = max(refunded, donation.amount_refunded)
    converted = money.quantize(
        donation.amount_refunded * donation.conversion_rate, donation.campaign.currency
    )
    donation.amount_refunded_converted = min(converted, donation.amount_converted)
    if donation.amount_refunded and (fully_refunded or donation.amount_refunded >= donation.amount):
        status_move(donation, Donation.Status.REFUNDED)


# Where a refund's status may go next; failed and canceled are final, and a refund that
# succeeded can still fail (the card was closed, say).
