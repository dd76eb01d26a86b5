"""Online gifts: starting Stripe Checkout and recording what Stripe reports, exactly once.

One recording path for every way news of a payment arrives: the webhook, the thank-you page
(which asks Stripe about its session) and the demo checkout all end in
`donation_record_checkout`, which locks the gift's row and moves its status only forward. The
webhook also stores each event id under a unique constraint in the same transaction, so an
event delivered twice (or twenty times at once) has its effect once.
"""

from __future__ import annotations

import datetime
import logging
import secrets
import uuid
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import money
from campaigns.models import Campaign, TeamMember
from config.i18n import babel_locale
from donations import stripe_gateway as gateway
from donations.models import Donation, StripeEvent
from donations.services.rates import RATE_PLACES, RateUnavailableError, convert_amount
from donations.services.receipts import receipt_queue

logger = logging.getLogger(__name__)

AMOUNT_REQUIRED = _("Choose or enter an amount.")
AMOUNT_NOT_POSITIVE = _("Enter an amount greater than zero.")
AMOUNT_INVALID = _("Enter the amount as a plain number, like 25 or 25.50.")
AMOUNT_WHOLE_UNITS_ONLY = _("Enter a whole number of %(currency)s, without decimals.")
AMOUNT_TOO_MANY_DECIMALS = _("Enter %(currency)s with at most two decimals.")
AMOUNT_BELOW_MINIMUM = _("The smallest gift online is %(minimum)s.")
AMOUNT_ABOVE_MAXIMUM = _("The largest gift online is %(maximum)s.")
CURRENCY_NOT_ACCEPTED = _("This campaign does not accept %(value)s.")
CURRENCY_UNAVAILABLE = _("We cannot take gifts in %(currency)s today. Please choose another.")
CAMPAIGN_CLOSED = _("This campaign has closed and no longer takes gifts. Thank you for caring.")
CHECKOUT_UNAVAILABLE = _("The payment service did not answer. Nothing was charged; try again.")
DEMO_DECLINED = _("Demo payment declined. Nothing was charged; you can try again.")
DEMO_SESSION_PREFIX = "demo_"

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


def demo_mode() -> bool:
    """Without a Stripe secret key no money moves: Checkout is our own demo page."""
    return not settings.STRIPE_SECRET_KEY


def _usd_rate(currency: str, *, on: datetime.date) -> Decimal:
    """Units of `currency` per USD at the stored rates (read once per use). Raises
    RateUnavailableError."""
    return convert_amount(amount=Decimal(1), currency="USD", to_currency=currency, on=on).rate


def _usd_in(currency: str, usd: Decimal, *, rate: Decimal, rounding: str) -> Decimal:
    """`usd` dollars in `currency`, rounded to what Stripe can charge in the given direction."""
    step = Decimal(1).scaleb(-gateway.charge_decimals(currency))
    return (usd * rate).quantize(step, rounding=rounding)


def _bounds_at(currency: str, rate: Decimal) -> tuple[Decimal, Decimal]:
    minimum = _usd_in(currency, settings.DONATION_MIN_USD, rate=rate, rounding=ROUND_CEILING)
    stripe_minimum = gateway.minimum_charge(currency) or _usd_in(
        currency, gateway.MINIMUM_CHARGE_FALLBACK_USD, rate=rate, rounding=ROUND_CEILING
    )
    maximum = _usd_in(currency, settings.DONATION_MAX_USD, rate=rate, rounding=ROUND_FLOOR)
    return max(minimum, stripe_minimum), maximum


def gift_bounds(*, currency: str, on: datetime.date) -> tuple[Decimal, Decimal]:
    """Smallest and largest gift in `currency`: the USD bounds at the stored rate, and never
    below Stripe's minimum charge. Raises RateUnavailableError."""
    return _bounds_at(currency, _usd_rate(currency, on=on))


def gift_amount_validate(*, amount: Decimal, currency: str, on: datetime.date) -> None:
    """Raise ValidationError (one of the module's messages) unless Stripe can charge it."""
    if amount <= 0:
        raise ValidationError(AMOUNT_NOT_POSITIVE, code="not_positive")
    places = gateway.charge_decimals(currency)
    if not money.has_at_most_decimals(amount, places):
        message = AMOUNT_WHOLE_UNITS_ONLY if places == 0 else AMOUNT_TOO_MANY_DECIMALS
        raise ValidationError(message, code="decimals", params={"currency": currency})
    try:
        minimum, maximum = gift_bounds(currency=currency, on=on)
    except RateUnavailableError as error:
        raise ValidationError(
            CURRENCY_UNAVAILABLE, code="no_rate", params={"currency": currency}
        ) from error
    locale = babel_locale()
    if amount < minimum:
        shown = money.format_money(minimum, currency, locale)
        raise ValidationError(AMOUNT_BELOW_MINIMUM, code="minimum", params={"minimum": shown})
    if amount > maximum:
        shown = money.format_money(maximum, currency, locale)
        raise ValidationError(AMOUNT_ABOVE_MAXIMUM, code="maximum", params={"maximum": shown})


# Suggested gifts, in USD; other currencies get the same value rounded to a friendly number.
PRESETS_USD = (Decimal(25), Decimal(50), Decimal(100), Decimal(250))


def gift_presets(*, currency: str, on: datetime.date) -> list[Decimal]:
    """Suggested amounts in `currency` (two significant digits), or none without a rate."""
    try:
        rate = _usd_rate(currency, on=on)
    except RateUnavailableError:
        return []
    minimum, maximum = _bounds_at(currency, rate)
    presets = []
    for usd in PRESETS_USD:
        value = usd * rate
        friendly = value.quantize(Decimal(1).scaleb(value.adjusted() - 1), rounding=ROUND_HALF_UP)
        if minimum <= friendly <= maximum and friendly not in presets:
            presets.append(friendly.quantize(Decimal(1)) if friendly >= 1 else friendly)
    return presets


def fee_cover_estimate(*, amount: Decimal, currency: str, on: datetime.date) -> Decimal:
    """What to add so that, after Stripe's standard card fee, the campaign receives `amount`."""
    rate = _usd_rate(currency, on=on)
    fixed = _usd_in(currency, gateway.CARD_FEE_FIXED_USD, rate=rate, rounding=ROUND_HALF_UP)
    gross = (amount + fixed) / (1 - gateway.CARD_FEE_PERCENT)
    step = Decimal(1).scaleb(-gateway.charge_decimals(currency))
    return (gross - amount).quantize(step, rounding=ROUND_CEILING)


@dataclass(frozen=True)
class CheckoutStart:
    donation: Donation
    redirect_url: str


def donation_start_checkout(
    *,
    campaign: Campaign,
    team_member: TeamMember | None,
    amount: Decimal,
    currency: str,
    giver_name: str,
    email: str,
    anonymous: bool,
    hide_amount: bool,
    message: str,
    cover_fees: bool,
    language: str,
) -> CheckoutStart:
    """Store a pending gift, then open its Stripe Checkout Session (or the demo checkout).

    The pending gift carries an ECB estimate in the campaign currency (the columns are
    required); the amount that counts is fixed when the payment is recorded. Stripe is called
    after the gift is committed, with an idempotency key derived from its id. If Stripe fails,
    the gift is marked failed and GatewayError propagates: nothing was charged.
    """
    today = timezone.localdate()
    estimate = convert_amount(
        amount=amount, currency=currency, to_currency=campaign.currency, on=today
    )
    fee_cover = Decimal(0)
    if cover_fees:
        fee_cover = fee_cover_estimate(amount=amount, currency=currency, on=today)
    donation = Donation(
        campaign=campaign,
        team_member=team_member,
        source=Donation.Source.ONLINE,
        status=Donation.Status.PENDING,
        giver_name=giver_name,
        email=email,
        anonymous=anonymous,
        hide_amount=hide_amount,
        message=message,
        language=language,
        amount=amount,
        currency=currency,
        fee_cover_amount=fee_cover,
        amount_converted=estimate.amount,
        conversion_rate=estimate.rate,
        rate_date=estimate.rate_date,
        rate_source=estimate.rate_source,
        received_at=timezone.now(),
    )
    demo = demo_mode()
    if demo:
        # Like Stripe's own session ids, unguessable: the thank-you page shows the email.
        donation.stripe_checkout_session_id = f"{DEMO_SESSION_PREFIX}{secrets.token_urlsafe(24)}"
    donation.full_clean()
    donation.save()
    if demo:
        url = reverse("donations:demo-checkout", kwargs={"donation_id": donation.id})
        return CheckoutStart(donation=donation, redirect_url=url)
    try:
        session = gateway.create_checkout_session(_checkout_request(donation, campaign))
    except gateway.GatewayError:
        donation.status = Donation.Status.FAILED
        donation.save(update_fields=["status", "updated_at"])
        raise
    donation.stripe_checkout_session_id = session.session_id
    donation.save(update_fields=["stripe_checkout_session_id", "updated_at"])
    return CheckoutStart(donation=donation, redirect_url=session.url)


def _checkout_request(donation: Donation, campaign: Campaign) -> gateway.CheckoutRequest:
    thanks = reverse("donations:thanks")
    donate = reverse("donations:donate", kwargs={"slug": campaign.slug})
    return gateway.CheckoutRequest(
        donation_id=str(donation.id),
        campaign_id=campaign.pk,
        product_name=str(_("Gift to %(title)s") % {"title": campaign.title}),
        amount=donation.amount,
        currency=donation.currency,
        fee_cover_name=str(_("Processing fees covered by you")),
        fee_cover_amount=donation.fee_cover_amount,
        email=donation.email,
        language=donation.language,
        # Stripe replaces the literal {CHECKOUT_SESSION_ID} with the session's id.
        success_url=f"{settings.SITE_URL}{thanks}?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{settings.SITE_URL}{donate}",
    )


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


def donation_record_checkout(
    *, session: gateway.CheckoutFacts, event: gateway.WebhookEvent | None = None
) -> Donation | None:
    """Record what a Checkout Session says, at most once per event and only moving forward.

    Paid: the gift succeeds with its Stripe ids, the amount charged, the settlement when known
    and the amount that counts in the campaign currency; its receipt is queued in the same
    transaction. A repeated event, a late report (expired after paid) or a second reporter
    (thank-you page and webhook together) changes nothing. Returns None for a repeated event
    or a session we do not know.
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
        before = _field_values(donation)
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
        _save_if_changed(donation, before)
        _link_event(stored_event, donation)
    return donation


def _field_values(donation: Donation) -> dict:
    return {field.attname: getattr(donation, field.attname) for field in Donation._meta.fields}


def _save_if_changed(donation: Donation, before: dict) -> None:
    """Save only real news, so a repeated report leaves the row as it was (`updated_at` too)."""
    if _field_values(donation) != before:
        donation.full_clean()
        donation.save()


def _link_event(stored_event: StripeEvent | bool | None, donation: Donation) -> None:
    if isinstance(stored_event, StripeEvent):
        stored_event.donation = donation
        stored_event.save(update_fields=["donation"])


def _record_payment(donation: Donation, session: gateway.CheckoutFacts) -> None:
    """Fill a newly succeeded gift: what was charged, Stripe's ids, the amount that counts."""
    donation.received_at = timezone.now()
    donation.currency_charged = session.currency or donation.currency
    donation.amount_charged = (
        session.amount_total
        if session.amount_total is not None
        else donation.amount + donation.fee_cover_amount
    )
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
    charged = donation.amount_charged or donation.amount + donation.fee_cover_amount
    today = timezone.localdate()
    if donation.currency_charged == campaign_currency:
        gift = charged - donation.fee_cover_amount
        donation.amount_converted = money.quantize(gift, campaign_currency)
        donation.conversion_rate = Decimal(1)
        donation.rate_date = today
        donation.rate_source = Donation.RateSource.SAME_CURRENCY
    elif (
        donation.settlement_amount is not None and donation.settlement_currency == campaign_currency
    ):
        rate = donation.settlement_amount / charged
        donation.amount_converted = money.quantize(donation.amount * rate, campaign_currency)
        donation.conversion_rate = rate.quantize(RATE_PLACES)
        donation.rate_date = today
        donation.rate_source = Donation.RateSource.STRIPE
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
        donation.amount_converted = converted.amount
        donation.conversion_rate = converted.rate
        donation.rate_date = converted.rate_date
        donation.rate_source = converted.rate_source


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
    *, charge: gateway.ChargeFacts, event: gateway.WebhookEvent | None = None
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
        before = _field_values(donation)
        _fill_stripe_facts(donation, charge)
        _apply_refund(donation, charge.amount_refunded, fully_refunded=charge.fully_refunded)
        _save_if_changed(donation, before)
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
        if event.type == "charge.dispute.created":
            new_status = Donation.DisputeStatus.OPEN
        elif dispute.status == "lost":
            new_status = Donation.DisputeStatus.LOST
        else:  # won, or an inquiry closed without becoming a chargeback
            new_status = Donation.DisputeStatus.WON
        if new_status in DISPUTE_FORWARD.get(donation.dispute_status, set()):
            donation.dispute_status = new_status
        donation.full_clean()
        donation.save()
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
HANDLED_EVENTS = SESSION_EVENTS | CHARGE_EVENTS | DISPUTE_EVENTS


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


@dataclass(frozen=True)
class ReturnFromCheckout:
    donation: Donation
    outcome: gateway.CheckoutOutcome


STATUS_OUTCOMES = {
    Donation.Status.SUCCEEDED: gateway.CheckoutOutcome.PAID,
    Donation.Status.REFUNDED: gateway.CheckoutOutcome.PAID,
    Donation.Status.FAILED: gateway.CheckoutOutcome.FAILED,
    Donation.Status.EXPIRED: gateway.CheckoutOutcome.EXPIRED,
}


def donation_confirm_return(*, session_id: str) -> ReturnFromCheckout:
    """The giver is back from Checkout: ask Stripe about the session and record what it says.

    Races the webhook safely (both record through `donation_record_checkout`). A gift already
    settled, a demo session, or Stripe not answering: the stored status decides, and a pending
    gift reads as processing, since the webhook will finish it. Raises Donation.DoesNotExist.
    """
    donation = Donation.objects.select_related("campaign").get(
        stripe_checkout_session_id=session_id, source=Donation.Source.ONLINE
    )
    if donation.status in STATUS_OUTCOMES:
        return ReturnFromCheckout(donation, STATUS_OUTCOMES[donation.status])
    if session_id.startswith(DEMO_SESSION_PREFIX):  # back from the demo page without paying
        return ReturnFromCheckout(donation, gateway.CheckoutOutcome.OPEN)
    try:
        session = gateway.retrieve_checkout_session(session_id)
    except gateway.GatewayError:
        logger.exception("Could not retrieve Stripe session %s.", session_id)
        return ReturnFromCheckout(donation, gateway.CheckoutOutcome.PROCESSING)
    recorded = donation_record_checkout(session=session) or donation
    outcome = STATUS_OUTCOMES.get(recorded.status, session.outcome)
    return ReturnFromCheckout(recorded, outcome)


def demo_checkout_complete(*, donation: Donation, paid: bool) -> Donation:
    """Finish a demo gift through the same recording logic as a real one (no money moves)."""
    session = gateway.CheckoutFacts(
        session_id=donation.stripe_checkout_session_id or "",
        donation_id=str(donation.pk),
        outcome=gateway.CheckoutOutcome.PAID if paid else gateway.CheckoutOutcome.FAILED,
        amount_total=donation.amount + donation.fee_cover_amount,
        currency=donation.currency,
    )
    return donation_record_checkout(session=session) or donation
