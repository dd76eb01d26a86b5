"""Online gifts: the rules a gift must meet, and starting Stripe Checkout for it.

`donation_start_checkout` enforces every rule itself (campaign open, currency accepted, team
member of this campaign, amount within the bounds and chargeable by Stripe), whoever calls
it; the donate form asks `gift_check` too, only to show the same errors before anything is
counted. Recording what Stripe then reports lives in `services/payments.py`.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

import money
from campaigns.models import Campaign, TeamMember
from config.i18n import babel_locale
from donations import stripe_gateway as gateway
from donations.models import Donation, DonationChange, MonthlyGift, MonthlyGiftChange
from donations.services.cash import TEAM_MEMBER_RETIRED_ERROR
from donations.services.history import donation_change, monthly_gift_change
from donations.services.monthly import DEMO_PREFIX, monthly_checkout_sync
from donations.services.payments import checkout_session_sync
from donations.services.rates import (
    RateUnavailableError,
    conversion_apply,
    convert_amount,
    no_rate_error,
)

logger = logging.getLogger(__name__)

AMOUNT_REQUIRED = _("Choose or enter an amount.")
AMOUNT_NOT_POSITIVE = _("Enter an amount greater than zero.")
AMOUNT_INVALID = _("Enter the amount as a plain number, like 25 or 25.50.")
AMOUNT_WHOLE_UNITS_ONLY = _("Enter a whole number of %(currency)s, without decimals.")
AMOUNT_TOO_MANY_DECIMALS = _("Enter %(currency)s with at most two decimals.")
AMOUNT_BELOW_MINIMUM = _("The smallest gift online is %(minimum)s.")
AMOUNT_ABOVE_MAXIMUM = _("The largest gift online is %(maximum)s.")
CURRENCY_NOT_ACCEPTED = _("This campaign does not accept %(value)s.")
TEAM_MEMBER_NOT_IN_CAMPAIGN = _("This team member is not part of this campaign.")
CAMPAIGN_CLOSED = _("This campaign has closed and no longer takes gifts. Thank you for caring.")
CHECKOUT_UNAVAILABLE = _("The payment service did not answer. Nothing was charged; try again.")
FREQUENCY_INVALID = _("Choose to give once or every month.")
CHECKOUT_REFUSED = "Stripe refused or did not answer the Checkout Session request"
DEMO_DECLINED = _("Demo payment declined. Nothing was charged; you can try again.")


class Frequency(models.TextChoices):
    """How often a gift is given (the donate form's `frequency`, CONTRACTS.md)."""

    ONCE = "once", _("Once")
    MONTHLY = "monthly", _("Every month")


# Suggested gifts, in USD; other currencies get the same value rounded to a friendly number.
PRESETS_USD = (Decimal(25), Decimal(50), Decimal(100), Decimal(250))


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
    return max(minimum, stripe_minimum), min(maximum, _stripe_maximum(currency, rate))


def _stripe_maximum(currency: str, rate: Decimal) -> Decimal:
    """The largest gift Stripe can charge in `currency` with the fee cover added on top:
    gift + cover = (gift + fixed fee) / (1 - percentage) must stay within Stripe's maximum."""
    fixed = _usd_in(currency, gateway.CARD_FEE_FIXED_USD, rate=rate, rounding=ROUND_HALF_UP)
    step = Decimal(1).scaleb(-gateway.charge_decimals(currency))
    largest = gateway.maximum_charge(currency) - step  # room for the cover's rounding up
    return (largest * (1 - gateway.CARD_FEE_PERCENT) - fixed).quantize(step, rounding=ROUND_FLOOR)


def gift_bounds(*, currency: str, on: datetime.date) -> tuple[Decimal, Decimal]:
    """Smallest and largest gift in `currency`: the USD bounds at the stored rate, and never
    below Stripe's minimum charge. Raises RateUnavailableError."""
    return _bounds_at(currency, _usd_rate(currency, on=on))


def _amount_errors(*, campaign: Campaign, amount: Decimal, currency: str, on: datetime.date):
    """The first rule `amount` breaks, as a ValidationError, or None."""
    if amount <= 0:
        return ValidationError(AMOUNT_NOT_POSITIVE, code="not_positive")
    places = gateway.charge_decimals(currency)
    if not money.has_at_most_decimals(amount, places):
        message = AMOUNT_WHOLE_UNITS_ONLY if places == 0 else AMOUNT_TOO_MANY_DECIMALS
        return ValidationError(message, code="decimals", params={"currency": currency})
    try:
        minimum, maximum = gift_bounds(currency=currency, on=on)
    except RateUnavailableError:
        error = no_rate_error(
            currency=currency, campaign_currency=campaign.currency, on=on, field="amount"
        )
        return error.error_dict["amount"][0]
    locale = babel_locale()
    if amount < minimum:
        shown = money.format_money(minimum, currency, locale)
        return ValidationError(AMOUNT_BELOW_MINIMUM, code="minimum", params={"minimum": shown})
    if amount > maximum:
        shown = money.format_money(maximum, currency, locale)
        return ValidationError(AMOUNT_ABOVE_MAXIMUM, code="maximum", params={"maximum": shown})
    return None


def gift_check(
    *,
    campaign: Campaign,
    amount: Decimal,
    currency: str,
    team_member: TeamMember | None = None,
    today: datetime.date,
) -> None:
    """Raise ValidationError, by field, unless this gift may be started online today.

    The rules: the campaign is open for giving; it accepts `currency`; the team member is
    one of its own, not retired; Stripe can charge `amount` exactly, within the bounds
    (DONATION_MIN_USD, DONATION_MAX_USD and Stripe's minimum charge, at the stored rate).
    """
    if not campaign.is_open_for_giving(today):
        raise ValidationError({NON_FIELD_ERRORS: [ValidationError(CAMPAIGN_CLOSED, "closed")]})
    errors: dict[str, ValidationError] = {}
    if currency not in campaign.donation_currencies:
        errors["currency"] = ValidationError(
            CURRENCY_NOT_ACCEPTED, code="invalid_choice", params={"value": currency}
        )
    elif amount_error := _amount_errors(
        campaign=campaign, amount=amount, currency=currency, on=today
    ):
        errors["amount"] = amount_error
    if team_member is not None and team_member.campaign_id != campaign.pk:
        errors["team_member"] = ValidationError(TEAM_MEMBER_NOT_IN_CAMPAIGN, code="team_member")
    elif team_member is not None and team_member.retired:
        errors["team_member"] = ValidationError(TEAM_MEMBER_RETIRED_ERROR, code="retired")
    if errors:
        raise ValidationError(errors)


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
    frequency: str = Frequency.ONCE,
) -> CheckoutStart:
    """Store a pending gift, then open its Stripe Checkout Session (or the demo checkout).

    Monthly (`frequency`): the same rules, and the gift is the first month of a new monthly
    gift (pending too) that keeps the giver's choices; its Checkout Session is in
    subscription mode. Each later month becomes a gift of its own when Stripe charges it.

    Raises ValidationError (nothing stored, Stripe not called) when `gift_check` refuses the
    gift. The pending gift carries an ECB estimate in the campaign currency (the columns are
    required); the amount that counts is fixed when the payment is recorded. Stripe is called
    after the gift is committed, with an idempotency key derived from its id. If Stripe fails,
    the gift is marked failed and GatewayError propagates: nothing was charged. Each step
    leaves a history row.
    """
    today = timezone.localdate()
    if frequency not in Frequency.values:
        raise ValidationError({"frequency": ValidationError(FREQUENCY_INVALID, "invalid")})
    gift_check(
        campaign=campaign, amount=amount, currency=currency, team_member=team_member, today=today
    )
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
        received_at=timezone.now(),
    )
    conversion_apply(donation=donation, converted=estimate)
    monthly = _monthly_gift_for(donation) if frequency == Frequency.MONTHLY else None
    demo = demo_mode()
    if demo:
        # Like Stripe's own session ids, unguessable: the thank-you page shows the email.
        donation.stripe_checkout_session_id = f"{DEMO_PREFIX}{secrets.token_urlsafe(24)}"
    donation.full_clean(exclude=["monthly_gift"])
    origin = "demo checkout" if demo else ""
    with transaction.atomic():
        if monthly is not None:
            monthly.stripe_checkout_session_id = donation.stripe_checkout_session_id
            monthly.full_clean()
            with monthly_gift_change(monthly, action=MonthlyGiftChange.Action.START, reason=origin):
                pass  # a new monthly gift: the gate inserts it as built
            donation.monthly_gift = monthly
        with donation_change(donation, action=DonationChange.Action.START, reason=origin):
            pass  # a new gift: the gate inserts it as built
    if demo:
        with translation.override(_page_language(donation)):  # the demo checkout in theirs
            url = reverse("donations:demo-checkout", kwargs={"donation_id": donation.id})
        return CheckoutStart(donation=donation, redirect_url=url)
    try:
        session = gateway.create_checkout_session(_checkout_request(donation, campaign))
    except gateway.GatewayError:
        with transaction.atomic():
            with donation_change(
                donation, action=DonationChange.Action.FAILURE, reason=CHECKOUT_REFUSED
            ) as change:
                change.row.status = Donation.Status.FAILED
            if monthly is not None:
                with monthly_gift_change(
                    monthly, action=MonthlyGiftChange.Action.STOP, reason=CHECKOUT_REFUSED
                ) as change:
                    change.row.status = MonthlyGift.Status.EXPIRED
                    change.row.end_reason = MonthlyGift.End.CHECKOUT
                    change.row.ended_at = timezone.now()
        raise
    with transaction.atomic():
        with donation_change(donation, action=DonationChange.Action.START) as change:
            change.row.stripe_checkout_session_id = session.session_id
        donation = change.row
        if monthly is not None:
            with monthly_gift_change(monthly, action=MonthlyGiftChange.Action.START) as change:
                change.row.stripe_checkout_session_id = session.session_id
    return CheckoutStart(donation=donation, redirect_url=session.url)


def _monthly_gift_for(donation: Donation) -> MonthlyGift:
    """The monthly gift a first month starts, with the giver's choices (not saved yet)."""
    return MonthlyGift(
        campaign=donation.campaign,
        team_member=donation.team_member,
        status=MonthlyGift.Status.PENDING,
        giver_name=donation.giver_name,
        email=donation.email,
        anonymous=donation.anonymous,
        hide_amount=donation.hide_amount,
        message=donation.message,
        language=donation.language,
        amount=donation.amount,
        currency=donation.currency,
        fee_cover_amount=donation.fee_cover_amount,
        amount_converted=donation.amount_converted,
    )


def _page_language(donation: Donation) -> str:
    """The language of the pages a giver returns to: the one they gave in."""
    languages = dict(settings.LANGUAGES)
    return donation.language if donation.language in languages else settings.LANGUAGE_CODE


def _checkout_request(donation: Donation, campaign: Campaign) -> gateway.CheckoutRequest:
    # Checkout returns the giver to the thank-you or donate page in the language they gave in.
    with translation.override(_page_language(donation)):
        thanks = reverse("donations:thanks")
        donate = reverse("donations:donate", kwargs={"slug": campaign.slug})
    title = campaign.localized("title", donation.language)
    product = _("Monthly gift to %(title)s") if donation.monthly_gift_id else _("Gift to %(title)s")
    return gateway.CheckoutRequest(
        donation_id=str(donation.id),
        campaign_id=campaign.pk,
        monthly_gift_id=str(donation.monthly_gift_id or ""),
        product_name=str(product % {"title": title}),
        amount=donation.amount,
        currency=donation.currency,
        fee_cover_name=str(_("Processing fees covered by you")),
        fee_cover_amount=donation.fee_cover_amount,
        email=donation.email,
        language=donation.language,
        # Stripe replaces the literal {CHECKOUT_SESSION_ID} with the session's id.
        success_url=f"{settings.SITE_URL}{thanks}?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{settings.SITE_URL}{donate}?resume=1",
        statement_name=campaign.title,
    )


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


# A pending gift's session is read from Stripe at most once in this many seconds, however
# often its thank-you page is loaded: reloads, or a bot holding the link, must not each cost a
# call to Stripe's API (which limits the account's calls). The webhook finishes the gift.
SESSION_REREAD_SECONDS = 10


def _session_read_allowed(session_id: str) -> bool:
    """Whether this request may ask Stripe about the session: the first one in each
    SESSION_REREAD_SECONDS, counted in the shared cache (`add` is atomic, so one request of
    all processes wins). With the cache down every request may, as config/ratelimit.py lets
    giving go on: a page that costs a call to Stripe, rather than a paid gift left unread."""
    try:
        return cache.add(f"session-read:{session_id}", 1, timeout=SESSION_REREAD_SECONDS)
    except Exception:  # any cache failure (refused, timed out): read, as before the limit
        logger.warning("Cache unavailable; reading Stripe session %s unlimited.", session_id)
        return True


def donation_confirm_return(*, session_id: str) -> ReturnFromCheckout:
    """The giver is back from Checkout: ask Stripe about the session and record what it says.

    Races the webhook safely: both sync the session (`checkout_session_sync`, which for a
    monthly gift syncs its first invoice too) through the gate. A gift already
    settled, a demo session, a session read from Stripe less than SESSION_REREAD_SECONDS
    ago, or Stripe not answering: the stored status decides, and a pending gift reads as
    processing, since the webhook will finish it. Raises Donation.DoesNotExist.
    """
    donation = Donation.objects.select_related("campaign").get(
        stripe_checkout_session_id=session_id, source=Donation.Source.ONLINE
    )
    if donation.status in STATUS_OUTCOMES:
        return ReturnFromCheckout(donation, STATUS_OUTCOMES[donation.status])
    if session_id.startswith(DEMO_PREFIX):  # back from the demo page without paying
        return ReturnFromCheckout(donation, gateway.CheckoutOutcome.OPEN)
    if not _session_read_allowed(session_id):
        return ReturnFromCheckout(donation, gateway.CheckoutOutcome.PROCESSING)
    try:
        with gateway.page_request():
            session = gateway.retrieve_checkout_session(session_id)
            recorded = checkout_session_sync(
                session_id=session_id, facts=session, origin="thank-you page"
            )
    except gateway.GatewayError:
        logger.exception("Could not sync Stripe session %s.", session_id)
        return ReturnFromCheckout(donation, gateway.CheckoutOutcome.PROCESSING)
    recorded = recorded or donation
    return ReturnFromCheckout(recorded, STATUS_OUTCOMES.get(recorded.status, session.outcome))


def demo_checkout_complete(*, donation: Donation, paid: bool) -> Donation:
    """Finish a demo gift through the same recording logic as a real one (no money moves).

    A monthly one gets a demo subscription, and its first month is that subscription's
    first invoice, recorded as Stripe's would be."""
    if donation.monthly_gift_id:
        return _demo_monthly_complete(donation, paid) or donation
    session = gateway.CheckoutFacts(
        session_id=donation.stripe_checkout_session_id or "",
        donation_id=str(donation.pk),
        outcome=gateway.CheckoutOutcome.PAID if paid else gateway.CheckoutOutcome.FAILED,
        amount_total=donation.charged_amount,
        currency=donation.currency,
    )
    return (
        checkout_session_sync(session_id=session.session_id, facts=session, origin="demo checkout")
        or donation
    )


def _demo_monthly_complete(donation: Donation, paid: bool) -> Donation | None:
    gift_id = donation.monthly_gift_id.hex
    subscription_id = f"{DEMO_PREFIX}sub_{gift_id}"
    session = gateway.CheckoutFacts(
        session_id=donation.stripe_checkout_session_id or "",
        donation_id=str(donation.pk),
        outcome=gateway.CheckoutOutcome.PAID if paid else gateway.CheckoutOutcome.FAILED,
        amount_total=donation.charged_amount,
        currency=donation.currency,
        mode="subscription",
        subscription_id=subscription_id if paid else None,
    )
    invoice = None
    if paid:
        invoice = gateway.InvoiceFacts(
            invoice_id=f"{DEMO_PREFIX}in_{gift_id}_1",
            subscription_id=subscription_id,
            status="paid",
            billing_reason="subscription_create",
            amount_paid=donation.charged_amount,
            currency=donation.currency,
            paid_at=int(timezone.now().timestamp()),
        )
    return monthly_checkout_sync(session=session, invoice=invoice, origin="demo checkout")
